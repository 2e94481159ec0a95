import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { listEmails } from '../../services/emails';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { ListEmailsQuery } from '../schemas/emails';
import { emailJson, listJson } from '../serializers';
import { parse } from '../validation';

/** The e-mail outbox, read-only: what was queued for customers and whether it went out. */
export function emailsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /** Newest first. */
  router.get('/', async (req, res) => {
    const query = parse(ListEmailsQuery, req.query);
    res.json(listJson(listUrl(req), await listEmails(em(), { customerId: query.customer_id, status: query.status }, pageOf(query)), emailJson));
  });

  return router;
}
