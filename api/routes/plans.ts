import { UniqueConstraintViolationException } from '@mikro-orm/core';
import Decimal from 'decimal.js';
import { Router } from 'express';
import { z } from 'zod';
import { Plan } from '../../db/entities/plan';
import { newId } from '../../db/ids';
import { BillingError } from '../../domain/errors';
import { INTERVALS } from '../../domain/period';
import { allow } from '../auth';
import { forkEm } from '../../db/orm';
import type { ApiDeps } from '../deps';
import { planJson } from '../serializers';
import { amountField, assertFitsCurrency, assertStorableAmount, currencyField, parse } from '../validation';

const CreatePlan = z
  .object({
    code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "-" or "."'),
    name: z.string().trim().min(1).max(200),
    currency: currencyField,
    interval: z.enum(INTERVALS),
    interval_count: z.number().int().min(1).max(1000).optional(),
    trial_days: z.number().int().min(0).max(3650).optional(),
    amount: amountField,
  })
  .strict();

export function plansRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreatePlan, req.body);
    assertFitsCurrency(body.amount, body.currency, 'amount');
    assertStorableAmount(body.amount, 'amount');
    const plan = Object.assign(new Plan(), {
      id: newId('plan'),
      code: body.code,
      name: body.name,
      currency: body.currency,
      interval: body.interval,
      intervalCount: body.interval_count ?? 1,
      trialDays: body.trial_days ?? 0,
      amount: new Decimal(body.amount),
    });
    try {
      await em().persistAndFlush(plan);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new BillingError('conflict_error', 'resource_already_exists', `A plan with code "${body.code}" already exists`, 'code');
      }
      throw error;
    }
    res.status(201).json(planJson(plan));
  });

  router.get('/:code', async (req, res) => {
    const plan = await em().findOne(Plan, { code: req.params.code });
    if (!plan) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${req.params.code}'`, 'code');
    res.json(planJson(plan));
  });

  return router;
}
