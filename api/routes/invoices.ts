import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { parseAmount } from '../../domain/money';
import { createOneOffInvoice } from '../../services/one-off-invoices';
import { changeInvoiceTerms, invoiceWithLines, listInvoices, listPayments, paymentSettled, recordPayment, type InvoiceWithLines } from '../../services/invoices';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { CreateInvoiceBody, CreatePaymentBody, ListInvoicesQuery, ListPaymentsQuery, UpdateInvoiceBody } from '../schemas/invoices';
import { invoiceJson, listJson, paymentJson } from '../serializers';
import { parse } from '../validation';

const invoiceOut = (i: InvoiceWithLines) => invoiceJson(i.invoice, i.lines);

export function invoicesRouter({ orm, temporal, taskQueue }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /** A one-off invoice, issued at once and, with collect (the default), charged to the customer's card. */
  router.post('/', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateInvoiceBody, req.body);
    const created = await createOneOffInvoice(
      { em: em(), temporal, taskQueue },
      {
        customerId: body.customer_id,
        currency: body.currency,
        lines: body.lines.map((l) => ({ addOnCode: l.add_on_code, description: l.description, quantity: l.quantity ?? '1', unitAmount: l.unit_amount })),
        collect: body.collect ?? true,
      },
      (point, effect) => atomicPhase(req, point, effect),
    );
    res.status(201).json(invoiceOut(created));
  });

  /** Newest first, like Stripe. */
  router.get('/', async (req, res) => {
    const query = parse(ListInvoicesQuery, req.query);
    const page = await listInvoices(em(), { subscriptionId: query.subscription_id, customerId: query.customer_id, status: query.status }, pageOf(query));
    res.json(listJson(listUrl(req), page, invoiceOut));
  });

  router.get('/:id', async (req, res) => {
    res.json(invoiceOut(await invoiceWithLines(em(), String(req.params.id))));
  });

  /** Stripe's invoice update, for an open invoice's payment terms. */
  router.post('/:id', allow('admin', 'support'), async (req, res) => {
    const body = parse(UpdateInvoiceBody, req.body);
    res.json(invoiceOut(await changeInvoiceTerms(em(), String(req.params.id), body.days_until_due)));
  });

  router.post('/:id/payments', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreatePaymentBody, req.body);
    const invoiceId = String(req.params.id);
    const recorded = await atomicPhase<{ paid: boolean; response: unknown }>(req, 'payment_recorded', (record) =>
      recordPayment(em(), { invoiceId, amount: parseAmount(body.amount), reference: body.reference ?? null }, (tx, { payment, invoice, lines }) =>
        record(tx, { paid: invoice.status === 'paid', response: { ...paymentJson(payment), invoice: invoiceJson(invoice, lines) } }),
      ),
    );
    // Sent again by a retry that resumes here; a second signal changes nothing.
    if (recorded.paid) await paymentSettled(temporal, invoiceId);
    res.status(201).json(recorded.response);
  });

  /** Oldest first. */
  router.get('/:id/payments', async (req, res) => {
    const query = parse(ListPaymentsQuery, req.query);
    res.json(listJson(listUrl(req), await listPayments(em(), String(req.params.id), pageOf(query)), paymentJson));
  });

  return router;
}
