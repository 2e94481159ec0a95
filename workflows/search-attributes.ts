import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * What an operator filters on in the Temporal UI, e.g. `SubscriptionStatus="active"`. Registered when
 * the dev server starts (scripts/temporal-dev-server.ts) and upserted by the workflow at every change.
 */
export const CustomerIdKey = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
export const SubscriptionStatusKey = defineSearchAttributeKey('SubscriptionStatus', SearchAttributeType.KEYWORD);
export const PlanCodeKey = defineSearchAttributeKey('PlanCode', SearchAttributeType.KEYWORD);
export const NextBillingAtKey = defineSearchAttributeKey('NextBillingAt', SearchAttributeType.DATETIME);

export const SEARCH_ATTRIBUTES = [CustomerIdKey, SubscriptionStatusKey, PlanCodeKey, NextBillingAtKey];
