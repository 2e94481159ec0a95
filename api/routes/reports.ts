import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { arAgingReport } from '../../services/reports/ar-aging';
import { churnReport, mrrReport } from '../../services/reports/mrr';
import type { ApiDeps } from '../deps';
import { ArAgingReportQuery, ChurnReportQuery, MrrReportQuery } from '../schemas';
import { arAgingReportJson, churnReportJson, mrrReportJson } from '../serializers';
import { parse } from '../validation';

/** The reports read from invoices: MRR and its movements, churn, and the ageing of open receivables. Every key may read them. */
export function reportsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.get('/mrr', async (req, res) => {
    const query = parse(MrrReportQuery, req.query);
    const range = { currency: query.currency ?? null, from: query.from, to: query.to };
    res.json(mrrReportJson(range, await mrrReport(em(), range)));
  });

  router.get('/churn', async (req, res) => {
    const query = parse(ChurnReportQuery, req.query);
    const range = { currency: query.currency ?? null, from: query.from, to: query.to };
    res.json(churnReportJson(range, await churnReport(em(), range)));
  });

  router.get('/ar_aging', async (req, res) => {
    const query = parse(ArAgingReportQuery, req.query);
    const request = { currency: query.currency ?? null, asOf: query.as_of ?? new Date() };
    res.json(arAgingReportJson(request, await arAgingReport(em(), request)));
  });

  return router;
}
