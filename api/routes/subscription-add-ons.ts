import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { addOnHistory, attachToSubscription, removeFromSubscription, type AddOnChange } from '../../services/subscription-add-ons';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { AttachAddOnBody, ListSubscriptionAddOnsQuery, RemoveAddOnQuery } from '../schemas/add-ons';
import { invoiceJson, listJson, subscriptionAddOnJson } from '../serializers';
import { parse } from '../validation';

/** The add-on as the change left it, with the invoice it billed or credited at once (null: none). */
const changeJson = (c: AddOnChange) => ({ ...subscriptionAddOnJson(c), invoice: c.invoice ? invoiceJson(c.invoice.invoice, c.invoice.lines) : null });

/** Add-ons attached to a subscription: attached (billed or prorated now, or with the next invoice), listed, removed (credited). */
export function subscriptionAddOnsRouter({ orm, temporal, taskQueue }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  const support = allow('admin', 'support');

  router.post('/:id/add_ons', support, async (req, res) => {
    const body = parse(AttachAddOnBody, req.body);
    const change = await attachToSubscription(
      { em: em(), temporal, taskQueue },
      String(req.params.id),
      { addOnCode: body.add_on_code, quantity: body.quantity ?? '1', bill: body.bill, at: body.at },
      (point, effect) => atomicPhase(req, point, effect),
    );
    res.status(201).json(changeJson(change));
  });

  /** Every add-on attached, removed and billed ones included, oldest first. */
  router.get('/:id/add_ons', async (req, res) => {
    const query = parse(ListSubscriptionAddOnsQuery, req.query);
    res.json(listJson(listUrl(req), await addOnHistory(em(), String(req.params.id), pageOf(query)), subscriptionAddOnJson));
  });

  router.delete('/:id/add_ons/:item_id', support, async (req, res) => {
    const query = parse(RemoveAddOnQuery, req.query);
    const change = await removeFromSubscription({ em: em(), temporal, taskQueue }, String(req.params.id), String(req.params.item_id), { at: query.at }, (point, effect) => atomicPhase(req, point, effect));
    res.json(changeJson(change));
  });

  return router;
}
