import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import type { WalletStatus, WalletTopUpTrigger, WalletTransactionKind, WalletTransactionStatus } from '../../domain/wallet';
import { DecimalType } from '../decimal-type';

/** A customer's prepaid credits in one currency (domain/wallet.ts); balances are money, never below zero. */
export class Wallet {
  id!: string;
  customerId!: string;
  name?: string | null;
  currency!: string;
  /** What one credit is worth in the currency. */
  rate!: Decimal;
  status: WalletStatus = 'active';
  paidBalance!: Decimal;
  grantedBalance!: Decimal;
  expiresAt?: Date | null;
  /** In credits: a consumption that takes the wallet below it tops it up with the credits below. */
  topUpThreshold?: Decimal | null;
  topUpPaidCredits?: Decimal | null;
  topUpGrantedCredits?: Decimal | null;
  terminatedAt?: Date | null;
  createdAt: Date = new Date();
}

export const WalletSchema = new EntitySchema<Wallet>({
  class: Wallet,
  tableName: 'wallets',
  properties: {
    id: { type: 'string', primary: true },
    customerId: { type: 'string' },
    name: { type: 'string', nullable: true },
    currency: { type: 'string' },
    rate: { type: DecimalType },
    status: { type: 'string' },
    paidBalance: { type: DecimalType },
    grantedBalance: { type: DecimalType },
    expiresAt: { type: 'Date', nullable: true },
    topUpThreshold: { type: DecimalType, nullable: true },
    topUpPaidCredits: { type: DecimalType, nullable: true },
    topUpGrantedCredits: { type: DecimalType, nullable: true },
    terminatedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});

export class WalletTransaction {
  id!: string;
  walletId!: string;
  kind!: WalletTransactionKind;
  status!: WalletTransactionStatus;
  trigger?: WalletTopUpTrigger | null;
  credits!: Decimal;
  amount!: Decimal;
  paidAmount!: Decimal;
  grantedAmount!: Decimal;
  invoiceId?: string | null;
  triggeredByInvoiceId?: string | null;
  idempotencyKey?: string | null;
  effectiveAt!: Date;
  settledAt?: Date | null;
  createdAt: Date = new Date();
}

export const WalletTransactionSchema = new EntitySchema<WalletTransaction>({
  class: WalletTransaction,
  tableName: 'wallet_transactions',
  properties: {
    id: { type: 'string', primary: true },
    walletId: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string' },
    trigger: { type: 'string', nullable: true },
    credits: { type: DecimalType },
    amount: { type: DecimalType },
    paidAmount: { type: DecimalType },
    grantedAmount: { type: DecimalType },
    invoiceId: { type: 'string', nullable: true },
    triggeredByInvoiceId: { type: 'string', nullable: true },
    idempotencyKey: { type: 'string', nullable: true },
    effectiveAt: { type: 'Date' },
    settledAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});
