import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { addOnOf, createAddOn, listAddOns } from '../../services/add-ons';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { CreateAddOnBody, ListAddOnsQuery } from '../schemas/add-ons';
import { addOnJson, listJson } from '../serializers';
import { parse } from '../validation';

type AddOnJson = ReturnType<typeof addOnJson>;

export function addOnsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreateAddOnBody, req.body);
    // The check is part of the phase: a retry after the add-on was stored skips it and gets the add-on.
    const created = await atomicPhase<AddOnJson>(req, 'add_on_created', (record) => createAddOn(em(), body, (tx, addOn) => record(tx, addOnJson(addOn))));
    res.status(201).json(created);
  });

  /** Newest first. */
  router.get('/', async (req, res) => {
    const query = parse(ListAddOnsQuery, req.query);
    res.json(listJson(listUrl(req), await listAddOns(em(), pageOf(query)), addOnJson));
  });

  router.get('/:code', async (req, res) => {
    res.json(addOnJson(await addOnOf(em(), String(req.params.code))));
  });

  return router;
}
