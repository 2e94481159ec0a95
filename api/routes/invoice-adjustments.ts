import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { forkEm } from '../../db/orm';
import { listCreditNotes, listRefunds, markUncollectible } from '../../services/invoices';
import { creditNoteSettled, issueCreditNote } from '../../services/issue-credit-note';
import { refundInvoice } from '../../services/refund-invoice';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { CreateCreditNoteBody, CreateRefundBody, ListCreditNotesQuery, ListRefundsQuery, MarkUncollectibleBody } from '../schemas/invoices';
import { creditNoteJson, invoiceJson, listJson, refundJson, refundSummaryJson } from '../serializers';
import { parse } from '../validation';

/**
 * The operation's idempotency key: the Idempotency-Key header, scoped by API key as the idempotency
 * middleware scopes it. Without the header every request is a new operation (as in Stripe: a
 * repeated refund request without a key refunds again).
 */
function operationKey(req: Request): string {
  const header = req.get('idempotency-key');
  return header ? `key:${req.principal?.keyId ?? 'anonymous'}:${header}` : `request:${randomUUID()}`;
}

/**
 * Refunds, credit notes and write-offs of one invoice: POST /v1/invoices/:id/refunds,
 * /credit_notes and /mark_uncollectible, and the lists of an invoice's refunds and credit notes.
 */
export function invoiceAdjustmentsRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/:id/refunds', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateRefundBody, req.body);
    // Stripe sits between the refund's transactions, so this phase is recorded after them: the
    // refund's own key (derived from the Idempotency-Key) is what makes a retry resume it rather
    // than refund again, and the record only keeps the answer.
    const response = await atomicPhase(req, 'refunded', async (record) => {
      const { refunds, invoice, lines } = await refundInvoice(em(), stripe?.gateway ?? null, { invoiceId: String(req.params.id), amount: body.amount, reason: body.reason, operationKey: operationKey(req) });
      await record(null, refundSummaryJson(refunds, invoice, lines));
    });
    res.status(201).json(response);
  });

  /** Oldest first. */
  router.get('/:id/refunds', async (req, res) => {
    const query = parse(ListRefundsQuery, req.query);
    res.json(listJson(listUrl(req), await listRefunds(em(), String(req.params.id), pageOf(query)), refundJson));
  });

  router.post('/:id/credit_notes', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateCreditNoteBody, req.body);
    const invoiceId = String(req.params.id);
    const issued = await atomicPhase<{ settled: boolean; response: unknown }>(req, 'credit_note_issued', (record) =>
      issueCreditNote(em(), { invoiceId, amount: body.amount, reason: body.reason, operationKey: operationKey(req) }, (tx, { creditNote, settled, invoice, lines }) =>
        record(tx, { settled, response: { ...creditNoteJson(creditNote), invoice: invoiceJson(invoice, lines) } }),
      ),
    );
    if (issued.settled) await creditNoteSettled(temporal, invoiceId);
    res.status(201).json(issued.response);
  });

  /** In the order of their numbers. */
  router.get('/:id/credit_notes', async (req, res) => {
    const query = parse(ListCreditNotesQuery, req.query);
    res.json(listJson(listUrl(req), await listCreditNotes(em(), String(req.params.id), pageOf(query)), creditNoteJson));
  });

  router.post('/:id/mark_uncollectible', allow('admin', 'support'), async (req, res) => {
    parse(MarkUncollectibleBody, req.body);
    const writtenOff = await atomicPhase(req, 'written_off', (record) => markUncollectible(em(), String(req.params.id), (tx, { invoice, lines }) => record(tx, invoiceJson(invoice, lines))));
    res.json(writtenOff);
  });

  return router;
}
