import { Router } from 'express';
import Decimal from 'decimal.js';
import { forkEm } from '../../db/orm';
import { addInvoiceLine, finalizeInvoice, voidedCollectionStops, voidOpenInvoice } from '../../services/invoice-lifecycle';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { AddInvoiceLineBody, FinalizeInvoiceBody, VoidInvoiceBody } from '../schemas/invoices';
import { invoiceJson } from '../serializers';
import { parse } from '../validation';

/** A draft's lines, its finalisation, and the void of an open invoice: /v1/invoices/:id/lines, /finalize and /void. */
export function invoiceLifecycleRouter({ orm, temporal }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/:id/lines', allow('admin', 'support'), async (req, res) => {
    const body = parse(AddInvoiceLineBody, req.body);
    const line = { description: body.description, quantity: new Decimal(body.quantity ?? '1'), unitAmount: new Decimal(body.unit_amount) };
    const added = await atomicPhase(req, 'line_added', (record) => addInvoiceLine(em(), String(req.params.id), line, (tx, { invoice, lines }) => record(tx, invoiceJson(invoice, lines))));
    res.status(201).json(added);
  });

  /** Idempotent by nature: a finalised invoice is answered as it stands. */
  router.post('/:id/finalize', allow('admin', 'support'), async (req, res) => {
    parse(FinalizeInvoiceBody, req.body);
    const { invoice, lines } = await finalizeInvoice(em(), temporal, String(req.params.id));
    res.json(invoiceJson(invoice, lines));
  });

  router.post('/:id/void', allow('admin', 'support'), async (req, res) => {
    parse(VoidInvoiceBody, req.body);
    const invoiceId = String(req.params.id);
    const voided = await atomicPhase(req, 'voided', (record) => voidOpenInvoice(em(), invoiceId, (tx, { invoice, lines }) => record(tx, invoiceJson(invoice, lines))));
    // Sent again by a retry that resumes here; a second signal changes nothing.
    await voidedCollectionStops(temporal, invoiceId);
    res.json(voided);
  });

  return router;
}
