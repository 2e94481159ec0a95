import Decimal from 'decimal.js';
import type { DocumentInvoice, DocumentLine, DocumentTier, Seller } from '../../domain/invoice-document';

/** Invoices to print, stated whole: the figures add up as the invoice builder would make them. */

export const SELLER: Seller = {
  name: 'Perennial Software Ltd',
  addressLines: ['12 Harbour Street', 'Bristol BS1 4QA', 'United Kingdom'],
  taxId: 'GB 123 4567 89',
  email: 'billing@perennial.example',
};

const d = (text: string) => new Date(text);
const zero = new Decimal(0);

export function invoiceOf(overrides: Partial<DocumentInvoice> = {}): DocumentInvoice {
  return {
    id: 'in_01HZX4W9Q8',
    number: 'INV-000123',
    status: 'open',
    currency: 'USD',
    subtotal: zero,
    discountTotal: zero,
    taxTotal: zero,
    total: zero,
    creditApplied: zero,
    walletApplied: zero,
    amountPaid: zero,
    amountDue: zero,
    amountCredited: zero,
    amountRefunded: zero,
    discounts: [],
    taxes: [],
    periodStart: d('2026-11-01T00:00:00Z'),
    periodEnd: d('2026-12-01T00:00:00Z'),
    issuedAt: d('2026-11-01T00:00:05Z'),
    dueAt: d('2026-12-01T00:00:05Z'),
    finalizedAt: d('2026-11-01T00:00:05Z'),
    ...overrides,
  };
}

export function lineOf(position: number, overrides: Partial<DocumentLine> = {}): DocumentLine {
  return {
    position,
    description: `Line ${position}`,
    quantity: new Decimal(1),
    unitAmount: new Decimal('10.00'),
    amount: new Decimal('10.00'),
    periodStart: d('2026-11-01T00:00:00Z'),
    periodEnd: d('2026-12-01T00:00:00Z'),
    tiers: null,
    ...overrides,
  };
}

export const API_CALL_TIERS: DocumentTier[] = [
  { from: '0', up_to: '10000', units: '10000', unit_amount: '0', flat_amount: '0', amount: '0' },
  { from: '10000', up_to: '100000', units: '90000', unit_amount: '0.002', flat_amount: '0', amount: '180' },
  { from: '100000', up_to: null, units: '25500', unit_amount: '0.0015', flat_amount: '5', amount: '43.25' },
];

/**
 * A renewal with a fee, graduated usage, a discount, two tax rates, credit and a part payment:
 * fee 1,200.00 + usage 223.25 + seats 300.00 = 1,723.25; 10% off = 172.33 → 1,550.92;
 * VAT 20% on 1,240.74 = 248.15, 8% on 310.18 = 24.81; total 1,823.88; credit 100.00, paid 500.00,
 * due 1,223.88.
 */
export function renewal(): { invoice: DocumentInvoice; lines: DocumentLine[] } {
  const invoice = invoiceOf({
    subtotal: new Decimal('1723.25'),
    discountTotal: new Decimal('172.33'),
    taxTotal: new Decimal('272.96'),
    total: new Decimal('1823.88'),
    creditApplied: new Decimal('100.00'),
    amountPaid: new Decimal('500.00'),
    amountDue: new Decimal('1223.88'),
    discounts: [{ name: 'Launch partner 10%', amount: '172.33' }],
    taxes: [
      { name: 'VAT', percentage: '20', inclusive: false, base: '1240.74', amount: '248.15' },
      { name: 'Reduced VAT', percentage: '8', inclusive: false, base: '310.18', amount: '24.81' },
    ],
  });
  const lines = [
    lineOf(0, { description: 'Scale plan', unitAmount: new Decimal('1200.00'), amount: new Decimal('1200.00') }),
    lineOf(1, {
      description: 'API calls (graduated)',
      quantity: new Decimal(125500),
      unitAmount: null,
      amount: new Decimal('223.25'),
      periodStart: d('2026-10-01T00:00:00Z'),
      periodEnd: d('2026-11-01T00:00:00Z'),
      tiers: API_CALL_TIERS,
    }),
    lineOf(2, { description: 'Extra seats × 12', quantity: new Decimal(12), unitAmount: new Decimal('25.00'), amount: new Decimal('300.00') }),
  ];
  return { invoice, lines };
}
