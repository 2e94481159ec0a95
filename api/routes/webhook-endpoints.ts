import { Router } from 'express';
import { forkEm } from '../../db/orm';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  resendWebhookDelivery,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  webhookDeliveryOf,
  webhookEndpointOf,
} from '../../services/webhook-endpoints';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { CreateWebhookEndpointBody, ListWebhookDeliveriesQuery, ListWebhookEndpointsQuery, UpdateWebhookEndpointBody } from '../schemas/webhooks';
import { listJson, webhookDeliveryJson, webhookEndpointJson, webhookEndpointWithSecretJson } from '../serializers';
import { parse } from '../validation';

/**
 * Where events are sent (admin keys only: an endpoint receives every customer's data), and what was
 * sent to each. The secret is in the answers of the creation and of each rotation, never again.
 */
export function webhookEndpointsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  router.use(allow('admin'));

  router.post('/', async (req, res) => {
    const body = parse(CreateWebhookEndpointBody, req.body);
    const created = await atomicPhase<ReturnType<typeof webhookEndpointWithSecretJson>>(req, 'webhook_endpoint_created', (record) =>
      createWebhookEndpoint(em(), body, (tx, endpoint) => record(tx, webhookEndpointWithSecretJson(endpoint))),
    );
    res.status(201).json(created);
  });

  router.get('/', async (req, res) => {
    const query = parse(ListWebhookEndpointsQuery, req.query);
    res.json(listJson(listUrl(req), await listWebhookEndpoints(em(), pageOf(query)), webhookEndpointJson));
  });

  router.get('/:id', async (req, res) => {
    res.json(webhookEndpointJson(await webhookEndpointOf(em(), String(req.params.id))));
  });

  /** Stripe-style update: the fields sent change, the others stay. */
  router.post('/:id', async (req, res) => {
    const body = parse(UpdateWebhookEndpointBody, req.body);
    res.json(webhookEndpointJson(await updateWebhookEndpoint(em(), String(req.params.id), body)));
  });

  router.delete('/:id', async (req, res) => {
    res.json(webhookEndpointJson(await deleteWebhookEndpoint(em(), String(req.params.id))));
  });

  router.post('/:id/rotate_secret', async (req, res) => {
    const rotated = await atomicPhase<ReturnType<typeof webhookEndpointWithSecretJson>>(req, 'webhook_secret_rotated', (record) =>
      rotateWebhookSecret(em(), String(req.params.id), (tx, endpoint) => record(tx, webhookEndpointWithSecretJson(endpoint))),
    );
    res.json(rotated);
  });

  /** Newest first, each with its attempts. */
  router.get('/:id/deliveries', async (req, res) => {
    const query = parse(ListWebhookDeliveriesQuery, req.query);
    res.json(listJson(listUrl(req), await listWebhookDeliveries(em(), String(req.params.id), { status: query.status }, pageOf(query)), webhookDeliveryJson));
  });

  return router;
}

export function webhookDeliveriesRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  router.use(allow('admin'));

  router.get('/:id', async (req, res) => {
    res.json(webhookDeliveryJson(await webhookDeliveryOf(em(), String(req.params.id))));
  });

  /** A failed delivery sent again by hand: a new run of the whole schedule, started by the worker's relay. */
  router.post('/:id/resend', async (req, res) => {
    const resent = await atomicPhase<ReturnType<typeof webhookDeliveryJson>>(req, 'webhook_delivery_resent', (record) =>
      resendWebhookDelivery(em(), String(req.params.id), (tx, delivery) => record(tx, webhookDeliveryJson(delivery))),
    );
    res.json(resent);
  });

  return router;
}
