import { Router } from 'express';
import { displayAmount } from '../../domain/money';
import type { SubscriptionView } from '../../services/subscriptions';
import { portalCard, portalHome, portalInvoicesAwaitingPayment, type AmountByCurrency, type PortalCard } from '../../services/portal';
import { CANCELLATION_REASON_LABELS, type CancellationReason } from '../../domain/cancellation';
import { badge, date } from '../format';
import { html, type Html } from '../html';
import { sendPortal, type PortalContext } from './shell';

const INTERVALS: Record<string, [string, string]> = { day: ['day', 'days'], week: ['week', 'weeks'], month: ['month', 'months'], year: ['year', 'years'] };

/** "USD 49.00 per month", "EUR 90.00 every 3 months". */
export function priceWords(amount: { toFixed(): string }, currency: string, interval: string, count: number): string {
  const [one, many] = INTERVALS[interval] ?? [interval, `${interval}s`];
  return `${displayAmount(amount.toFixed(), currency)} ${count === 1 ? `per ${one}` : `every ${count} ${many}`}`;
}

export const amounts = (list: AmountByCurrency[], none: string): string => (list.length ? list.map((a) => displayAmount(a.amount, a.currency)).join(' + ') : none);

/** "Visa •••• 4242, expires 12/2034". */
export function cardWords(card: PortalCard | null): string {
  if (!card) return 'No card on file';
  const brand = card.brand.charAt(0).toUpperCase() + card.brand.slice(1);
  return `${brand} •••• ${card.last4}, expires ${String(card.expMonth).padStart(2, '0')}/${card.expYear}`;
}

/** One subscription as the customer sees it: plan, price, where it stands and what comes next. */
export function subscriptionCard(view: SubscriptionView, context: PortalContext, options: { actions: boolean } = { actions: true }): Html {
  const { subscription, plan, live } = view;
  const status = live?.status ?? subscription.status;
  const planName = live?.plan?.name ?? plan.name;
  const quantity = live?.quantity ?? subscription.quantity;
  const cancelling = live?.cancelAtPeriodEnd ?? subscription.cancelAtPeriodEnd;
  const periodEnd = live?.currentPeriod?.end ?? subscription.currentPeriodEnd?.toISOString() ?? null;
  const next = live?.nextBillingAt ?? null;
  const snapshot = live?.plan;
  // The customer's contract price per seat, when it has one, is what it pays.
  const contract = (live && live.overrides !== undefined ? live.overrides : subscription.overrides)?.amount;
  const price = snapshot
    ? priceWords({ toFixed: () => contract ?? snapshot.amount }, snapshot.currency, snapshot.cadence.interval, snapshot.cadence.intervalCount)
    : priceWords(contract ? { toFixed: () => contract } : plan.amount, plan.currency, plan.interval, plan.intervalCount);
  const reason = subscription.cancellationReason as CancellationReason | null | undefined;
  const when = cancelling
    ? html`<span class="portal-ends">Ends on <strong>${date(periodEnd)}</strong>; you will not be charged again.${reason ? html` Reason given: ${CANCELLATION_REASON_LABELS[reason]}.` : ''}</span>`
    : status === 'trialing'
      ? html`Trial ends on <strong>${date(live?.trialEnd ?? subscription.trialEnd?.toISOString())}</strong>`
      : next
        ? html`Renews on <strong>${date(next)}</strong>`
        : html`<span class="muted">No renewal scheduled</span>`;
  const canAct = options.actions && !cancelling && status !== 'canceled';
  return html`<article class="portal-subscription" data-subscription="${subscription.id}">
  <div class="portal-subscription-head">
    <div><h3 class="portal-plan">${planName}</h3><p class="portal-price">${price}${quantity > 1 ? html` <span class="muted">× ${quantity}</span>` : ''}</p></div>
    ${badge(cancelling ? 'canceling' : status)}
  </div>
  <p class="portal-when">${when}</p>
  ${canAct
    ? html`<div class="actions">
    ${context.planCodes.length ? html`<a class="button primary" href="/portal/subscriptions/${subscription.id}/change_plan">Change plan</a>` : ''}
    <a class="button" href="/portal/subscriptions/${subscription.id}/cancel">Cancel subscription</a>
  </div>`
    : ''}
</article>`;
}

/** The portal's first page: what is due now, the credit held, the subscriptions and the card. */
export function overviewPages(context: PortalContext): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const customerId = req.portalVisit!.customerId;
    const home = await portalHome(context.em(), context.temporal, customerId);
    const card = await portalCard(context.em(), context.gateway, customerId).catch(() => null);
    const awaiting = context.stripeJs ? await portalInvoicesAwaitingPayment(context.em(), context.temporal, customerId, home.due) : new Set<string>();
    const nextRenewal = home.subscriptions
      .filter((v) => !(v.live?.cancelAtPeriodEnd ?? v.subscription.cancelAtPeriodEnd))
      .map((v) => v.live?.nextBillingAt ?? null)
      .filter((at): at is string => !!at)
      .sort()[0];
    const body = html`<section class="stats portal-stats">
  <div class="stat${home.due.length ? ' stat-due' : ''}"><div class="label">Amount due</div><div class="value" data-amount-due>${amounts(home.amountDue, 'Nothing due')}</div>
    <div class="muted">${home.due.length ? `${home.due.length} open invoice${home.due.length > 1 ? 's' : ''}` : 'All invoices are paid'}</div></div>
  <div class="stat"><div class="label">Credit balance</div><div class="value" data-credit>${amounts(home.credit, 'None')}</div><div class="muted">Taken off your next invoices</div></div>
  <div class="stat"><div class="label">Next renewal</div><div class="value">${nextRenewal ? date(nextRenewal) : '—'}</div><div class="muted">${home.subscriptions.length} active subscription${home.subscriptions.length === 1 ? '' : 's'}</div></div>
</section>
${home.due.length
  ? html`<section class="card portal-due">
  <h2>Payment due</h2>
  <table>
    <thead><tr><th>Invoice</th><th>Due</th><th class="num">Amount due</th><th></th></tr></thead>
    <tbody>${home.due.map(
      (invoice) => html`<tr data-invoice="${invoice.id}">
      <td><a href="/portal/invoices/${invoice.id}">${invoice.number ?? invoice.id}</a></td>
      <td>${date(invoice.dueAt.toISOString())}${invoice.dueAt.getTime() < Date.now() ? html` ${badge('past_due')}` : ''}</td>
      <td class="num">${displayAmount(invoice.amountDue.toFixed(), invoice.currency)}</td>
      <td class="num">${awaiting.has(invoice.id) ? html`<a class="button primary" href="/portal/invoices/${invoice.id}/pay">Complete payment</a> ` : ''}<a href="/portal/invoices/${invoice.id}/pdf">Download PDF</a></td>
    </tr>`,
    )}</tbody>
  </table>
  ${context.gateway ? html`<p class="hint">${card ? html`We charge ${cardWords(card)} automatically. ` : ''}<a href="/portal/payment_method">Update your payment method</a> if your card has changed.</p>` : html`<p class="hint">Pay by bank transfer quoting the invoice number; the details are on each invoice's PDF.</p>`}
</section>`
  : ''}
<section class="card">
  <h2>Current subscriptions</h2>
  ${home.subscriptions.length ? home.subscriptions.map((view) => subscriptionCard(view, context)) : html`<p class="empty">You have no active subscription.</p>`}
</section>
<section class="card portal-method">
  <h2>Payment method ${context.gateway ? html`<a class="button" href="/portal/payment_method">${card ? 'Update' : 'Add a card'}</a>` : ''}</h2>
  <p>${context.gateway ? cardWords(card) : 'Invoices are paid by bank transfer or as agreed with us; cards are not taken here.'}</p>
</section>`;
    await sendPortal(req, res, context, { title: home.customer.name, section: 'home', lead: html`Billing account of ${home.customer.email}`, body });
  });
  return router;
}
