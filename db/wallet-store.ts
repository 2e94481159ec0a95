import { LockMode, QueryOrder } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { walletApplied, walletCreditExpired, walletRestored } from '../domain/ledger';
import { decimalString, fitsCurrency } from '../domain/money';
import { creditsOf, creditsValue, crossedThreshold, drawFromWallets, type WalletTopUpTrigger, type WalletTransactionKind } from '../domain/wallet';
import { Customer } from './entities/customer';
import type { Invoice } from './entities/invoice';
import { Wallet, WalletTransaction } from './entities/wallet';
import { newId } from './ids';
import { postTransaction } from './ledger-store';
import { findPage, type Page, type PageRequest } from './pagination';

/**
 * Prepaid credit wallets (domain/wallet.ts). Every change of a balance happens with the wallet row
 * locked and is recorded as a wallet transaction; the balances are checked non-negative by Postgres
 * as well. Paid credits wait as a pending purchase until the invoice that sells them is paid
 * (db/wallet-purchases.ts issues it); granted credits are there at once.
 */

export interface TopUpCredits {
  paidCredits: Decimal;
  grantedCredits: Decimal;
}

export interface WalletSettings {
  name?: string | null;
  expiresAt?: Date | null;
  topUpThreshold?: Decimal | null;
  topUpPaidCredits?: Decimal | null;
  topUpGrantedCredits?: Decimal | null;
}

export interface NewWallet extends TopUpCredits, WalletSettings {
  customerId: string;
  currency: string;
  rate: Decimal;
  at: Date;
}

const zero = () => new Decimal(0);

function record(
  tx: EntityManager,
  wallet: Wallet,
  kind: WalletTransactionKind,
  parts: { paid: Decimal; granted: Decimal; credits?: Decimal },
  extra: Partial<Pick<WalletTransaction, 'status' | 'trigger' | 'invoiceId' | 'triggeredByInvoiceId' | 'idempotencyKey' | 'settledAt'>> & { at: Date },
): WalletTransaction {
  const amount = parts.paid.plus(parts.granted);
  const status = extra.status ?? 'settled';
  return tx.create(WalletTransaction, {
    id: newId('wtx'),
    walletId: wallet.id,
    kind,
    status,
    trigger: extra.trigger ?? null,
    credits: parts.credits ?? creditsOf(amount, wallet.rate),
    amount,
    paidAmount: parts.paid,
    grantedAmount: parts.granted,
    invoiceId: extra.invoiceId ?? null,
    triggeredByInvoiceId: extra.triggeredByInvoiceId ?? null,
    idempotencyKey: extra.idempotencyKey ?? null,
    effectiveAt: extra.at,
    settledAt: status === 'settled' ? (extra.settledAt ?? extra.at) : null,
    createdAt: new Date(),
  });
}

function checkCredits(credits: Decimal, wallet: Pick<Wallet, 'rate' | 'currency'>, param: string): void {
  if (credits.isNegative()) throw new BillingError('invalid_request_error', 'credits_invalid', `${param} must not be negative`, param);
  if (credits.decimalPlaces() > 6) throw new BillingError('invalid_request_error', 'credits_invalid', `${param} has more than 6 decimals`, param);
  // Bought credits are sold on an invoice line; what they cost must be an amount the currency can ask.
  if (param.includes('paid') && !fitsCurrency(credits.times(wallet.rate), wallet.currency)) {
    throw new BillingError(
      'invalid_request_error',
      'credits_invalid',
      `${decimalString(credits)} credits at ${decimalString(wallet.rate)} ${wallet.currency} each is not a whole amount of ${wallet.currency}`,
      param,
    );
  }
}

/**
 * Adds credits to a locked wallet: granted ones at once, paid ones as a pending purchase that counts
 * once its invoice is paid. Returns the purchase, if any, for its invoice to be issued.
 */
function addCredits(tx: EntityManager, wallet: Wallet, credits: TopUpCredits, context: { at: Date; trigger: WalletTopUpTrigger; triggeredByInvoiceId?: string; key?: string }): WalletTransaction | null {
  if (credits.grantedCredits.gt(0)) {
    const granted = creditsValue(credits.grantedCredits, wallet.rate, wallet.currency);
    wallet.grantedBalance = wallet.grantedBalance.plus(granted);
    record(tx, wallet, 'granted', { paid: zero(), granted, credits: credits.grantedCredits }, {
      at: context.at,
      trigger: context.trigger,
      triggeredByInvoiceId: context.triggeredByInvoiceId,
      idempotencyKey: context.key ? `${context.key}:granted` : null,
    });
  }
  if (!credits.paidCredits.gt(0)) return null;
  return record(tx, wallet, 'purchased', { paid: creditsValue(credits.paidCredits, wallet.rate, wallet.currency), granted: zero(), credits: credits.paidCredits }, {
    at: context.at,
    status: 'pending',
    trigger: context.trigger,
    triggeredByInvoiceId: context.triggeredByInvoiceId,
    idempotencyKey: context.key ? `${context.key}:purchased` : null,
  });
}

function validateSettings(settings: WalletSettings, wallet: Pick<Wallet, 'rate' | 'currency' | 'createdAt'>): void {
  for (const [value, param] of [
    [settings.topUpThreshold, 'top_up_threshold'],
    [settings.topUpPaidCredits, 'top_up_paid_credits'],
    [settings.topUpGrantedCredits, 'top_up_granted_credits'],
  ] as const) {
    if (value) checkCredits(value, wallet, param);
  }
}

/** Creates a wallet with its first credits. */
export async function createWallet(
  em: EntityManager,
  input: NewWallet,
  inTransaction?: (tx: EntityManager, outcome: { wallet: Wallet; purchase: WalletTransaction | null }) => Promise<void>,
): Promise<{ wallet: Wallet; purchase: WalletTransaction | null }> {
  return em.fork().transactional(async (tx) => {
    const customer = await tx.findOne(Customer, { id: input.customerId });
    if (!customer) throw new BillingError('invalid_request_error', 'resource_missing', `No such customer: '${input.customerId}'`, 'customer_id');
    if (input.expiresAt && input.expiresAt <= input.at) throw new BillingError('invalid_request_error', 'date_in_past', 'expires_at must be in the future', 'expires_at');
    const shape = { rate: input.rate, currency: input.currency, createdAt: input.at };
    checkCredits(input.paidCredits, shape, 'paid_credits');
    checkCredits(input.grantedCredits, shape, 'granted_credits');
    validateSettings(input, shape);
    const wallet = tx.create(Wallet, {
      id: newId('wal'),
      customerId: customer.id,
      name: input.name ?? null,
      currency: input.currency,
      rate: input.rate,
      status: 'active',
      paidBalance: zero(),
      grantedBalance: zero(),
      expiresAt: input.expiresAt ?? null,
      topUpThreshold: input.topUpThreshold ?? null,
      topUpPaidCredits: input.topUpPaidCredits ?? null,
      topUpGrantedCredits: input.topUpGrantedCredits ?? null,
      terminatedAt: null,
      createdAt: input.at,
    });
    await tx.flush();
    const purchase = addCredits(tx, wallet, input, { at: input.at, trigger: 'manual' });
    await tx.flush();
    await inTransaction?.(tx, { wallet, purchase });
    return { wallet, purchase };
  });
}

async function lockedWallet(tx: EntityManager, walletId: string): Promise<Wallet> {
  const wallet = await tx.findOne(Wallet, { id: walletId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!wallet) throw new BillingError('not_found_error', 'resource_missing', `No such wallet: '${walletId}'`, 'id');
  return wallet;
}

function refuseEnded(wallet: Wallet, at: Date): void {
  if (wallet.status !== 'active' || (wallet.expiresAt && wallet.expiresAt <= at)) {
    throw new BillingError('state_error', 'wallet_terminated', `wallet ${wallet.id} is ${wallet.status === 'active' ? 'expired' : wallet.status}; it takes no more credits`);
  }
}

/** Adds credits to an active wallet by request. */
export async function topUpWallet(
  em: EntityManager,
  walletId: string,
  credits: TopUpCredits,
  at: Date,
  inTransaction?: (tx: EntityManager, outcome: { wallet: Wallet; purchase: WalletTransaction | null }) => Promise<void>,
): Promise<{ wallet: Wallet; purchase: WalletTransaction | null }> {
  return em.fork().transactional(async (tx) => {
    const wallet = await lockedWallet(tx, walletId);
    refuseEnded(wallet, at);
    checkCredits(credits.paidCredits, wallet, 'paid_credits');
    checkCredits(credits.grantedCredits, wallet, 'granted_credits');
    if (credits.paidCredits.plus(credits.grantedCredits).isZero()) {
      throw new BillingError('invalid_request_error', 'credits_invalid', 'a top-up adds paid_credits or granted_credits (or both)', 'paid_credits');
    }
    const purchase = addCredits(tx, wallet, credits, { at, trigger: 'manual' });
    await tx.flush();
    await inTransaction?.(tx, { wallet, purchase });
    return { wallet, purchase };
  });
}

/** Changes a wallet's name, expiry or automatic top-up; null clears a setting, absent keeps it. */
export async function updateWallet(em: EntityManager, walletId: string, settings: WalletSettings, at: Date): Promise<Wallet> {
  return em.fork().transactional(async (tx) => {
    const wallet = await lockedWallet(tx, walletId);
    refuseEnded(wallet, at);
    validateSettings(settings, wallet);
    if (settings.expiresAt && settings.expiresAt <= at) throw new BillingError('invalid_request_error', 'date_in_past', 'expires_at must be in the future', 'expires_at');
    if (settings.name !== undefined) wallet.name = settings.name;
    if (settings.expiresAt !== undefined) wallet.expiresAt = settings.expiresAt;
    if (settings.topUpThreshold !== undefined) wallet.topUpThreshold = settings.topUpThreshold;
    if (settings.topUpPaidCredits !== undefined) wallet.topUpPaidCredits = settings.topUpPaidCredits;
    if (settings.topUpGrantedCredits !== undefined) wallet.topUpGrantedCredits = settings.topUpGrantedCredits;
    await tx.flush();
    return wallet;
  });
}

/**
 * Whatever a locked wallet still holds leaves it: `expired` (its expiry came) or `voided` (terminated
 * by request). The paid part becomes breakage in the ledger; the granted part was never posted.
 */
async function forfeit(tx: EntityManager, wallet: Wallet, kind: 'expired' | 'voided', at: Date): Promise<void> {
  const paid = wallet.paidBalance;
  const granted = wallet.grantedBalance;
  if (!paid.plus(granted).isZero()) {
    const row = record(tx, wallet, kind, { paid, granted }, { at });
    wallet.paidBalance = zero();
    wallet.grantedBalance = zero();
    await tx.flush();
    const posting = walletCreditExpired({ id: row.id, walletId: wallet.id, currency: wallet.currency, paid, at });
    if (posting) await postTransaction(tx, posting, { customerId: wallet.customerId });
  }
  if (wallet.status === 'active') {
    wallet.status = 'terminated';
    wallet.terminatedAt = at;
  }
  await tx.flush();
}

/** Ends a wallet by request: what it holds is forfeited (breakage), pending purchases count no more once paid. */
export async function terminateWallet(em: EntityManager, walletId: string, at: Date): Promise<Wallet> {
  return em.fork().transactional(async (tx) => {
    const wallet = await lockedWallet(tx, walletId);
    if (wallet.status !== 'active') throw new BillingError('state_error', 'wallet_terminated', `wallet ${wallet.id} is already terminated`);
    await forfeit(tx, wallet, 'voided', at);
    return wallet;
  });
}

/**
 * Pending purchases whose invoice has been paid are settled (their credits count from now on), and
 * those whose invoice was voided fail. Idempotent and safe to run concurrently: a purchase moves out
 * of pending once, in the statement that adds it to its (locked) wallet. Runs wherever an invoice
 * becomes paid, and before credit is read or spent, so a path that pays an invoice without calling
 * it (a credit note, customer credit) still settles the purchase.
 */
export async function settlePurchases(tx: EntityManager, scope: { customerId?: string; invoiceId?: string }): Promise<number> {
  const filter = scope.invoiceId ? 'and i.id = ?' : scope.customerId ? 'and i.customer_id = ?' : '';
  const params = scope.invoiceId ? [scope.invoiceId] : scope.customerId ? [scope.customerId] : [];
  const rows = await tx.execute<Array<{ n: number }>>(
    `with done as (
       update wallet_transactions t
          set status = case when i.status = 'paid' then 'settled' else 'failed' end,
              settled_at = case when i.status = 'paid' then coalesce(i.paid_at, now()) end
         from invoices i
        where t.invoice_id = i.id and t.kind = 'purchased' and t.status = 'pending' and i.status in ('paid', 'void') ${filter}
       returning t.wallet_id, t.paid_amount, t.status),
     added as (
       update wallets w set paid_balance = w.paid_balance + s.amount
         from (select wallet_id, sum(paid_amount) as amount from done where status = 'settled' group by wallet_id) s
        where w.id = s.wallet_id
       returning w.id)
     select count(*)::int as n from done`,
    params,
  );
  return rows[0]?.n ?? 0;
}

/** Forfeits, as `expired`, what the wallets past their expiry still hold (and what reached a terminated wallet since). */
export async function expireWallets(em: EntityManager, at: Date, customerId?: string): Promise<number> {
  const rows = await em.execute<Array<{ id: string }>>(
    `select id from wallets
      where ((status = 'active' and expires_at <= ?) or (status = 'terminated' and paid_balance + granted_balance > 0))
        ${customerId ? 'and customer_id = ?' : ''}
      order by expires_at nulls last, id`,
    customerId ? [at, customerId] : [at],
  );
  for (const { id } of rows) {
    await em.transactional(async (tx) => {
      const wallet = await tx.findOneOrFail(Wallet, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const expired = wallet.status === 'active' && wallet.expiresAt && wallet.expiresAt <= at;
      if (!expired && wallet.status === 'active') return;
      await forfeit(tx, wallet, 'expired', expired ? wallet.expiresAt! : (wallet.terminatedAt ?? at));
    });
  }
  return rows.length;
}

export interface Consumption {
  /** Money taken off what the invoice asks. */
  applied: Decimal;
  /** Automatic top-ups the consumption started: purchases to invoice and collect after commit. */
  topUps: string[];
}

/** Whether the customer has any wallet at all: without one, spending wallet credit has nothing to do. */
export async function hasWallets(tx: EntityManager, customerId: string): Promise<boolean> {
  const [row] = await tx.execute<Array<{ any: boolean }>>('select exists (select 1 from wallets where customer_id = ?) as any', [customerId]);
  return row.any;
}

/**
 * Spends the customer's wallet credit on what is still due on an invoice being issued, inside the
 * caller's transaction: active wallets of the invoice's currency not expired at its issue, soonest
 * to expire first (no expiry last), then oldest; each wallet row locked, so two invoices cannot spend
 * the same credit. Posts `invoice:<id>:wallet_applied` and lowers the invoice's amount due (a fully
 * covered invoice is paid). A wallet this takes below its threshold is topped up once. An invoice
 * that sells credits is never paid with credits.
 */
export async function consumeWallets(tx: EntityManager, invoice: Invoice, at: Date = invoice.finalizedAt ?? invoice.issuedAt): Promise<Consumption> {
  const due = invoice.amountDue;
  if (!due.gt(0)) return { applied: zero(), topUps: [] };
  const [sells] = await tx.execute<Array<{ n: number }>>(`select count(*)::int as n from invoice_lines where invoice_id = ? and kind = 'prepaid_credit'`, [invoice.id]);
  if (sells.n > 0) return { applied: zero(), topUps: [] };
  await settlePurchases(tx, { customerId: invoice.customerId });
  // Credit past its expiry is forfeited before anything is spent, so it is never spent.
  const ended = await tx.find(
    Wallet,
    { customerId: invoice.customerId, currency: invoice.currency, status: 'active', expiresAt: { $lte: at } },
    { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { id: 'asc' }, refresh: true },
  );
  for (const wallet of ended) await forfeit(tx, wallet, 'expired', wallet.expiresAt!);
  const wallets = await tx.find(
    Wallet,
    { customerId: invoice.customerId, currency: invoice.currency, status: 'active', $or: [{ expiresAt: null }, { expiresAt: { $gt: at } }] },
    { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { expiresAt: QueryOrder.ASC_NULLS_LAST, createdAt: 'asc', id: 'asc' }, refresh: true },
  );
  const draws = drawFromWallets(
    due,
    wallets.map((w) => ({ id: w.id, paid: w.paidBalance, granted: w.grantedBalance })),
  );
  if (draws.length === 0) return { applied: zero(), topUps: [] };
  const byId = new Map(wallets.map((w) => [w.id, w]));
  const spent = { paid: zero(), granted: zero() };
  const topUps: WalletTransaction[] = [];
  for (const draw of draws) {
    const wallet = byId.get(draw.id)!;
    const before = creditsOf(wallet.paidBalance.plus(wallet.grantedBalance), wallet.rate);
    wallet.paidBalance = wallet.paidBalance.minus(draw.paid);
    wallet.grantedBalance = wallet.grantedBalance.minus(draw.granted);
    const after = creditsOf(wallet.paidBalance.plus(wallet.grantedBalance), wallet.rate);
    // Emptied: every credit it held is spent, whatever rounding the division left.
    record(tx, wallet, 'consumed', { paid: draw.paid, granted: draw.granted, ...(after.isZero() ? { credits: before } : {}) }, {
      at,
      invoiceId: invoice.id,
      idempotencyKey: `consume:${invoice.id}:${wallet.id}`,
    });
    spent.paid = spent.paid.plus(draw.paid);
    spent.granted = spent.granted.plus(draw.granted);
    if (crossedThreshold(wallet.topUpThreshold ?? null, before, after)) {
      const purchase = addCredits(
        tx,
        wallet,
        { paidCredits: wallet.topUpPaidCredits ?? zero(), grantedCredits: wallet.topUpGrantedCredits ?? zero() },
        { at, trigger: 'threshold', triggeredByInvoiceId: invoice.id, key: `top_up:${wallet.id}:${invoice.id}` },
      );
      if (purchase) topUps.push(purchase);
    }
  }
  await tx.flush();
  const applied = spent.paid.plus(spent.granted);
  const posting = walletApplied(invoice, spent, at);
  if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
  invoice.walletApplied = invoice.walletApplied.plus(applied);
  invoice.amountDue = invoice.amountDue.minus(applied);
  if (invoice.amountDue.isZero() && invoice.status === 'open') {
    invoice.status = 'paid';
    invoice.paidAt = at;
  }
  await tx.flush();
  return { applied, topUps: topUps.map((t) => t.id) };
}

/**
 * Gives back to their wallets the credit an invoice spent, for a void of that invoice, inside the
 * caller's transaction: the exact reverse of its consumption (ledger `invoice:<id>:wallet_restored`),
 * once. Credit given back to a wallet that has ended since is forfeited by the next expiry run.
 */
export async function restoreWalletConsumption(tx: EntityManager, invoiceId: string, at: Date = new Date()): Promise<Decimal> {
  const consumed = await tx.find(WalletTransaction, { invoiceId, kind: 'consumed' }, { orderBy: { id: 'asc' } });
  if (consumed.length === 0) return zero();
  const invoice = await tx.execute<Array<{ id: string; number: string | null; currency: string; customer_id: string }>>(
    'select id, number, currency, customer_id from invoices where id = ?',
    [invoiceId],
  );
  const spent = { paid: zero(), granted: zero() };
  for (const use of consumed) {
    const key = `restore:${invoiceId}:${use.walletId}`;
    if (await tx.findOne(WalletTransaction, { idempotencyKey: key })) continue;
    const wallet = await tx.findOneOrFail(Wallet, { id: use.walletId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    wallet.paidBalance = wallet.paidBalance.plus(use.paidAmount);
    wallet.grantedBalance = wallet.grantedBalance.plus(use.grantedAmount);
    record(tx, wallet, 'restored', { paid: use.paidAmount, granted: use.grantedAmount, credits: use.credits }, { at, invoiceId, idempotencyKey: key });
    spent.paid = spent.paid.plus(use.paidAmount);
    spent.granted = spent.granted.plus(use.grantedAmount);
  }
  await tx.flush();
  const posting = walletRestored(invoice[0], spent, at);
  if (posting) await postTransaction(tx, posting, { customerId: invoice[0].customer_id, invoiceId });
  return spent.paid.plus(spent.granted);
}

/** A wallet with its pending purchases settled first, so what it shows is what it holds. */
export async function walletOf(em: EntityManager, walletId: string): Promise<Wallet> {
  const wallet = await em.findOne(Wallet, { id: walletId });
  if (!wallet) throw new BillingError('not_found_error', 'resource_missing', `No such wallet: '${walletId}'`, 'id');
  if ((await settlePurchases(em, { customerId: wallet.customerId })) > 0) await em.refresh(wallet);
  return wallet;
}

export async function listWallets(em: EntityManager, customerId: string, page: PageRequest): Promise<Page<Wallet>> {
  await settlePurchases(em, { customerId });
  return findPage(em, Wallet, { customerId }, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'wallet' }, page);
}

export async function listWalletTransactions(em: EntityManager, walletId: string, page: PageRequest): Promise<Page<WalletTransaction>> {
  await walletOf(em, walletId);
  return findPage(em, WalletTransaction, { walletId }, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'wallet transaction' }, page);
}

/** What a wallet is waiting for: paid credits bought and not paid yet, in credits. */
export async function pendingCredits(em: EntityManager, walletId: string): Promise<Decimal> {
  const [row] = await em.execute<Array<{ credits: string | null }>>(`select sum(credits)::text as credits from wallet_transactions where wallet_id = ? and kind = 'purchased' and status = 'pending'`, [walletId]);
  return new Decimal(row.credits ?? 0);
}
