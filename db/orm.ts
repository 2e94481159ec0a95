import { MikroORM, type EntityManager, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { Migration20261122000000_initial } from '../migrations/Migration20261122000000_initial';
import { Migration20261122100000_usage } from '../migrations/Migration20261122100000_usage';
import { Migration20261122200000_lifecycle } from '../migrations/Migration20261122200000_lifecycle';
import { Migration20261122300000_collection } from '../migrations/Migration20261122300000_collection';
import { Migration20261130000000_one_charge_per_invoice } from '../migrations/Migration20261130000000_one_charge_per_invoice';
import { Migration20261130100000_usage_conflicts } from '../migrations/Migration20261130100000_usage_conflicts';
import { Migration20261130200000_idempotency_recovery } from '../migrations/Migration20261130200000_idempotency_recovery';
import { Migration20261130300000_least_privilege } from '../migrations/Migration20261130300000_least_privilege';
import { Migration20261201000000_revenue_recognition } from '../migrations/Migration20261201000000_revenue_recognition';
import { Migration20261201100000_accounting_periods } from '../migrations/Migration20261201100000_accounting_periods';
import { Migration20261201200000_payment_terms } from '../migrations/Migration20261201200000_payment_terms';
import { Migration20261202000000_quantities_overrides } from '../migrations/Migration20261202000000_quantities_overrides';
import { Migration20261202100000_add_ons_one_off_invoices } from '../migrations/Migration20261202100000_add_ons_one_off_invoices';
import { AddOnSchema, SubscriptionAddOnSchema } from './entities/add-on';
import { Migration20261202200000_wallets } from '../migrations/Migration20261202200000_wallets';
import { Migration20261202300000_invoice_drafts_void } from '../migrations/Migration20261202300000_invoice_drafts_void';
import { Migration20261203000000_signing_secrets } from '../migrations/Migration20261203000000_signing_secrets';
import { Migration20261203100000_portal_sessions } from '../migrations/Migration20261203100000_portal_sessions';
import { Migration20261204000000_events_webhooks } from '../migrations/Migration20261204000000_events_webhooks';
import { Migration20261204100000_api_keys_audit } from '../migrations/Migration20261204100000_api_keys_audit';
import { Migration20261205000000_usage_partitions } from '../migrations/Migration20261205000000_usage_partitions';
import { CustomerSchema } from './entities/customer';
import { EmailMessageSchema } from './entities/email';
import { InvoiceLineSchema, InvoiceSchema } from './entities/invoice';
import { LedgerEntrySchema, LedgerTransactionSchema } from './entities/ledger';
import { PaymentSchema } from './entities/payment';
import { PlanSchema } from './entities/plan';
import { RevenueObligationSchema, RevenueRecognitionPeriodSchema } from './entities/revenue';
import { CreditNoteSchema, RefundSchema } from './entities/refund';
import { SubscriptionSchema } from './entities/subscription';
import { AppliedCouponSchema, CouponSchema, CustomerBalanceTransactionSchema, CustomerTaxRateSchema, TaxRateSchema } from './entities/adjustments';
import { BillableMetricSchema, PlanChargeSchema } from './entities/usage';
import { WalletSchema, WalletTransactionSchema } from './entities/wallet';

export const ENTITIES = [
  CustomerSchema,
  PlanSchema,
  SubscriptionSchema,
  InvoiceSchema,
  InvoiceLineSchema,
  PaymentSchema,
  LedgerTransactionSchema,
  LedgerEntrySchema,
  BillableMetricSchema,
  PlanChargeSchema,
  CouponSchema,
  AppliedCouponSchema,
  TaxRateSchema,
  CustomerTaxRateSchema,
  CustomerBalanceTransactionSchema,
  EmailMessageSchema,
  RefundSchema, CreditNoteSchema,
  RevenueObligationSchema,
  RevenueRecognitionPeriodSchema,
  WalletSchema,
  WalletTransactionSchema,
  AddOnSchema,
  SubscriptionAddOnSchema,
];

// Listed rather than globbed, so the same list works from TypeScript sources and compiled JavaScript.
const MIGRATIONS = [
  { name: 'Migration20261122000000_initial', class: Migration20261122000000_initial },
  { name: 'Migration20261122100000_usage', class: Migration20261122100000_usage },
  { name: 'Migration20261122200000_lifecycle', class: Migration20261122200000_lifecycle },
  { name: 'Migration20261122300000_collection', class: Migration20261122300000_collection },
  { name: 'Migration20261130000000_one_charge_per_invoice', class: Migration20261130000000_one_charge_per_invoice },
  { name: 'Migration20261130100000_usage_conflicts', class: Migration20261130100000_usage_conflicts },
  { name: 'Migration20261130200000_idempotency_recovery', class: Migration20261130200000_idempotency_recovery },
  { name: 'Migration20261130300000_least_privilege', class: Migration20261130300000_least_privilege },
  { name: 'Migration20261201000000_revenue_recognition', class: Migration20261201000000_revenue_recognition },
  { name: 'Migration20261201100000_accounting_periods', class: Migration20261201100000_accounting_periods },
  { name: 'Migration20261201200000_payment_terms', class: Migration20261201200000_payment_terms },
  { name: 'Migration20261202000000_quantities_overrides', class: Migration20261202000000_quantities_overrides },
  { name: 'Migration20261202100000_add_ons_one_off_invoices', class: Migration20261202100000_add_ons_one_off_invoices },
  { name: 'Migration20261202200000_wallets', class: Migration20261202200000_wallets },
  { name: 'Migration20261202300000_invoice_drafts_void', class: Migration20261202300000_invoice_drafts_void },
  { name: 'Migration20261203000000_signing_secrets', class: Migration20261203000000_signing_secrets },
  { name: 'Migration20261203100000_portal_sessions', class: Migration20261203100000_portal_sessions },
  { name: 'Migration20261204000000_events_webhooks', class: Migration20261204000000_events_webhooks },
  { name: 'Migration20261204100000_api_keys_audit', class: Migration20261204100000_api_keys_audit },
  { name: 'Migration20261205000000_usage_partitions', class: Migration20261205000000_usage_partitions },
];

export function ormOptions(databaseUrl: string): Options {
  return {
    clientUrl: databaseUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    pool: { min: 0, max: 10 },
    // Entities are plain EntitySchema definitions with explicit types; nothing to reflect on.
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
  };
}

export type Orm = MikroORM;

/** A fresh identity map per use: requests and activity attempts never share entity state. */
export const forkEm = (orm: Orm) => (): EntityManager => orm.em.fork() as EntityManager;

export async function openOrm(databaseUrl: string): Promise<Orm> {
  return MikroORM.init(ormOptions(databaseUrl));
}

/** Brings the schema up to date; the only way the schema changes. */
export async function migrate(orm: Orm): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
