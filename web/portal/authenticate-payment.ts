import { Router, type Request, type Response } from 'express';
import { BillingError } from '../../domain/errors';
import { displayAmount } from '../../domain/money';
import { portalCompletePayment, portalPaymentAction } from '../../services/portal';
import { formValues, refusalBanner, type Refusal } from '../forms';
import { html } from '../html';
import { stripeCsp } from './payment-method';
import { csrfField, setPortalFlash } from './session';
import { sendPortal, type PortalContext } from './shell';

/**
 * The script of the "Complete payment" page, served from here (no inline script): Stripe.js runs the
 * bank's authentication (3-D Secure) of the payment collection left waiting, then the form posts
 * only the PaymentIntent's id, which the server checks with Stripe before recording the payment.
 */
export const PAY_SCRIPT = `(function () {
  var form = document.getElementById('pay-form');
  if (!form || typeof Stripe !== 'function') return;
  var errors = document.getElementById('pay-errors');
  var button = form.querySelector('button[type=submit]');
  var stripe = Stripe(form.getAttribute('data-publishable-key'));
  form.setAttribute('data-ready', 'true');
  form.addEventListener('submit', function (event) {
    if (form.elements.payment_intent.value) return;
    event.preventDefault();
    button.disabled = true;
    errors.textContent = '';
    stripe.confirmCardPayment(form.getAttribute('data-client-secret')).then(function (result) {
      if (result.error || !result.paymentIntent || result.paymentIntent.status !== 'succeeded') {
        errors.textContent = (result.error && result.error.message) || 'Your bank did not confirm the payment; try again.';
        button.disabled = false;
        return;
      }
      form.elements.payment_intent.value = result.paymentIntent.id;
      form.submit();
    });
  });
})();
`;

/** "Complete payment": an invoice whose card payment waits for the customer's authentication. */
export function authenticatePaymentPages(context: PortalContext): Router {
  const router = Router();

  router.get('/pay.js', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').type('application/javascript').send(PAY_SCRIPT);
  });

  async function page(req: Request, res: Response, invoiceId: string, refusal: Refusal | null, status = 200): Promise<void> {
    const action = await portalPaymentAction(context.em(), context.temporal, context.gateway, req.portalVisit!.customerId, invoiceId);
    const back = html`<p><a href="/portal/invoices/${invoiceId}">Back to the invoice</a></p>`;
    if (!action || !context.stripeJs) {
      const body = html`<section class="card"><h2>Complete payment</h2>${refusalBanner(refusal)}<p data-nothing-to-complete>This invoice has no card payment waiting for you to confirm.</p>${back}</section>`;
      return sendPortal(req, res, context, { title: 'Complete payment', section: 'invoices', body, status });
    }
    const { invoice } = action;
    const body = html`<section class="card portal-pay">
  <h2>Complete payment of ${invoice.number ?? invoice.id}</h2>
  ${refusalBanner(refusal)}
  <p>Your bank asks you to confirm the payment of <strong data-amount-due>${displayAmount(invoice.amountDue.toFixed(), invoice.currency)}</strong> before we can charge your card.</p>
  <form id="pay-form" method="post" action="/portal/invoices/${invoice.id}/pay" data-client-secret="${action.clientSecret}" data-publishable-key="${context.stripeJs.publishableKey}">
    ${csrfField(req)}<input type="hidden" name="payment_intent" value="">
    <p id="pay-errors" class="refusal" role="alert"></p>
    <p class="hint">Your bank's confirmation opens here, through our payment processor, Stripe.</p>
    <div class="actions"><button type="submit" class="primary">Confirm payment</button></div>
  </form>
  ${back}
</section>
<script src="${context.stripeJs.url}"></script>
<script src="/portal/pay.js"></script>`;
    res.set('Content-Security-Policy', stripeCsp(context.stripeJs.url));
    return sendPortal(req, res, context, { title: 'Complete payment', section: 'invoices', body, status });
  }

  router.get('/invoices/:id/pay', (req, res) => page(req, res, String(req.params.id), null));

  router.post('/invoices/:id/pay', async (req, res) => {
    const invoiceId = String(req.params.id);
    try {
      const { invoice, newlyPaid } = await portalCompletePayment(context.em(), context.temporal, context.gateway, req.portalVisit!.customerId, invoiceId, formValues(req).payment_intent ?? '');
      setPortalFlash(req, res, newlyPaid ? `Paid: ${displayAmount(invoice.amountPaid.toFixed(), invoice.currency)}. Thank you.` : 'This payment is already recorded.');
      res.redirect(303, `/portal/invoices/${invoice.id}`);
    } catch (error) {
      if (!(error instanceof BillingError) || error.type === 'not_found_error') throw error;
      await page(req, res, invoiceId, { message: error.message, code: error.code }, 400);
    }
  });

  return router;
}
