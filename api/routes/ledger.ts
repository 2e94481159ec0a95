import { Router } from 'express';
import { ledgerBalances } from '../../db/ledger-store';
import { ACCOUNTS } from '../../domain/ledger';
import { formatAmount } from '../../domain/money';
import { forkEm } from '../../db/orm';
import type { ApiDeps } from '../deps';

/** Assets carry debit balances; liabilities and revenue carry credit balances. */
const DEBIT_NORMAL = new Set(ACCOUNTS.filter((a) => a.type === 'asset').map((a) => a.code as string));

export function ledgerRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.get('/balances', async (_req, res) => {
    const balances = await ledgerBalances(em());
    res.json({
      object: 'list',
      data: balances.map((b) => ({
        account: b.account,
        currency: b.currency,
        debits: formatAmount(b.debits, b.currency),
        credits: formatAmount(b.credits, b.currency),
        balance: formatAmount(DEBIT_NORMAL.has(b.account) ? b.debits.minus(b.credits) : b.credits.minus(b.debits), b.currency),
        normal_balance: DEBIT_NORMAL.has(b.account) ? 'debit' : 'credit',
      })),
      has_more: false,
    });
  });

  return router;
}
