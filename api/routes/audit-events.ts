import { Router } from 'express';
import { listAuditEvents } from '../../db/audit-log';
import { forkEm } from '../../db/orm';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { ListAuditEventsQuery } from '../schemas/audit';
import { auditEventJson, listJson } from '../serializers';
import { parse } from '../validation';

/** The audit log, newest first: admins only, since it shows every change with its before and after. */
export function auditEventsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  router.get('/', allow('admin'), async (req, res) => {
    const query = parse(ListAuditEventsQuery, req.query);
    const page = await listAuditEvents(em(), { resourceId: query.resource_id, actor: query.actor, from: query.from, to: query.to }, pageOf(query));
    res.json(listJson(listUrl(req), page, auditEventJson));
  });
  return router;
}
