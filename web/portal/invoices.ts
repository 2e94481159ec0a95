import { Router } from 'express';
import { displayAmount } from '../../domain/money';
import { portalInvoice, portalInvoicePdf, portalInvoices, portalInvoicesAwaitingPayment } from '../../services/portal';
import { badge, date } from '../format';
import { html } from '../html';
import { sendPortal, type PortalContext } from './shell';

/** "21 Nov – 21 Dec 2026", the year once when both ends share it. */
function period(start: Date, end: Date): string {
  const [from, to] = [date(start.toISOString()), date(end.toISOString())];
  return start.getUTCFullYear() === end.getUTCFullYear() ? `${from.replace(/ \d{4}$/, '')} – ${to}` : `${from} – ${to}`;
}

const amount = (value: { toFixed(): string }, currency: string): string => displayAmount(value.toFixed(), currency);

/** The customer's invoices, one invoice with its lines, and its PDF; each checked to be the customer's own. */
export function invoicePages(context: PortalContext): Router {
  const router = Router();

  router.get('/invoices', async (req, res) => {
    const invoices = await portalInvoices(context.em(), req.portalVisit!.customerId);
    const body = html`<section class="card">
  ${invoices.length
    ? html`<table class="portal-invoices">
    <thead><tr><th>Date</th><th>Invoice</th><th>Period</th><th>Status</th><th class="num">Total</th><th class="num">Amount due</th><th></th></tr></thead>
    <tbody>${invoices.map(
      ({ invoice }) => html`<tr data-invoice="${invoice.id}">
      <td class="nowrap">${date(invoice.issuedAt.toISOString())}</td>
      <td class="nowrap"><a href="/portal/invoices/${invoice.id}">${invoice.number ?? invoice.id}</a></td>
      <td class="muted nowrap">${period(invoice.periodStart, invoice.periodEnd)}</td>
      <td>${badge(invoice.status)}</td>
      <td class="num">${amount(invoice.total, invoice.currency)}</td>
      <td class="num">${invoice.amountDue.gt(0) ? amount(invoice.amountDue, invoice.currency) : html`<span class="muted">—</span>`}</td>
      <td class="num"><a href="/portal/invoices/${invoice.id}/pdf">PDF</a></td>
    </tr>`,
    )}</tbody>
  </table>`
    : html`<p class="empty">No invoices yet.</p>`}
</section>`;
    await sendPortal(req, res, context, { title: 'Invoices', section: 'invoices', body });
  });

  router.get('/invoices/:id', async (req, res) => {
    const { invoice, lines } = await portalInvoice(context.em(), req.portalVisit!.customerId, String(req.params.id));
    const c = invoice.currency;
    const awaiting = context.stripeJs && (await portalInvoicesAwaitingPayment(context.em(), context.temporal, req.portalVisit!.customerId, [invoice])).has(invoice.id);
    const body = html`${awaiting ? html`<div class="banner banner-warn portal-action-needed" role="status">Your bank asks you to confirm this payment. <a class="button primary" href="/portal/invoices/${invoice.id}/pay">Complete payment</a></div>` : ''}
<section class="card portal-invoice">
  <h2><span>${invoice.number ?? invoice.id} ${badge(invoice.status)}</span><a class="button primary" href="/portal/invoices/${invoice.id}/pdf">Download PDF</a></h2>
  <dl class="facts">
    <dt>Issued</dt><dd>${date(invoice.issuedAt.toISOString())}</dd>
    <dt>Due</dt><dd>${date(invoice.dueAt.toISOString())}</dd>
    <dt>Service period</dt><dd>${period(invoice.periodStart, invoice.periodEnd)}</dd>
    ${invoice.paidAt ? html`<dt>Paid</dt><dd>${date(invoice.paidAt.toISOString())}</dd>` : ''}
  </dl>
  <table>
    <thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Amount</th></tr></thead>
    <tbody>${[...lines]
      .sort((a, b) => a.position - b.position)
      .map((line) => html`<tr><td>${line.description}<div class="muted">${period(line.periodStart, line.periodEnd)}</div></td><td class="num">${line.quantity.toFixed()}</td><td class="num">${amount(line.amount, c)}</td></tr>`)}</tbody>
    <tfoot>
      <tr><td colspan="2">Subtotal</td><td class="num">${amount(invoice.subtotal, c)}</td></tr>
      ${invoice.discountTotal.gt(0) ? html`<tr><td colspan="2">Discounts</td><td class="num">−${amount(invoice.discountTotal, c)}</td></tr>` : ''}
      ${invoice.taxes.map((t) => html`<tr><td colspan="2">${t.name} (${t.percentage}%${t.inclusive ? ', included' : ''})</td><td class="num">${displayAmount(t.amount, c)}</td></tr>`)}
      <tr><td colspan="2">Total</td><td class="num">${amount(invoice.total, c)}</td></tr>
      ${invoice.creditApplied.gt(0) ? html`<tr><td colspan="2">Credit applied</td><td class="num">−${amount(invoice.creditApplied, c)}</td></tr>` : ''}
      <tr><td colspan="2">Paid</td><td class="num">${amount(invoice.amountPaid, c)}</td></tr>
      <tr class="portal-due-row"><td colspan="2">Amount due</td><td class="num" data-amount-due>${amount(invoice.amountDue, c)}</td></tr>
    </tfoot>
  </table>
</section>`;
    await sendPortal(req, res, context, { title: `Invoice ${invoice.number ?? ''}`.trim(), section: 'invoices', body });
  });

  router.get('/invoices/:id/pdf', async (req, res) => {
    const { fileName, bytes } = await portalInvoicePdf(context.em(), req.portalVisit!.customerId, String(req.params.id), context.seller);
    res.set({ 'Content-Type': 'application/pdf', 'Content-Disposition': `attachment; filename="${fileName}"` }).send(bytes);
  });

  return router;
}
