import Decimal from 'decimal.js';
import { ROUNDING, roundToCurrency } from './money';

/**
 * Prepaid credit wallets (Lago's wallets, Stripe's credit grants). A wallet holds credits worth
 * `rate` of its currency each. What it holds is kept as money in two parts: `paid` (bought on an
 * invoice that has been paid: a customer prepayment, a liability) and `granted` (given for free:
 * a discount once spent). Credits are shown as money / rate.
 */

/** Credits carry six decimals, as the database column does. */
export const CREDIT_DECIMALS = 6;

export type WalletStatus = 'active' | 'terminated';

export const WALLET_TRANSACTION_KINDS = ['purchased', 'granted', 'consumed', 'restored', 'expired', 'voided'] as const;
export type WalletTransactionKind = (typeof WALLET_TRANSACTION_KINDS)[number];

/** pending: a purchase whose invoice is not paid yet; failed: its invoice was voided. */
export const WALLET_TRANSACTION_STATUSES = ['pending', 'settled', 'failed'] as const;
export type WalletTransactionStatus = (typeof WALLET_TRANSACTION_STATUSES)[number];

/** What starts a top-up: a request, or a consumption that took the wallet below its threshold. */
export const WALLET_TOP_UP_TRIGGERS = ['manual', 'threshold'] as const;
export type WalletTopUpTrigger = (typeof WALLET_TOP_UP_TRIGGERS)[number];

/** The money `credits` are worth at `rate`, rounded once to the currency. */
export function creditsValue(credits: Decimal.Value, rate: Decimal.Value, currency: string): Decimal {
  return roundToCurrency(new Decimal(credits).times(rate), currency);
}

/** The credits an amount of money is, at `rate`. */
export function creditsOf(amount: Decimal.Value, rate: Decimal.Value): Decimal {
  return new Decimal(amount).dividedBy(rate).toDecimalPlaces(CREDIT_DECIMALS, ROUNDING);
}

export interface WalletFunds {
  id: string;
  paid: Decimal;
  granted: Decimal;
}

export interface WalletDraw {
  id: string;
  paid: Decimal;
  granted: Decimal;
}

/**
 * Takes `due` from the wallets in the order given (the caller orders them: soonest to expire first),
 * each wallet's granted credit before its paid credit, so what the customer paid for lasts longest.
 * Never more than a wallet holds, never more than is due; wallets that give nothing are left out.
 */
export function drawFromWallets(due: Decimal, wallets: readonly WalletFunds[]): WalletDraw[] {
  let left = Decimal.max(due, 0);
  const draws: WalletDraw[] = [];
  for (const wallet of wallets) {
    if (left.isZero()) break;
    const granted = Decimal.min(left, Decimal.max(wallet.granted, 0));
    left = left.minus(granted);
    const paid = Decimal.min(left, Decimal.max(wallet.paid, 0));
    left = left.minus(paid);
    if (!granted.plus(paid).isZero()) draws.push({ id: wallet.id, paid, granted });
  }
  return draws;
}

/**
 * Whether a consumption took the wallet from at or above its threshold (in credits) to below it: an
 * automatic top-up fires once per crossing, and again only after the balance has come back up.
 */
export function crossedThreshold(threshold: Decimal | null, before: Decimal, after: Decimal): boolean {
  return threshold !== null && before.gte(threshold) && after.lt(threshold);
}
