import { Router, type Request, type Response } from 'express';
import { CANCELLATION_COMMENT_MAX, CANCELLATION_REASON_LABELS, CANCELLATION_REASONS, type CancellationReason } from '../../domain/cancellation';
import { BillingError } from '../../domain/errors';
import { displayAmount } from '../../domain/money';
import { portalCancel, portalChangePlan, portalPlanChoices, portalPreviewPlanChange, portalSubscription } from '../../services/portal';
import type { SubscriptionView } from '../../services/subscriptions';
import { date } from '../format';
import { formValues, refusalBanner, type Refusal } from '../forms';
import { html, type Html } from '../html';
import { priceWords, subscriptionCard } from './overview';
import { csrfField, setPortalFlash } from './session';
import { sendPortal, type PortalContext } from './shell';

const amount = (value: { toFixed(): string }, currency: string): string => displayAmount(value.toFixed(), currency);

/** A refusal a service raised, to show on the form; anything else is not the customer's to read. */
function refusalOf(error: unknown): Refusal {
  if (error instanceof BillingError && error.type !== 'not_found_error') return { message: error.message, code: error.code, ...(error.param ? { param: error.param } : {}) };
  throw error;
}

const statusOf = (error: BillingError | undefined): number => (error?.type === 'state_error' ? 409 : 400);

/** Changing plan (chosen, previewed, then confirmed) and cancelling at period end with a reason. */
export function subscriptionPages(context: PortalContext): Router {
  const router = Router();
  const offered = context.planCodes;

  async function choosePage(req: Request, res: Response, view: SubscriptionView, refusal: Refusal | null, status = 200): Promise<void> {
    const choices = await portalPlanChoices(context.em(), view, offered);
    const id = view.subscription.id;
    const selected = formValues(req).plan_code ?? choices[0]?.code;
    const body = html`<section class="card">
  <h2>Your plan</h2>
  ${subscriptionCard(view, context, { actions: false })}
</section>
<section class="card">
  <h2>Choose a new plan</h2>
  ${refusalBanner(refusal)}
  ${choices.length
    ? html`<form method="post" action="/portal/subscriptions/${id}/change_plan/preview">
    ${csrfField(req)}
    <div class="portal-plans" role="radiogroup">${choices.map(
      (plan) => html`<label class="portal-plan-choice">
      <input type="radio" name="plan_code" value="${plan.code}"${plan.code === selected ? html` checked` : ''} required>
      <span class="portal-plan-name">${plan.name}</span>
      <span class="portal-plan-price">${priceWords(plan.amount, plan.currency, plan.interval, plan.intervalCount)}</span>
    </label>`,
    )}</div>
    <p class="hint">The change takes effect now: you are credited for the rest of this period on your current plan and charged for it on the new one. You see the amount before you confirm.</p>
    <div class="actions"><button type="submit" class="primary">Preview the change</button><a class="button" href="/portal">Back</a></div>
  </form>`
    : html`<p class="empty">No other plan is available for this subscription. Contact us to change it.</p>`}
</section>`;
    await sendPortal(req, res, context, { title: 'Change plan', section: 'home', body, status });
  }

  router.get('/subscriptions/:id/change_plan', async (req, res) => {
    const view = await portalSubscription(context.em(), context.temporal, req.portalVisit!.customerId, String(req.params.id));
    await choosePage(req, res, view, null);
  });

  router.post('/subscriptions/:id/change_plan/preview', async (req, res) => {
    const customerId = req.portalVisit!.customerId;
    const view = await portalSubscription(context.em(), context.temporal, customerId, String(req.params.id));
    const code = formValues(req).plan_code ?? '';
    let preview;
    try {
      preview = await portalPreviewPlanChange(context.em(), context.temporal, customerId, view.subscription.id, offered, code);
    } catch (error) {
      const refusal = refusalOf(error);
      return choosePage(req, res, view, refusal, statusOf(error as BillingError));
    }
    const draft = preview.draft;
    const current = view.live?.plan?.name ?? view.plan.name;
    const body = html`<section class="card portal-preview">
  <h2>Confirm your new plan</h2>
  <dl class="facts">
    <dt>Current plan</dt><dd>${current}</dd>
    <dt>New plan</dt><dd><strong>${preview.plan.name}</strong>, ${priceWords(preview.plan.amount, preview.plan.currency, preview.plan.interval, preview.plan.intervalCount)}</dd>
    <dt>Takes effect</dt><dd>${preview.at ? (date(preview.at.toISOString()) === date(new Date().toISOString()) ? 'Today' : date(preview.at.toISOString())) : 'At the start of your next period'}</dd>
  </dl>
  ${draft
    ? html`<table>
    <thead><tr><th>What you are billed now</th><th class="num">Amount</th></tr></thead>
    <tbody>${draft.lines.map((line) => html`<tr><td>${line.description}</td><td class="num">${amount(line.amount, draft.currency)}</td></tr>`)}</tbody>
    <tfoot>
      ${draft.discountTotal.gt(0) ? html`<tr><td>Discounts</td><td class="num">−${amount(draft.discountTotal, draft.currency)}</td></tr>` : ''}
      ${draft.taxes.filter((t) => !t.rate.inclusive).map((t) => html`<tr><td>${t.rate.name}</td><td class="num">${amount(t.amount, draft.currency)}</td></tr>`)}
      <tr class="portal-due-row"><td>${draft.total.isNegative() ? 'Credited to your balance' : 'Total due now'}</td><td class="num" data-preview-total>${amount(draft.total.abs(), draft.currency)}</td></tr>
    </tfoot>
  </table>`
    : html`<p data-preview-total>Nothing is billed now; your next invoice is on the new plan.</p>`}
  <form method="post" action="/portal/subscriptions/${view.subscription.id}/change_plan">
    ${csrfField(req)}<input type="hidden" name="plan_code" value="${preview.plan.code}">
    <div class="actions"><button type="submit" class="primary">Confirm and change plan</button><a class="button" href="/portal/subscriptions/${view.subscription.id}/change_plan">Choose another plan</a></div>
  </form>
</section>`;
    await sendPortal(req, res, context, { title: 'Change plan', section: 'home', body });
  });

  router.post('/subscriptions/:id/change_plan', async (req, res) => {
    const customerId = req.portalVisit!.customerId;
    const view = await portalSubscription(context.em(), context.temporal, customerId, String(req.params.id));
    try {
      const changed = await portalChangePlan(context.em(), context.temporal, customerId, view.subscription.id, offered, formValues(req).plan_code ?? '');
      setPortalFlash(req, res, `Your plan is now ${changed.live?.plan?.name ?? changed.plan.name}.`);
      res.redirect(303, '/portal');
    } catch (error) {
      const refusal = refusalOf(error);
      await choosePage(req, res, view, refusal, statusOf(error as BillingError));
    }
  });

  function cancelForm(req: Request, view: SubscriptionView, refusal: Refusal | null): Html {
    const values = formValues(req);
    const end = view.live?.currentPeriod?.end ?? view.subscription.currentPeriodEnd?.toISOString() ?? null;
    const reasonRefused = refusal?.param === 'reason';
    return html`<section class="card">
  <h2>Your plan</h2>
  ${subscriptionCard(view, context, { actions: false })}
</section>
<section class="card portal-cancel">
  <h2>Cancel your subscription</h2>
  <p>Your subscription stays active until <strong>${date(end)}</strong>, the end of the period you have paid for. You will not be charged after that.</p>
  ${refusalBanner(refusal, ['reason', 'comment'])}
  <form method="post" action="/portal/subscriptions/${view.subscription.id}/cancel">
    ${csrfField(req)}
    <fieldset class="portal-reasons${reasonRefused ? ' field-refused' : ''}">
      <legend>Why are you cancelling?</legend>
      ${CANCELLATION_REASONS.map((reason) => html`<label><input type="radio" name="reason" value="${reason}"${values.reason === reason ? html` checked` : ''} required> ${CANCELLATION_REASON_LABELS[reason]}</label>`)}
      ${reasonRefused ? html`<p class="refusal" role="alert">${refusal.message}</p>` : ''}
    </fieldset>
    <div class="field${refusal?.param === 'comment' ? ' field-refused' : ''}">
      <label for="f-comment">Anything we could do better? <span class="muted">(optional)</span></label>
      <textarea id="f-comment" name="comment" maxlength="${CANCELLATION_COMMENT_MAX}" rows="3">${values.comment ?? ''}</textarea>
      ${refusal?.param === 'comment' ? html`<p class="refusal" role="alert">${refusal.message}</p>` : ''}
    </div>
    <div class="actions"><button type="submit" class="danger">Cancel subscription</button><a class="button" href="/portal">Keep my subscription</a></div>
  </form>
</section>`;
  }

  router.get('/subscriptions/:id/cancel', async (req, res) => {
    const view = await portalSubscription(context.em(), context.temporal, req.portalVisit!.customerId, String(req.params.id));
    await sendPortal(req, res, context, { title: 'Cancel subscription', section: 'home', body: cancelForm(req, view, null) });
  });

  router.post('/subscriptions/:id/cancel', async (req, res) => {
    const customerId = req.portalVisit!.customerId;
    const view = await portalSubscription(context.em(), context.temporal, customerId, String(req.params.id));
    const { reason, comment } = formValues(req);
    let refusal: Refusal | null = null;
    let status = 400;
    if (!CANCELLATION_REASONS.includes(reason as CancellationReason)) refusal = { param: 'reason', message: 'Choose the reason closest to yours.' };
    else if (comment && comment.length > CANCELLATION_COMMENT_MAX) refusal = { param: 'comment', message: `Keep the comment under ${CANCELLATION_COMMENT_MAX} characters.` };
    else {
      try {
        const canceled = await portalCancel(context.em(), context.temporal, customerId, view.subscription.id, { reason: reason as CancellationReason, comment: comment ?? null });
        const end = canceled.live?.currentPeriod?.end ?? canceled.subscription.currentPeriodEnd?.toISOString() ?? null;
        setPortalFlash(req, res, `Your subscription is cancelled. It stays active until ${date(end)}.`);
        return res.redirect(303, '/portal');
      } catch (error) {
        refusal = refusalOf(error);
        status = statusOf(error as BillingError);
      }
    }
    await sendPortal(req, res, context, { title: 'Cancel subscription', section: 'home', body: cancelForm(req, view, refusal), status });
  });

  return router;
}
