import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Router } from 'express';
import { z } from 'zod';
import { BillableMetric } from '../../db/entities/usage';
import { newId } from '../../db/ids';
import { forkEm } from '../../db/orm';
import { BillingError } from '../../domain/errors';
import { AGGREGATIONS, assertValidMetric } from '../../domain/usage';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { metricJson } from '../serializers';
import { parse } from '../validation';

export const codeField = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "-" or "."');

export const CreateMetric = z
  .object({
    code: codeField,
    name: z.string().trim().min(1).max(200),
    aggregation: z.enum(AGGREGATIONS),
    field: z.string().min(1).max(100).optional(),
  })
  .strict();

/** Billable metrics: what usage events measure. Immutable once created, so invoices stay explainable. */
export function metricsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreateMetric, req.body);
    assertValidMetric(body.aggregation, body.field);
    const metric = Object.assign(new BillableMetric(), { id: newId('bm'), code: body.code, name: body.name, aggregation: body.aggregation, field: body.field ?? null });
    try {
      await em().persistAndFlush(metric);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new BillingError('conflict_error', 'resource_already_exists', `A billable metric with code "${body.code}" already exists`, 'code');
      }
      throw error;
    }
    res.status(201).json(metricJson(metric));
  });

  router.get('/:code', async (req, res) => {
    const metric = await em().findOne(BillableMetric, { code: req.params.code });
    if (!metric) throw new BillingError('not_found_error', 'resource_missing', `No such billable metric: '${req.params.code}'`, 'code');
    res.json(metricJson(metric));
  });

  return router;
}
