import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { createMetric, listMetrics, metricOf } from '../../services/catalog';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { CreateMetricBody, ListMetricsQuery } from '../schemas/metrics';
import { listJson, metricJson } from '../serializers';
import { parse } from '../validation';

/** Billable metrics: what usage events measure. Immutable once created, so invoices stay explainable. */
export function metricsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreateMetricBody, req.body);
    res.status(201).json(metricJson(await createMetric(em(), body)));
  });

  router.get('/', async (req, res) => {
    const query = parse(ListMetricsQuery, req.query);
    res.json(listJson(listUrl(req), await listMetrics(em(), pageOf(query)), metricJson));
  });

  router.get('/:code', async (req, res) => {
    res.json(metricJson(await metricOf(em(), String(req.params.code))));
  });

  return router;
}
