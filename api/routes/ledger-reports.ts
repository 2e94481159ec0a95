import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { deferredRevenueReport } from '../../services/reports/deferred-revenue';
import { reconciliationReport } from '../../services/reports/reconciliation';
import type { ApiDeps } from '../deps';
import { DeferredRevenueReportQuery, ReconciliationReportQuery } from '../schemas';
import { deferredRevenueReportJson, reconciliationReportJson } from '../serializers';
import { parse } from '../validation';

/** The reports read from the ledger: the deferred revenue waterfall and the reconciliation of records with postings. */
export function ledgerReportsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.get('/deferred_revenue', async (req, res) => {
    const query = parse(DeferredRevenueReportQuery, req.query);
    res.json(deferredRevenueReportJson(query, await deferredRevenueReport(em(), query)));
  });

  router.get('/reconciliation', async (req, res) => {
    const query = parse(ReconciliationReportQuery, req.query);
    const [from, until] = [query.from, query.to].map((day) => new Date(`${day}T00:00:00Z`));
    res.json(reconciliationReportJson(query, await reconciliationReport(em(), { currency: query.currency, from, until })));
  });

  return router;
}
