import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import type { AccountCode, LedgerSourceType } from '../../domain/ledger';
import { DecimalType } from '../decimal-type';

/** Rows of the append-only ledger; Postgres rejects updates and deletes of both. */
export class LedgerTransaction {
  id!: string;
  idempotencyKey!: string;
  description!: string;
  currency!: string;
  customerId?: string | null;
  invoiceId?: string | null;
  effectiveAt!: Date;
  /** What record it comes from (domain/ledger.ts ledgerSource); null only for rows written by plain SQL. */
  sourceType?: LedgerSourceType | null;
  sourceId?: string | null;
  /** The date it was meant for, when that fell in a closed period and it posted at `effectiveAt` instead. */
  datedAt?: Date | null;
  createdAt: Date = new Date();
}

export const LedgerTransactionSchema = new EntitySchema<LedgerTransaction>({
  class: LedgerTransaction,
  tableName: 'ledger_transactions',
  properties: {
    id: { type: 'string', primary: true },
    idempotencyKey: { type: 'string' },
    description: { type: 'string' },
    currency: { type: 'string' },
    customerId: { type: 'string', nullable: true },
    invoiceId: { type: 'string', nullable: true },
    effectiveAt: { type: 'Date' },
    sourceType: { type: 'string', nullable: true },
    sourceId: { type: 'string', nullable: true },
    datedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});

export class LedgerEntry {
  id?: string;
  transactionId!: string;
  accountCode!: AccountCode;
  direction!: 'debit' | 'credit';
  amount!: Decimal;
}

export const LedgerEntrySchema = new EntitySchema<LedgerEntry>({
  class: LedgerEntry,
  tableName: 'ledger_entries',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    transactionId: { type: 'string' },
    accountCode: { type: 'string' },
    direction: { type: 'string' },
    amount: { type: DecimalType },
  },
});
