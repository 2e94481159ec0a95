import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { Router } from 'express';
import { z } from 'zod';
import { Plan } from '../../db/entities/plan';
import { BillableMetric, PlanCharge } from '../../db/entities/usage';
import { newId } from '../../db/ids';
import { forkEm } from '../../db/orm';
import { chargePrice, type ChargeProperties } from '../../domain/charge-properties';
import { decimalString } from '../../domain/money';
import { planMigrationsRouter } from './plan-migrations';
import { BillingError } from '../../domain/errors';
import { INTERVALS } from '../../domain/period';
import { assertValidPrice, CHARGE_MODELS } from '../../domain/pricing';
import { allow } from '../auth';
import { atomicPhase, type RecordPhase } from '../idempotency';
import type { ApiDeps } from '../deps';
import { planJson } from '../serializers';
import { amountField, assertFitsCurrency, assertStorableAmount, currencyField, parse } from '../validation';

/** A price may have more decimals than its currency (0.0015 USD per call); lines are rounded once. */
const priceField = z
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "0.0015", not a number') })
  .regex(/^\d{1,24}(\.\d{1,12})?$/, 'must be a non-negative decimal string with at most 12 decimals, such as "0.0015"');

/** Quantities of units (tier bounds, package sizes, free units) are not money: a whole number or a decimal string. */
const unitsField = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).transform(String), z.string().regex(/^\d{1,24}(\.\d{1,12})?$/, 'must be a non-negative number of units')]);

const tiers = z
  .array(z.object({ up_to: unitsField.nullable(), unit_amount: priceField, flat_amount: priceField.optional() }).strict())
  .min(1)
  .max(100)
  .transform((ts) => ts.map((t) => ({ up_to: t.up_to, unit_amount: t.unit_amount, flat_amount: t.flat_amount ?? '0' })));

const PROPERTIES = {
  standard: z.object({ unit_amount: priceField }).strict(),
  graduated: z.object({ tiers }).strict(),
  volume: z.object({ tiers }).strict(),
  package: z
    .object({ package_size: unitsField, amount: priceField, free_units: unitsField.optional() })
    .strict()
    .transform((p) => ({ package_size: p.package_size, amount: p.amount, free_units: p.free_units ?? '0' })),
  percentage: z
    .object({ rate: priceField, fixed_amount: priceField.optional(), free_units: unitsField.optional() })
    .strict()
    .transform((p) => ({ rate: p.rate, fixed_amount: p.fixed_amount ?? '0', free_units: p.free_units ?? '0' })),
} as const;

const ChargeInput = z.object({ metric_code: z.string().min(1), model: z.enum(CHARGE_MODELS), properties: z.record(z.string(), z.unknown()) }).strict();

export const CreatePlan = z
  .object({
    code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "-" or "."'),
    name: z.string().trim().min(1).max(200),
    currency: currencyField,
    interval: z.enum(INTERVALS),
    interval_count: z.number().int().min(1).max(1000).optional(),
    trial_days: z.number().int().min(0).max(3650).optional(),
    amount: amountField,
    minimum_amount: amountField.optional(),
    charges: z.array(ChargeInput).max(50).optional(),
  })
  .strict();

export async function chargesOf(em: EntityManager, planId: string) {
  const charges = await em.find(PlanCharge, { planId }, { orderBy: { position: 'asc' } });
  const metrics = new Map((await em.find(BillableMetric, { id: charges.map((c) => c.metricId) })).map((m) => [m.id, m]));
  return charges.map((c) => ({ charge: c, metric: metrics.get(c.metricId)! }));
}

/** The newest version of a plan code, which new subscriptions get. */
export async function latestPlan(em: EntityManager, code: string): Promise<Plan | null> {
  return em.findOne(Plan, { code }, { orderBy: { version: 'desc' } });
}

type PlanFields = Omit<z.infer<typeof CreatePlan>, 'code'>;

/** Validates a version's prices and builds its rows (not stored). */
async function buildVersion(em: EntityManager, code: string, version: number, body: PlanFields) {
  assertFitsCurrency(body.amount, body.currency, 'amount');
  assertStorableAmount(body.amount, 'amount');
  if (body.minimum_amount !== undefined) {
    assertFitsCurrency(body.minimum_amount, body.currency, 'minimum_amount');
    assertStorableAmount(body.minimum_amount, 'minimum_amount');
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
    const properties = parse(PROPERTIES[input.model], input.properties, `${param}.properties`) as ChargeProperties;
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
  });
  return { plan, charges };
}

type PlanJson = ReturnType<typeof planJson>;

/** Stores a version with, in the same transaction, the request's record of it (the version as the API shows it). */
async function storeVersion(em: EntityManager, built: Awaited<ReturnType<typeof buildVersion>>, conflict: string, record: RecordPhase<PlanJson>): Promise<void> {
  try {
    await em.transactional(async (tx) => {
      tx.persist(built.plan);
      await tx.flush();
      tx.persist(built.charges.map((c) => c.charge));
      await tx.flush();
      await record(tx, planJson(built.plan, built.charges));
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw new BillingError('conflict_error', 'resource_already_exists', conflict, 'code');
    throw error;
  }
}

/** A new version may change anything but the currency; what it leaves out is kept from the newest version. */
export const CreateVersion = CreatePlan.omit({ code: true, currency: true }).partial();

export function plansRouter(deps: ApiDeps): Router {
  const em = forkEm(deps.orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreatePlan, req.body);
    // The check is part of the phase: a retry after the plan was stored skips it and gets the plan.
    const created = await atomicPhase<PlanJson>(req, 'plan_created', async (record) => {
      if (await latestPlan(em(), body.code)) {
        throw new BillingError('conflict_error', 'resource_already_exists', `A plan with code "${body.code}" already exists; change its price with POST /v1/plans/${body.code}/versions`, 'code');
      }
      const built = await buildVersion(em(), body.code, 1, body);
      await storeVersion(em(), built, `A plan with code "${body.code}" already exists`, record);
    });
    res.status(201).json(created);
  });

  router.post('/:code/versions', allow('admin'), async (req, res) => {
    const body = parse(CreateVersion, req.body);
    const latest = await latestPlan(em(), String(req.params.code));
    if (!latest) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${req.params.code}'`, 'code');
    const kept = await chargesOf(em(), latest.id);
    const fields: PlanFields = {
      name: body.name ?? latest.name,
      currency: latest.currency,
      interval: body.interval ?? latest.interval,
      interval_count: body.interval_count ?? latest.intervalCount,
      trial_days: body.trial_days ?? latest.trialDays,
      amount: body.amount ?? decimalString(latest.amount),
      minimum_amount: body.minimum_amount ?? (latest.minimumAmount ? decimalString(latest.minimumAmount) : undefined),
      charges: body.charges ?? kept.map(({ charge, metric }) => ({ metric_code: metric.code, model: charge.model, properties: charge.properties })),
    };
    const built = await buildVersion(em(), latest.code, latest.version + 1, fields);
    const created = await atomicPhase<PlanJson>(req, 'plan_version_created', (record) =>
      storeVersion(em(), built, `Version ${latest.version + 1} of plan ${latest.code} was created concurrently; retry`, record),
    );
    res.status(201).json(created);
  });

  router.get('/:code', async (req, res) => {
    const plan = await latestPlan(em(), String(req.params.code));
    if (!plan) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${req.params.code}'`, 'code');
    res.json(planJson(plan, await chargesOf(em(), plan.id)));
  });

  router.get('/:code/versions', async (req, res) => {
    const versions = await em().find(Plan, { code: String(req.params.code) }, { orderBy: { version: 'asc' } });
    if (versions.length === 0) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${req.params.code}'`, 'code');
    res.json({ object: 'list', data: await Promise.all(versions.map(async (p) => planJson(p, await chargesOf(em(), p.id)))) });
  });

  router.use(planMigrationsRouter(deps));
  return router;
}
