import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { apiKeysPage, createApiKey, revokeKey } from '../../services/api-keys';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { CreateApiKeyBody, ListApiKeysQuery } from '../schemas/api-keys';
import type { Role } from '../../config/env';
import { apiKeyJson, listJson } from '../serializers';
import { parse } from '../validation';
import { atomicPhase } from '../idempotency';

/** API keys made, listed and revoked by admins; the secret of a key is in its creation's answer only. */
export function apiKeysRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  router.use(allow('admin'));

  router.post('/', async (req, res) => {
    const body = parse(CreateApiKeyBody, req.body);
    // The secret is kept nowhere, not even with the Idempotency-Key: a retry that finds the key
    // made by an attempt whose answer was lost gets the key without it (revoke it, make another).
    let secret: string | undefined;
    const key = await atomicPhase<ReturnType<typeof apiKeyJson>>(req, 'api_key_created', (record) =>
      em().transactional(async (tx) => {
        const made = await createApiKey(tx, { name: body.name, role: body.role as Role });
        secret = made.secret;
        await record(tx, apiKeyJson(made.key));
      }),
    );
    res.status(201).json({ ...key, ...(secret === undefined ? {} : { secret }) });
  });

  router.get('/', async (req, res) => {
    const query = parse(ListApiKeysQuery, req.query);
    res.json(listJson(listUrl(req), await apiKeysPage(em(), pageOf(query)), apiKeyJson));
  });

  router.delete('/:id', async (req, res) => {
    res.json(apiKeyJson(await revokeKey(em(), String(req.params.id))));
  });

  return router;
}
