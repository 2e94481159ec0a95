import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { eventOf, listEvents } from '../../services/events';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { ListEventsQuery } from '../schemas/events';
import { eventJson, listJson } from '../serializers';
import { parse } from '../validation';

/** What happened (the outbox), read-only: the same events webhooks deliver. Any key may read them. */
export function eventsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /** Newest first. */
  router.get('/', async (req, res) => {
    const query = parse(ListEventsQuery, req.query);
    const filter = { type: query.type, objectId: query.object_id, customerId: query.customer, createdGte: query['created[gte]'], createdLt: query['created[lt]'] };
    res.json(listJson(listUrl(req), await listEvents(em(), filter, pageOf(query)), eventJson));
  });

  router.get('/:id', async (req, res) => {
    res.json(eventJson(await eventOf(em(), String(req.params.id))));
  });

  return router;
}
