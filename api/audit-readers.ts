import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { apiKeyOf } from '../db/api-keys';
import { addOnOf } from '../services/add-ons';
import { metricOf } from '../services/catalog';
import { customerOf, couponOf, taxRateOf } from '../services/lookups';
import { invoiceWithLines } from '../services/invoices';
import { currentPlan } from '../services/plans';
import { getSubscription } from '../services/subscriptions';
import { viewWallet } from '../services/wallets';
import { webhookDeliveryOf, webhookEndpointOf } from '../services/webhook-endpoints';
import { addOnJson, apiKeyJson, couponJson, customerJson, invoiceJson, metricJson, planJson, subscriptionJson, taxRateJson, walletJson, webhookDeliveryJson, webhookEndpointJson } from './serializers';

/** Reads a resource as the API answers it, by the collection of its path and its id (or code). */
export type ResourceReader = (em: EntityManager, key: string) => Promise<unknown>;

/**
 * How the audit log reads a resource before a change: exactly as its GET answers it, so an event's
 * `before` and `after` compare field by field. A collection without a reader records no `before`.
 */
export function resourceReaders(temporal: Client): Record<string, ResourceReader> {
  return {
    customers: async (em, id) => customerJson(await customerOf(em, id)),
    subscriptions: async (em, id) => {
      const v = await getSubscription(em, temporal, id);
      return subscriptionJson(v.subscription, v.plan, v.live, v.addOns);
    },
    invoices: async (em, id) => {
      const i = await invoiceWithLines(em, id);
      return invoiceJson(i.invoice, i.lines);
    },
    plans: async (em, code) => {
      const p = await currentPlan(em, code);
      return planJson(p.plan, p.charges);
    },
    coupons: async (em, code) => couponJson(await couponOf(em, code)),
    tax_rates: async (em, code) => taxRateJson(await taxRateOf(em, code)),
    add_ons: async (em, code) => addOnJson(await addOnOf(em, code)),
    metrics: async (em, code) => metricJson(await metricOf(em, code)),
    wallets: async (em, id) => walletJson(await viewWallet(em, id)),
    api_keys: async (em, id) => apiKeyJson(await apiKeyOf(em, id)),
    webhook_endpoints: async (em, id) => webhookEndpointJson(await webhookEndpointOf(em, id)),
    webhook_deliveries: async (em, id) => webhookDeliveryJson(await webhookDeliveryOf(em, id)),
  };
}
