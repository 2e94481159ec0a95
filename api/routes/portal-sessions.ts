import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { openPortalSession, portalSigningSecret } from '../../services/portal';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { CreatePortalSessionBody } from '../schemas/customers';
import { portalSessionJson } from '../serializers';
import { parse } from '../validation';

/** Customer portal links: support makes one and gives it to the customer, who needs no API key. */
export function portalSessionsRouter({ orm, publicUrl }: ApiDeps): Router {
  const em = forkEm(orm);
  const secret = portalSigningSecret(em);
  const router = Router();

  router.post('/:id/portal_sessions', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreatePortalSessionBody, req.body);
    // Without PUBLIC_URL (tests, a bare createApp) the link names the address this request came to.
    const base = publicUrl ?? `${req.protocol}://${req.get('host')}`;
    const { session, url } = await openPortalSession(em(), await secret(), { customerId: String(req.params.id), returnUrl: body.return_url, publicUrl: base });
    res.status(201).json(portalSessionJson(session, url));
  });

  return router;
}
