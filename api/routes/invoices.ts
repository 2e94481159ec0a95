import type { EntityManager } from '@mikro-orm/postgresql';
import { Router } from 'express';
import { z } from 'zod';
import { Invoice, InvoiceLine } from '../../db/entities/invoice';
import { recordManualPayment } from '../../db/payment-store';
import { BillingError } from '../../domain/errors';
import { parseAmount } from '../../domain/money';
import { allow } from '../auth';
import { atomicPhase } from '../idempotency';
import { forkEm } from '../../db/orm';
import type { ApiDeps } from '../deps';
import { invoiceJson, paymentJson } from '../serializers';
import { amountField, parse } from '../validation';
import { collectionPaid } from '../collection-signals';

export const ListInvoices = z
  .object({
    subscription_id: z.string().min(1).optional(),
    customer_id: z.string().min(1).optional(),
    status: z.enum(['open', 'paid', 'void', 'uncollectible']).optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
    starting_after: z.string().min(1).optional(),
  })
  .strict();

export const CreatePayment = z
  .object({
    amount: amountField,
    reference: z.string().min(1).max(500).optional(),
  })
  .strict();

export function invoicesRouter({ orm, temporal }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  async function withLines(invoices: Invoice[], db: EntityManager = em()) {
    const lines = invoices.length ? await db.find(InvoiceLine, { invoiceId: { $in: invoices.map((i) => i.id) } }) : [];
    return invoices.map((invoice) => invoiceJson(invoice, lines.filter((l) => l.invoiceId === invoice.id)));
  }

  /** Newest first, like Stripe; `starting_after` is the id of the last invoice of the previous page. */
  router.get('/', async (req, res) => {
    const query = parse(ListInvoices, req.query);
    const limit = query.limit ?? 10;
    const where: Record<string, unknown> = {};
    if (query.subscription_id) where.subscriptionId = query.subscription_id;
    if (query.customer_id) where.customerId = query.customer_id;
    if (query.status) where.status = query.status;
    if (query.starting_after) {
      const cursor = await em().findOne(Invoice, { id: query.starting_after });
      if (!cursor) throw new BillingError('invalid_request_error', 'resource_missing', `No such invoice: '${query.starting_after}'`, 'starting_after');
      where.sequence = { $lt: cursor.sequence };
    }
    const page = await em().find(Invoice, where, { orderBy: { sequence: 'desc' }, limit: limit + 1 });
    res.json({ object: 'list', data: await withLines(page.slice(0, limit)), has_more: page.length > limit });
  });

  router.get('/:id', async (req, res) => {
    const invoice = await em().findOne(Invoice, { id: req.params.id });
    if (!invoice) throw new BillingError('not_found_error', 'resource_missing', `No such invoice: '${req.params.id}'`, 'id');
    const [json] = await withLines([invoice]);
    res.json(json);
  });

  router.post('/:id/payments', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreatePayment, req.body);
    const recorded = await atomicPhase<{ paid: boolean; response: unknown }>(req, 'payment_recorded', (record) =>
      recordManualPayment(em(), { invoiceId: String(req.params.id), amount: parseAmount(body.amount), reference: body.reference ?? null, receivedAt: new Date() }, async (tx, { payment, invoice }) => {
        const [invoiceBody] = await withLines([invoice], tx);
        await record(tx, { paid: invoice.status === 'paid', response: { ...paymentJson(payment), invoice: invoiceBody } });
      }),
    );
    // Sent again by a retry that resumes here; a second signal changes nothing.
    if (recorded.paid) await collectionPaid(temporal, String(req.params.id), 'manual_payment');
    res.status(201).json(recorded.response);
  });

  return router;
}
