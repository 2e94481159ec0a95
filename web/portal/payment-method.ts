import { Router, type Request, type Response } from 'express';
import { BillingError } from '../../domain/errors';
import { portalCard, portalCompleteSetup, portalSetupIntent } from '../../services/portal';
import { formValues, refusalBanner, type Refusal } from '../forms';
import { html } from '../html';
import { cardWords } from './overview';
import { csrfField, setPortalFlash } from './session';
import { sendPortal, type PortalContext } from './shell';

/**
 * The one script of the portal, served from here (no inline script): Stripe.js mounts its card
 * field, confirms the SetupIntent in the browser (3-D Secure included), and the form then posts only
 * the SetupIntent's id, which the server checks with Stripe before the card becomes the default.
 */
export const CARD_SCRIPT = `(function () {
  var form = document.getElementById('card-form');
  if (!form || typeof Stripe !== 'function') return;
  var errors = document.getElementById('card-errors');
  var button = form.querySelector('button[type=submit]');
  var stripe = Stripe(form.getAttribute('data-publishable-key'));
  var card = stripe.elements().create('card');
  card.mount('#card-element');
  form.setAttribute('data-ready', 'true');
  form.addEventListener('submit', function (event) {
    if (form.elements.setup_intent.value) return;
    event.preventDefault();
    button.disabled = true;
    errors.textContent = '';
    stripe.confirmCardSetup(form.getAttribute('data-client-secret'), { payment_method: { card: card } }).then(function (result) {
      if (result.error) {
        errors.textContent = (result.error && result.error.message) || 'The card was not accepted.';
        button.disabled = false;
        return;
      }
      form.elements.setup_intent.value = result.setupIntent.id;
      form.submit();
    });
  });
})();
`;

/** Origins a Stripe.js page talks to: its own (script and, for the emulator, the API), Stripe's API and its 3-D Secure frames. */
export function stripeCsp(scriptUrl: string): string {
  const origin = new URL(scriptUrl).origin;
  return [
    "default-src 'self'",
    `script-src 'self' ${origin}`,
    `connect-src 'self' ${origin} https://api.stripe.com`,
    `frame-src ${origin} https://js.stripe.com https://hooks.stripe.com`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https://*.stripe.com",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** The card invoices are charged to, and a new one collected with Stripe.js (a SetupIntent) when Stripe is configured. */
export function paymentMethodPages(context: PortalContext): Router {
  const router = Router();

  router.get('/card.js', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').type('application/javascript').send(CARD_SCRIPT);
  });

  async function page(req: Request, res: Response, refusal: Refusal | null, status = 200): Promise<void> {
    const customerId = req.portalVisit!.customerId;
    if (!context.gateway) {
      const body = html`<section class="card"><h2>Payment method</h2><p data-no-cards>Cards are not taken here. Invoices are paid by bank transfer or as agreed with us; the amount due and the details are on each invoice.</p></section>`;
      return sendPortal(req, res, context, { title: 'Payment method', section: 'payment_method', body, status });
    }
    const card = await portalCard(context.em(), context.gateway, customerId);
    const current = html`<section class="card"><h2>Card on file</h2><p class="portal-card-on-file" data-card>${cardWords(card)}</p>${card ? html`<p class="hint">Your invoices are charged to it automatically.</p>` : ''}</section>`;
    if (!context.stripeJs) {
      const body = html`${current}<section class="card"><p>Cards are not taken here; contact us to change yours.</p></section>`;
      return sendPortal(req, res, context, { title: 'Payment method', section: 'payment_method', body, status });
    }
    const intent = await portalSetupIntent(context.em(), context.gateway, customerId);
    const body = html`${current}
<section class="card">
  <h2>${card ? 'Replace your card' : 'Add a card'}</h2>
  ${refusalBanner(refusal)}
  <form id="card-form" method="post" action="/portal/payment_method" data-client-secret="${intent.clientSecret}" data-publishable-key="${context.stripeJs.publishableKey}">
    ${csrfField(req)}<input type="hidden" name="setup_intent" value="">
    <div id="card-element" class="portal-card-element"></div>
    <p id="card-errors" class="refusal" role="alert"></p>
    <p class="hint">Your card details go to our payment processor, Stripe, and never through our servers. Open invoices are retried with the new card at once.</p>
    <div class="actions"><button type="submit" class="primary">Save card</button></div>
  </form>
</section>
<script src="${context.stripeJs.url}"></script>
<script src="/portal/card.js"></script>`;
    res.set('Content-Security-Policy', stripeCsp(context.stripeJs.url));
    return sendPortal(req, res, context, { title: 'Payment method', section: 'payment_method', body, status });
  }

  router.get('/payment_method', (req, res) => page(req, res, null));

  router.post('/payment_method', async (req, res) => {
    try {
      const card = await portalCompleteSetup(context.em(), context.gateway, context.temporal, req.portalVisit!.customerId, formValues(req).setup_intent ?? '');
      setPortalFlash(req, res, `Saved: ${cardWords(card)}. We charge it from now on.`);
      res.redirect(303, '/portal/payment_method');
    } catch (error) {
      if (!(error instanceof BillingError) || error.type === 'not_found_error') throw error;
      await page(req, res, { message: error.message, code: error.code }, 400);
    }
  });

  return router;
}
