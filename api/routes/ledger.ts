import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { balances, listLedgerAccounts, listLedgerTransactions, mapLedgerAccount } from '../../services/ledger';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { UpdateLedgerAccountBody } from '../schemas/accounting';
import { ListLedgerTransactionsQuery } from '../schemas/ledger';
import { ledgerAccountJson, ledgerBalanceJson, ledgerTransactionJson, listJson } from '../serializers';
import { parse } from '../validation';

export function ledgerRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /** Every account's balance per currency: one row each, so the whole list on one page. */
  router.get('/balances', async (req, res) => {
    res.json(listJson(listUrl(req), { data: await balances(em()), hasMore: false }, ledgerBalanceJson));
  });

  /** Posted transactions with their entries, newest first. */
  router.get('/transactions', async (req, res) => {
    const query = parse(ListLedgerTransactionsQuery, req.query);
    const page = await listLedgerTransactions(em(), { invoiceId: query.invoice_id, customerId: query.customer_id }, pageOf(query));
    res.json(listJson(listUrl(req), page, ({ transaction, entries }) => ledgerTransactionJson(transaction, entries)));
  });

  /** The chart of accounts with each account's GL mapping: a dozen rows, so the whole list on one page. */
  router.get('/accounts', async (req, res) => {
    res.json(listJson(listUrl(req), { data: await listLedgerAccounts(em()), hasMore: false }, ledgerAccountJson));
  });

  router.patch('/accounts/:code', allow('admin'), async (req, res) => {
    const body = parse(UpdateLedgerAccountBody, req.body);
    res.json(ledgerAccountJson(await mapLedgerAccount(em(), String(req.params.code), { glCode: body.gl_code, name: body.name })));
  });

  return router;
}
