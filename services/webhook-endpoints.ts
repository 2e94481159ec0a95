import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  createEndpoint,
  deleteEndpoint,
  resendDelivery,
  rotateSecret,
  updateEndpoint,
  type DeliveryWithAttempts,
  type EndpointChanges,
  type WebhookEndpointRow,
} from '../db/webhook-store';
import { WEBHOOK_SECRET_PREFIX } from '../domain/webhook-signatures';

/**
 * The business actions on webhook endpoints; the API's routes and any other caller go through these.
 * Reads are the store's (db/webhook-store.ts).
 */

/** `whsec_` and 32 random bytes in base64, the form the Standard Webhooks libraries take as is. */
export const newWebhookSecret = (): string => `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;

export async function createWebhookEndpoint(
  em: EntityManager,
  input: { url: string; events: string[]; description?: string },
  stored: (tx: EntityManager, endpoint: WebhookEndpointRow) => Promise<void>,
): Promise<void> {
  await createEndpoint(em, { url: input.url, events: input.events, description: input.description || null, secret: newWebhookSecret() }, stored);
}

export const updateWebhookEndpoint = (em: EntityManager, id: string, changes: EndpointChanges): Promise<WebhookEndpointRow> => updateEndpoint(em, id, changes);

export const deleteWebhookEndpoint = (em: EntityManager, id: string): Promise<WebhookEndpointRow> => deleteEndpoint(em, id);

export async function rotateWebhookSecret(em: EntityManager, id: string, stored: (tx: EntityManager, endpoint: WebhookEndpointRow) => Promise<void>): Promise<void> {
  await rotateSecret(em, id, newWebhookSecret(), stored);
}

export const resendWebhookDelivery = (em: EntityManager, id: string, stored: (tx: EntityManager, delivery: DeliveryWithAttempts) => Promise<void>): Promise<void> => resendDelivery(em, id, stored);

export { endpointOf as webhookEndpointOf, listEndpoints as listWebhookEndpoints, listDeliveries as listWebhookDeliveries, deliveryOf as webhookDeliveryOf } from '../db/webhook-store';
