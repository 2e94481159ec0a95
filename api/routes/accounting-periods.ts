import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { closeAccountingPeriod, listAccountingPeriods } from '../../services/accounting-periods';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl } from '../lists';
import { accountingPeriodJson, listJson } from '../serializers';

/** Accounting periods are UTC months; closing one is for admins and cannot be undone. */
export function accountingPeriodsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /** The closed months, oldest first, then the current month: one page, a row per month closed. */
  router.get('/', async (req, res) => {
    res.json(listJson(listUrl(req), { data: await listAccountingPeriods(em()), hasMore: false }, accountingPeriodJson));
  });

  router.post('/:period/close', allow('admin'), async (req, res) => {
    const principal = req.principal!;
    res.json(accountingPeriodJson(await closeAccountingPeriod(em(), String(req.params.period), { role: principal.role, keyId: principal.keyId })));
  });

  return router;
}
