import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { Plan } from '../db/entities/plan';
import { BillableMetric, PlanCharge } from '../db/entities/usage';
import { newId } from '../db/ids';
import { findPage, type PageRequest } from '../db/pagination';
import { latestPlan, withCharges, type PlanWithCharges } from '../db/plan-store';
import { chargePrice, tiersOf, type ChargeProperties } from '../domain/charge-properties';
import { BillingError } from '../domain/errors';
import { decimalString } from '../domain/money';
import type { Interval } from '../domain/period';
import { assertValidPrice, assertValidTiers, type ChargeModel } from '../domain/pricing';
import type { FeeTiersProperties } from '../domain/seat-pricing';
import { assertFitsCurrency, assertStorableAmount } from './amounts';
import { planOf } from './lookups';

export interface ChargeInput {
  metric_code: string;
  model: ChargeModel;
  properties: Record<string, unknown>;
}

export interface PlanFields {
  name: string;
  currency: string;
  interval: Interval;
  interval_count?: number;
  trial_days?: number;
  amount: string;
  minimum_amount?: string;
  /** The fee per seat in tiers, priced on the subscription's quantity; null or absent: amount per seat. */
  fee_tiers?: FeeTiersProperties | null;
  setup_fee?: string | null;
  charges?: ChargeInput[];
}

/** Reads a charge's properties for its model (the request's schema); `param` names where they are. */
export type PropertiesParser = (model: ChargeModel, properties: unknown, param: string) => ChargeProperties;

/** Validates a version's prices and builds its rows (not stored). */
async function buildVersion(em: EntityManager, code: string, version: number, body: PlanFields, parseProperties: PropertiesParser): Promise<PlanWithCharges> {
  assertFitsCurrency(body.amount, body.currency, 'amount');
  assertStorableAmount(body.amount, 'amount');
  if (body.minimum_amount !== undefined) {
    assertFitsCurrency(body.minimum_amount, body.currency, 'minimum_amount');
    assertStorableAmount(body.minimum_amount, 'minimum_amount');
  }
  if (body.fee_tiers) assertValidTiers(tiersOf(body.fee_tiers.tiers), 'fee_tiers.tiers');
  if (body.setup_fee !== undefined && body.setup_fee !== null) {
    assertFitsCurrency(body.setup_fee, body.currency, 'setup_fee');
    assertStorableAmount(body.setup_fee, 'setup_fee');
    if (new Decimal(body.setup_fee).isZero()) throw new BillingError('invalid_request_error', 'parameter_invalid', 'setup_fee must be more than 0 (leave it out for none)', 'setup_fee');
  }
  const planId = newId('plan');
  const inputs = body.charges ?? [];
  const metrics = new Map((await em.find(BillableMetric, { code: inputs.map((c) => c.metric_code) })).map((m) => [m.code, m]));
  const charges = inputs.map((input, position) => {
    const param = `charges.${position}`;
    const metric = metrics.get(input.metric_code);
    if (!metric) throw new BillingError('invalid_request_error', 'resource_missing', `No such billable metric: '${input.metric_code}'`, `${param}.metric_code`);
    if (inputs.findIndex((c) => c.metric_code === input.metric_code) !== position) {
      throw new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${param}.metric_code: metric ${input.metric_code} is already charged by this plan`, `${param}.metric_code`);
    }
    if (input.model === 'percentage' && metric.aggregation !== 'sum') {
      throw new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${param}.model: percentage applies to a summed amount, but metric ${metric.code} aggregates by ${metric.aggregation}`, `${param}.model`);
    }
    const properties = parseProperties(input.model, input.properties, `${param}.properties`);
    assertValidPrice(chargePrice(input.model, properties), `${param}.properties`);
    return { charge: Object.assign(new PlanCharge(), { id: newId('chg'), planId, metricId: metric.id, position, model: input.model, properties }), metric };
  });
  const plan = Object.assign(new Plan(), {
    id: planId,
    code,
    version,
    name: body.name,
    currency: body.currency,
    interval: body.interval,
    intervalCount: body.interval_count ?? 1,
    trialDays: body.trial_days ?? 0,
    amount: new Decimal(body.amount),
    minimumAmount: body.minimum_amount === undefined ? null : new Decimal(body.minimum_amount),
    feeTiers: body.fee_tiers ?? null,
    setupFee: body.setup_fee === undefined || body.setup_fee === null ? null : new Decimal(body.setup_fee),
  });
  return { plan, charges };
}

/** Stores a version; `stored` runs inside its transaction (the request's record of it). */
async function storeVersion(em: EntityManager, built: PlanWithCharges, conflict: string, stored: (tx: EntityManager, plan: PlanWithCharges) => Promise<void>): Promise<void> {
  try {
    await em.transactional(async (tx) => {
      tx.persist(built.plan);
      await tx.flush();
      tx.persist(built.charges.map((c) => c.charge));
      await tx.flush();
      await stored(tx, built);
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw new BillingError('conflict_error', 'resource_already_exists', conflict, 'code');
    throw error;
  }
}

/** Version 1 of a new plan code. */
export async function createPlan(em: EntityManager, code: string, fields: PlanFields, parseProperties: PropertiesParser, stored: (tx: EntityManager, plan: PlanWithCharges) => Promise<void>): Promise<void> {
  if (await latestPlan(em, code)) {
    throw new BillingError('conflict_error', 'resource_already_exists', `A plan with code "${code}" already exists; change its price with POST /v1/plans/${code}/versions`, 'code');
  }
  const built = await buildVersion(em, code, 1, fields, parseProperties);
  await storeVersion(em, built, `A plan with code "${code}" already exists`, stored);
}

/**
 * Validates version n + 1 of a plan: the fields given, the rest kept from the newest version. The
 * returned `store` stores it (a retried request that stored it already skips that step).
 */
export async function prepareVersion(em: EntityManager, code: string, changes: Partial<Omit<PlanFields, 'currency'>>, parseProperties: PropertiesParser) {
  const latest = await planOf(em, code);
  const [kept] = await withCharges(em, [latest]);
  const fields: PlanFields = {
    name: changes.name ?? latest.name,
    currency: latest.currency,
    interval: changes.interval ?? latest.interval,
    interval_count: changes.interval_count ?? latest.intervalCount,
    trial_days: changes.trial_days ?? latest.trialDays,
    amount: changes.amount ?? decimalString(latest.amount),
    minimum_amount: changes.minimum_amount ?? (latest.minimumAmount ? decimalString(latest.minimumAmount) : undefined),
    fee_tiers: changes.fee_tiers !== undefined ? changes.fee_tiers : (latest.feeTiers ?? null),
    setup_fee: changes.setup_fee === undefined ? (latest.setupFee ? decimalString(latest.setupFee) : null) : changes.setup_fee,
    charges: changes.charges ?? kept.charges.map(({ charge, metric }) => ({ metric_code: metric.code, model: charge.model, properties: charge.properties })),
  };
  const built = await buildVersion(em, latest.code, latest.version + 1, fields, parseProperties);
  return {
    store: (stored: (tx: EntityManager, plan: PlanWithCharges) => Promise<void>) =>
      storeVersion(em, built, `Version ${latest.version + 1} of plan ${latest.code} was created concurrently; retry`, stored),
  };
}

/** The newest version of a plan, with its charges. */
export async function currentPlan(em: EntityManager, code: string): Promise<PlanWithCharges> {
  const [plan] = await withCharges(em, [await planOf(em, code)]);
  return plan;
}

/** Every version of every plan (each version is a plan of its own), newest first. */
export async function listPlans(em: EntityManager, filter: { code?: string }, page: PageRequest) {
  const found = await findPage(em, Plan, filter.code ? { code: filter.code } : {}, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'plan' }, page);
  return { ...found, data: await withCharges(em, found.data) };
}

/** One plan's versions, oldest first. */
export async function listPlanVersions(em: EntityManager, code: string, page: PageRequest) {
  await planOf(em, code);
  const found = await findPage(em, Plan, { code }, { keys: ['version'], direction: 'asc', noun: 'plan version' }, page);
  return { ...found, data: await withCharges(em, found.data) };
}
