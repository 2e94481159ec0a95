import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import type { Wallet, WalletTransaction } from '../db/entities/wallet';
import type { Page, PageRequest } from '../db/pagination';
import {
  createWallet,
  listWallets,
  listWalletTransactions,
  pendingCredits,
  terminateWallet,
  topUpWallet,
  updateWallet,
  walletOf,
  type WalletSettings,
} from '../db/wallet-store';
import type { Client } from '@temporalio/client';
import { Invoice } from '../db/entities/invoice';
import { invoiceWalletPurchases } from '../db/wallet-purchases';
import { startCollection } from './invoice-collection';
import { customerOf } from './lookups';

/** A wallet as shown: its balances, and the paid credits still waiting for their invoice to be paid. */
export interface WalletView {
  wallet: Wallet;
  pendingCredits: Decimal;
}

export interface CreateWalletRequest extends WalletSettings {
  customerId: string;
  currency: string;
  rate: Decimal;
  paidCredits: Decimal;
  grantedCredits: Decimal;
}

/** Recorded in the request's transaction, so a retried request carries on from what it stored. */
export type WalletStored = (tx: EntityManager, outcome: { walletId: string; purchaseId: string | null }) => Promise<void>;

export async function viewWallet(em: EntityManager, walletId: string): Promise<WalletView> {
  const wallet = await walletOf(em, walletId);
  return { wallet, pendingCredits: await pendingCredits(em, wallet.id) };
}

export async function openWallet(em: EntityManager, request: CreateWalletRequest, stored: WalletStored): Promise<void> {
  await createWallet(em, { ...request, at: new Date() }, (tx, { wallet, purchase }) => stored(tx, { walletId: wallet.id, purchaseId: purchase?.id ?? null }));
}

export async function topUp(em: EntityManager, walletId: string, credits: { paidCredits: Decimal; grantedCredits: Decimal }, stored: WalletStored): Promise<void> {
  await topUpWallet(em, walletId, credits, new Date(), (tx, { wallet, purchase }) => stored(tx, { walletId: wallet.id, purchaseId: purchase?.id ?? null }));
}

export async function changeWallet(em: EntityManager, walletId: string, settings: WalletSettings): Promise<WalletView> {
  await updateWallet(em, walletId, settings, new Date());
  return viewWallet(em, walletId);
}

export async function endWallet(em: EntityManager, walletId: string): Promise<WalletView> {
  await terminateWallet(em, walletId, new Date());
  return viewWallet(em, walletId);
}

export async function walletsOfCustomer(em: EntityManager, customerId: string, page: PageRequest): Promise<Page<WalletView>> {
  await customerOf(em, customerId, 'customer_id');
  const found = await listWallets(em, customerId, page);
  const data: WalletView[] = [];
  for (const wallet of found.data) data.push({ wallet, pendingCredits: await pendingCredits(em, wallet.id) });
  return { ...found, data };
}

export async function transactionsOfWallet(em: EntityManager, walletId: string, page: PageRequest): Promise<{ currency: string; page: Page<WalletTransaction> }> {
  const wallet = await walletOf(em, walletId);
  return { currency: wallet.currency, page: await listWalletTransactions(em, walletId, page) };
}

/** Absent keeps a setting, null clears it. */
export const creditsOrNull = (value: string | null | undefined): Decimal | null | undefined => (value === undefined ? undefined : value === null ? null : new Decimal(value));

/**
 * The invoice of a purchase the request made (paid credits), issued once (keyed by the purchase) and
 * collected by card: the credits count once it is paid. Safe to repeat after a retried request.
 */
export async function invoicePurchase(em: EntityManager, temporal: Client, taskQueue: string, purchaseId: string | null): Promise<void> {
  if (!purchaseId) return;
  await invoiceWalletPurchases(em, { purchaseId });
  const [row] = await em.execute<Array<{ invoice_id: string | null }>>('select invoice_id from wallet_transactions where id = ?', [purchaseId]);
  const invoice = row?.invoice_id ? await em.findOne(Invoice, { id: row.invoice_id }) : null;
  if (invoice) await startCollection(temporal, taskQueue, invoice);
}
