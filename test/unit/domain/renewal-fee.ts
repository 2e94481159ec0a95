import type Decimal from 'decimal.js';
import { feeLine, type InvoiceLineInput } from '../../../domain/invoice';
import type { Period } from '../../../domain/period';

/** A flat plan's fee for a whole period, as a renewal bills it (the store's feeLine, uncut). */
export const renewalFee = (currency: string, name: string, amount: Decimal.Value, period: Period): InvoiceLineInput =>
  feeLine({ name, currency, amount }, { period, from: period.start, to: period.end, credit: false });
