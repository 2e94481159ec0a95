import Decimal from 'decimal.js';
import { monthOf } from './months';
import { formatAmount } from './money';

/**
 * The ledger as files accounting tools import: one journal per ledger transaction, one row per entry.
 * Pure formatting, so the same journals always give the same bytes.
 */
export type JournalFileFormat = 'csv' | 'quickbooks' | 'xero';

export interface JournalLine {
  account: string;
  /** The name the chart of accounts gives it (GL name when mapped). */
  accountName: string;
  glCode: string | null;
  direction: 'debit' | 'credit';
  amount: Decimal;
}

export interface Journal {
  id: string;
  effectiveAt: Date;
  datedAt: Date | null;
  sourceType: string | null;
  sourceId: string | null;
  description: string;
  currency: string;
  customerName: string | null;
  lines: JournalLine[];
}

/**
 * The header row of each format. QuickBooks Online's journal entry import and Xero's manual journal
 * import template name their columns so; the importers match them by name.
 */
export const JOURNAL_HEADERS: Readonly<Record<JournalFileFormat, readonly string[]>> = {
  csv: ['date', 'accounting_period', 'transaction_id', 'source_type', 'source_id', 'account', 'gl_code', 'debit', 'credit', 'currency', 'description'],
  quickbooks: ['Journal No.', 'Journal Date', 'Account Name', 'Description', 'Debits', 'Credits', 'Name'],
  xero: ['Narration', 'Date', 'Description', 'AccountCode', 'TaxRate', 'Amount'],
};

/**
 * Xero wants a tax rate on every line, named as in the organisation's tax settings. Tax is already a
 * line of its own here (the tax payable account), so no line carries tax: every line gets this rate.
 */
export const XERO_TAX_RATE = 'Tax Exempt';

/** A number (an amount) is written as is; text may be neutralised. */
type Cell = { text: string } | { number: string };

const text = (value: string | null): Cell => ({ text: value ?? '' });
const number = (value: string): Cell => ({ number: value });

export class UnbalancedJournal extends Error {
  constructor(readonly transactionId: string, debits: Decimal, credits: Decimal) {
    super(`ledger transaction ${transactionId} does not balance in the export: debits ${debits.toFixed()}, credits ${credits.toFixed()}`);
    this.name = 'UnbalancedJournal';
  }
}

/** The database refuses unbalanced transactions; an export still checks each one before writing it. */
export function assertJournalBalanced(journal: Journal): void {
  let debits = new Decimal(0);
  let credits = new Decimal(0);
  for (const line of journal.lines) {
    if (line.direction === 'debit') debits = debits.plus(line.amount);
    else credits = credits.plus(line.amount);
  }
  if (journal.lines.length < 2 || !debits.equals(credits)) throw new UnbalancedJournal(journal.id, debits, credits);
}

/** Days are UTC days, like accounting periods. */
const isoDate = (at: Date): string => at.toISOString().slice(0, 10);

/** QuickBooks Online (US) reads MM/DD/YYYY. */
function quickbooksDate(at: Date): string {
  const [year, month, day] = isoDate(at).split('-');
  return `${month}/${day}/${year}`;
}

/** Xero's manual journal import reads dd/mm/yyyy. */
function xeroDate(at: Date): string {
  const [year, month, day] = isoDate(at).split('-');
  return `${day}/${month}/${year}`;
}

/**
 * QuickBooks Online keeps at most 21 characters of a journal number: the transaction id without its
 * `txn_` prefix (20 characters) fits and still finds the transaction.
 */
export const quickbooksJournalNo = (transactionId: string): string => transactionId.replace(/^txn_/, '');

function rows(format: JournalFileFormat, journal: Journal): Cell[][] {
  const amount = (line: JournalLine) => formatAmount(line.amount, journal.currency);
  switch (format) {
    case 'csv':
      return journal.lines.map((line) => [
        text(isoDate(journal.effectiveAt)),
        text(monthOf(journal.effectiveAt)),
        text(journal.id),
        text(journal.sourceType),
        text(journal.sourceId),
        text(line.account),
        text(line.glCode),
        line.direction === 'debit' ? number(amount(line)) : text(''),
        line.direction === 'credit' ? number(amount(line)) : text(''),
        text(journal.currency),
        text(journal.description),
      ]);
    case 'quickbooks':
      return journal.lines.map((line) => [
        text(quickbooksJournalNo(journal.id)),
        text(quickbooksDate(journal.effectiveAt)),
        text(line.accountName),
        text(journal.description),
        line.direction === 'debit' ? number(amount(line)) : text(''),
        line.direction === 'credit' ? number(amount(line)) : text(''),
        text(journal.customerName),
      ]);
    case 'xero':
      // Xero groups rows into one journal by narration and date: the transaction id keeps each apart.
      return journal.lines.map((line) => [
        text(`${journal.description} (${journal.id})`),
        text(xeroDate(journal.effectiveAt)),
        text(journal.description),
        text(line.glCode ?? line.account),
        text(XERO_TAX_RATE),
        number(line.direction === 'debit' ? amount(line) : `-${amount(line)}`),
      ]);
  }
}

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, a quote or a line break, quotes doubled.
 * Text that a spreadsheet would run as a formula (starting with = + - @, or a tab or carriage return)
 * gets a leading apostrophe; amounts are numbers and keep their minus sign.
 */
export function csvField(cell: Cell): string {
  let value = 'number' in cell ? cell.number : cell.text;
  if ('text' in cell && /^[=+\-@\t\r]/.test(value)) value = `'${value}`;
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

const csvRecord = (cells: Cell[]): string => `${cells.map(csvField).join(',')}\r\n`;

export function journalHeaderLine(format: JournalFileFormat): string {
  return csvRecord(JOURNAL_HEADERS[format].map((h) => text(h)));
}

/** A journal's rows in `format`, CRLF-terminated (RFC 4180), after checking that it balances. */
export function journalLines(format: JournalFileFormat, journal: Journal): string {
  assertJournalBalanced(journal);
  return rows(format, journal).map(csvRecord).join('');
}
