import Decimal from 'decimal.js';
import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { changeWallet, creditsOrNull, endWallet, invoicePurchase, openWallet, topUp, transactionsOfWallet, viewWallet, walletsOfCustomer } from '../../services/wallets';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { EmptyBody } from '../schemas/fields';
import { CreateWalletBody, ListWalletsQuery, ListWalletTransactionsQuery, TopUpWalletBody, UpdateWalletBody } from '../schemas/wallets';
import { listJson, walletJson, walletTransactionJson } from '../serializers';
import { parse } from '../validation';

/** Prepaid credit wallets (Lago's wallets): bought and granted credits that invoices spend before the card. */
export function walletsRouter(deps: ApiDeps): Router {
  const em = forkEm(deps.orm);
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parse(CreateWalletBody, req.body);
    const stored = await atomicPhase<{ walletId: string; purchaseId: string | null }>(req, 'wallet_created', (record) =>
      openWallet(
        em(),
        {
          customerId: body.customer_id,
          currency: body.currency,
          rate: new Decimal(body.rate),
          paidCredits: new Decimal(body.paid_credits),
          grantedCredits: new Decimal(body.granted_credits),
          expiresAt: body.expires_at ?? null,
          name: body.name ?? null,
          topUpThreshold: creditsOrNull(body.top_up_threshold) ?? null,
          topUpPaidCredits: creditsOrNull(body.top_up_paid_credits) ?? null,
          topUpGrantedCredits: creditsOrNull(body.top_up_granted_credits) ?? null,
        },
        (tx, outcome) => record(tx, outcome),
      ),
    );
    await invoicePurchase(em(), deps.temporal, deps.taskQueue, stored.purchaseId);
    res.status(201).json(walletJson(await viewWallet(em(), stored.walletId)));
  });

  router.get('/', async (req, res) => {
    const query = parse(ListWalletsQuery, req.query);
    res.json(listJson(listUrl(req), await walletsOfCustomer(em(), query.customer_id, pageOf(query)), walletJson));
  });

  router.get('/:id', async (req, res) => {
    res.json(walletJson(await viewWallet(em(), String(req.params.id))));
  });

  router.post('/:id', async (req, res) => {
    const body = parse(UpdateWalletBody, req.body);
    const view = await changeWallet(em(), String(req.params.id), {
      name: body.name,
      expiresAt: body.expires_at,
      topUpThreshold: creditsOrNull(body.top_up_threshold),
      topUpPaidCredits: creditsOrNull(body.top_up_paid_credits),
      topUpGrantedCredits: creditsOrNull(body.top_up_granted_credits),
    });
    res.json(walletJson(view));
  });

  router.post('/:id/top_ups', async (req, res) => {
    const body = parse(TopUpWalletBody, req.body);
    const stored = await atomicPhase<{ walletId: string; purchaseId: string | null }>(req, 'wallet_topped_up', (record) =>
      topUp(em(), String(req.params.id), { paidCredits: new Decimal(body.paid_credits), grantedCredits: new Decimal(body.granted_credits) }, (tx, outcome) => record(tx, outcome)),
    );
    await invoicePurchase(em(), deps.temporal, deps.taskQueue, stored.purchaseId);
    res.status(201).json(walletJson(await viewWallet(em(), stored.walletId)));
  });

  router.get('/:id/transactions', async (req, res) => {
    const query = parse(ListWalletTransactionsQuery, req.query);
    const { currency, page } = await transactionsOfWallet(em(), String(req.params.id), pageOf(query));
    res.json(listJson(listUrl(req), page, (t) => walletTransactionJson(t, currency)));
  });

  router.post('/:id/terminate', async (req, res) => {
    parse(EmptyBody, req.body);
    res.json(walletJson(await endWallet(em(), String(req.params.id))));
  });

  return router;
}
