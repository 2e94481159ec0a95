import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { issueCreditNote, refundInvoice, writeOffInvoice } from '../../db/adjustment-store';
import { Invoice, InvoiceLine } from '../../db/entities/invoice';
import { CreditNote, Refund } from '../../db/entities/refund';
import { forkEm } from '../../db/orm';
import { BillingError } from '../../domain/errors';
import { formatAmount, parseAmount, sum } from '../../domain/money';
import { allow } from '../auth';
import { collectionPaid } from '../collection-signals';
import { atomicPhase } from '../idempotency';
import type { ApiDeps } from '../deps';
import { invoiceJson } from '../serializers';
import { amountField, assertStorableAmount, parse } from '../validation';

const reasonField = z.string().min(1).max(500);

export const CreateRefund = z.object({ amount: amountField.optional(), reason: reasonField.optional() }).strict();
export const CreateCreditNote = z.object({ amount: amountField, reason: reasonField.optional() }).strict();
export const MarkUncollectible = z.object({}).strict();

const iso = (d: Date): string => d.toISOString();

function refundJson(r: Refund) {
  return {
    id: r.id,
    object: 'refund',
    invoice_id: r.invoiceId,
    payment_id: r.paymentId,
    amount: formatAmount(r.amount, r.currency),
    currency: r.currency,
    // card: refunded through Stripe; manual: paid back by hand.
    method: r.stripeRefundId ? 'card' : 'manual',
    stripe_refund_id: r.stripeRefundId ?? null,
    reason: r.reason ?? null,
    created_at: iso(r.createdAt),
  };
}

function creditNoteJson(n: CreditNote) {
  return {
    id: n.id,
    object: 'credit_note',
    number: n.number,
    invoice_id: n.invoiceId,
    customer_id: n.customerId,
    amount: formatAmount(n.amount, n.currency),
    currency: n.currency,
    kind: n.kind,
    reason: n.reason ?? null,
    created_at: iso(n.createdAt),
  };
}

/**
 * The operation's idempotency key: the Idempotency-Key header, scoped by API key as the idempotency
 * middleware scopes it. Without the header every request is a new operation (as in Stripe: a
 * repeated refund request without a key refunds again).
 */
function operationKey(req: Request): string {
  const header = req.get('idempotency-key');
  return header ? `key:${req.principal?.keyId ?? 'anonymous'}:${header}` : `request:${randomUUID()}`;
}

function requestAmount(text: string) {
  assertStorableAmount(text, 'amount');
  return parseAmount(text);
}

/**
 * Refunds, credit notes and write-offs of one invoice: POST /v1/invoices/:id/refunds,
 * /credit_notes and /mark_uncollectible, and the lists of an invoice's refunds and credit notes.
 */
export function invoiceAdjustmentsRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  async function invoiceBody(invoice: Invoice, db: EntityManager = em()) {
    return invoiceJson(invoice, await db.find(InvoiceLine, { invoiceId: invoice.id }));
  }

  async function existingInvoice(id: string): Promise<Invoice> {
    const invoice = await em().findOne(Invoice, { id });
    if (!invoice) throw new BillingError('not_found_error', 'resource_missing', `No such invoice: '${id}'`, 'id');
    return invoice;
  }

  router.post('/:id/refunds', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateRefund, req.body);
    // Stripe sits between the refund's transactions, so this phase is recorded after them: the
    // refund's own key (derived from the Idempotency-Key) is what makes a retry resume it rather
    // than refund again, and the record only keeps the answer.
    const response = await atomicPhase(req, 'refunded', async (record) => {
      const { refunds, invoice } = await refundInvoice(em(), stripe?.gateway ?? null, {
        invoiceId: String(req.params.id),
        amount: body.amount === undefined ? null : requestAmount(body.amount),
        reason: body.reason ?? null,
        idempotencyKey: operationKey(req),
      });
      await record(null, {
        object: 'refund_summary',
        invoice_id: invoice.id,
        amount: formatAmount(sum(refunds.map((r) => r.amount)), invoice.currency),
        currency: invoice.currency,
        refunds: refunds.map(refundJson),
        invoice: await invoiceBody(invoice),
      });
    });
    res.status(201).json(response);
  });

  router.get('/:id/refunds', async (req, res) => {
    const invoice = await existingInvoice(String(req.params.id));
    const refunds = await em().find(Refund, { invoiceId: invoice.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    res.json({ object: 'list', data: refunds.map(refundJson), has_more: false });
  });

  router.post('/:id/credit_notes', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateCreditNote, req.body);
    const issued = await atomicPhase<{ settled: boolean; response: unknown }>(req, 'credit_note_issued', (record) =>
      issueCreditNote(
        em(),
        { invoiceId: String(req.params.id), amount: requestAmount(body.amount), reason: body.reason ?? null, idempotencyKey: operationKey(req) },
        async (tx, { creditNote, invoice, settled }) => record(tx, { settled, response: { ...creditNoteJson(creditNote), invoice: await invoiceBody(invoice, tx) } }),
      ),
    );
    // Nothing is left to collect: the invoice's collection stops chasing it (again, after a retry: harmless).
    if (issued.settled) await collectionPaid(temporal, String(req.params.id), 'credit_note');
    res.status(201).json(issued.response);
  });

  router.get('/:id/credit_notes', async (req, res) => {
    const invoice = await existingInvoice(String(req.params.id));
    const notes = await em().find(CreditNote, { invoiceId: invoice.id }, { orderBy: { number: 'asc' } });
    res.json({ object: 'list', data: notes.map(creditNoteJson), has_more: false });
  });

  router.post('/:id/mark_uncollectible', allow('admin', 'support'), async (req, res) => {
    parse(MarkUncollectible, req.body);
    const writtenOff = await atomicPhase(req, 'written_off', (record) =>
      writeOffInvoice(em(), { invoiceId: String(req.params.id), at: new Date() }, async (tx, { invoice }) => record(tx, await invoiceBody(invoice, tx))),
    );
    res.json(writtenOff);
  });

  return router;
}
