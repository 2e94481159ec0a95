/**
 * The e-mails sent to a customer, as plain text. Each template is a function of plain data: amounts
 * arrive already formatted (formatAmount), with their currency code, and dates as ISO 8601 strings.
 * A calendar date ("2027-03-04") is shown as written; a timestamp ("2027-03-04T00:00:00Z") is shown
 * as the date it names in its own offset, so a caller that cares about the customer's zone passes the
 * date in that zone. Nothing here reads a clock, a locale or the environment.
 */

/** The facts each message states, by template name. */
export interface EmailData {
  invoice_issued: {
    customerName: string;
    invoiceNumber: string;
    total: string;
    amountDue: string;
    currency: string;
    issuedOn: string;
    periodStart: string;
    periodEnd: string;
  };
  payment_receipt: {
    customerName: string;
    invoiceNumber: string;
    amount: string;
    currency: string;
    paidOn: string;
    /** How it was paid, as the customer knows it ("Visa ending in 4242"); null when not known. */
    paymentMethod?: string | null;
  };
  payment_failed: {
    customerName: string;
    invoiceNumber: string;
    amountDue: string;
    currency: string;
    failedOn: string;
    /** Why the charge was declined, in words the customer can act on (Stripe's failure message). */
    declineReason: string;
    nextRetryOn: string;
    /** A link to the customer's billing portal (pay, replace the card), made for this e-mail; null when the operator has no public address. */
    portalUrl?: string | null;
  };
  /** Sent before the final automatic retry of a failed payment. */
  payment_reminder: {
    customerName: string;
    invoiceNumber: string;
    amountDue: string;
    currency: string;
    finalRetryOn: string;
    /** A link to the customer's billing portal (pay, replace the card), made for this e-mail; null when the operator has no public address. */
    portalUrl?: string | null;
  };
  /** The bank asks the customer to authenticate the payment (3-D Secure). */
  payment_action_required: {
    customerName: string;
    invoiceNumber: string;
    amountDue: string;
    currency: string;
    /** Where the customer authenticates; null when the operator supplies no page. */
    actionUrl?: string | null;
    /** A link to the customer's billing portal (pay, replace the card), made for this e-mail; null when the operator has no public address. */
    portalUrl?: string | null;
  };
  /** A hard decline: retrying the same card is pointless, the customer must add a new one. */
  payment_method_required: {
    customerName: string;
    invoiceNumber: string;
    amountDue: string;
    currency: string;
    declineReason: string;
    /** Where the customer adds a card; null when the operator supplies no page. */
    updateUrl?: string | null;
    /** A link to the customer's billing portal (pay, replace the card), made for this e-mail; null when the operator has no public address. */
    portalUrl?: string | null;
  };
  service_suspended: {
    customerName: string;
    planName: string;
    suspendedOn: string;
    invoiceNumber: string;
    amountDue: string;
    currency: string;
  };
  service_resumed: {
    customerName: string;
    planName: string;
    resumedOn: string;
  };
}

export type EmailTemplate = keyof EmailData;

export const EMAIL_TEMPLATES: readonly EmailTemplate[] = [
  'invoice_issued',
  'payment_receipt',
  'payment_failed',
  'payment_reminder',
  'payment_action_required',
  'payment_method_required',
  'service_suspended',
  'service_resumed',
];

export interface RenderedEmail {
  subject: string;
  body: string;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "2027-03-04" or "2027-03-04T10:00:00+01:00" → "4 March 2027" (day, month name, year: unambiguous in any country). */
export function formatEmailDate(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(iso);
  const month = m ? Number(m[2]) : 0;
  const day = m ? Number(m[3]) : 0;
  if (!m || month < 1 || month > 12 || day < 1 || day > 31) throw new RangeError(`"${iso}" is not an ISO 8601 date`);
  return `${day} ${MONTHS[month - 1]} ${m[1]}`;
}

const money = (amount: string, currency: string): string => `${amount} ${currency.toUpperCase()}`;

/** A header value never spans lines: whatever the data holds, the subject stays one line. */
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The paragraph that links the customer's billing portal, when the message carries a link. */
const portal = (url: string | null | undefined, what: string): string[] => (url ? [`${what} in your billing portal (the link works for ${PORTAL_LINK_HOURS} hours):\n${url}`] : []);

/** How long the portal link an e-mail carries opens the portal (activities/collection.ts makes it). */
export const PORTAL_LINK_HOURS = 24;

/** Paragraphs separated by blank lines, with the greeting and sign-off every message shares. */
function letter(customerName: string, paragraphs: string[]): string {
  return [`Hello ${oneLine(customerName)},`, ...paragraphs, 'Thank you.'].join('\n\n') + '\n';
}

const RENDERERS: { [T in EmailTemplate]: (data: EmailData[T]) => RenderedEmail } = {
  invoice_issued: (d) => ({
    subject: `Invoice ${d.invoiceNumber} for ${money(d.amountDue, d.currency)}`,
    body: letter(d.customerName, [
      `Invoice ${d.invoiceNumber} was issued on ${formatEmailDate(d.issuedOn)} for the period ${formatEmailDate(d.periodStart)} to ${formatEmailDate(d.periodEnd)}.`,
      `Total: ${money(d.total, d.currency)}\nAmount due: ${money(d.amountDue, d.currency)}`,
    ]),
  }),

  payment_receipt: (d) => ({
    subject: `Receipt for invoice ${d.invoiceNumber}: ${money(d.amount, d.currency)} received`,
    body: letter(d.customerName, [
      `We received your payment of ${money(d.amount, d.currency)} for invoice ${d.invoiceNumber} on ${formatEmailDate(d.paidOn)}.`,
      ...(d.paymentMethod ? [`Paid with: ${d.paymentMethod}`] : []),
      'Keep this e-mail as your receipt.',
    ]),
  }),

  payment_failed: (d) => ({
    subject: `Payment of ${money(d.amountDue, d.currency)} for invoice ${d.invoiceNumber} failed`,
    body: letter(d.customerName, [
      `We could not collect ${money(d.amountDue, d.currency)} for invoice ${d.invoiceNumber} on ${formatEmailDate(d.failedOn)}.`,
      `Reason: ${d.declineReason}`,
      `We will try again on ${formatEmailDate(d.nextRetryOn)}. If your card details have changed, please update them before then.`,
      ...portal(d.portalUrl, 'Update your card'),
    ]),
  }),

  payment_reminder: (d) => ({
    subject: `Reminder: invoice ${d.invoiceNumber} (${money(d.amountDue, d.currency)}) is still unpaid`,
    body: letter(d.customerName, [
      `Invoice ${d.invoiceNumber} for ${money(d.amountDue, d.currency)} is still unpaid.`,
      `We will make the final attempt to charge your payment method on ${formatEmailDate(d.finalRetryOn)}. If it fails, your service may be suspended.`,
      'Please make sure your payment method is up to date before then.',
      ...portal(d.portalUrl, 'Check your card'),
    ]),
  }),

  payment_action_required: (d) => ({
    subject: `Action required: authenticate your payment for invoice ${d.invoiceNumber}`,
    body: letter(d.customerName, [
      `Your bank asks you to confirm the payment of ${money(d.amountDue, d.currency)} for invoice ${d.invoiceNumber} (3-D Secure authentication).`,
      d.actionUrl
        ? `The payment is not complete until you authenticate it here:\n${d.actionUrl}`
        : 'The payment is not complete until you authenticate it. Please reply to this e-mail and we will send you a link.',
      ...portal(d.portalUrl, 'See the invoice or add another card'),
    ]),
  }),

  payment_method_required: (d) => ({
    subject: `Please add a new payment method for invoice ${d.invoiceNumber}`,
    body: letter(d.customerName, [
      `Your card was declined for invoice ${d.invoiceNumber} (${money(d.amountDue, d.currency)}).`,
      `Reason: ${d.declineReason}`,
      'The bank will not accept further charges to this card, so we will not retry it. Please add a new card; we will charge it as soon as it is added.',
      ...(d.updateUrl ? [`Add a new card here:\n${d.updateUrl}`] : []),
      ...portal(d.portalUrl, 'Add a new card'),
    ]),
  }),

  service_suspended: (d) => ({
    subject: `Your ${d.planName} subscription is suspended`,
    body: letter(d.customerName, [
      `Your ${d.planName} subscription was suspended on ${formatEmailDate(d.suspendedOn)} because invoice ${d.invoiceNumber} (${money(d.amountDue, d.currency)}) is unpaid.`,
      'Paying the invoice resumes the service.',
    ]),
  }),

  service_resumed: (d) => ({
    subject: `Your ${d.planName} subscription is active again`,
    body: letter(d.customerName, [`Your ${d.planName} subscription was resumed on ${formatEmailDate(d.resumedOn)}. Your service is available again.`]),
  }),
};

export function isEmailTemplate(name: string): name is EmailTemplate {
  return Object.prototype.hasOwnProperty.call(RENDERERS, name);
}

/** The subject (one line) and plain-text body of `template` stating `data`. */
export function renderEmail<T extends EmailTemplate>(template: T, data: EmailData[T]): RenderedEmail {
  const rendered = RENDERERS[template](data);
  return { subject: oneLine(rendered.subject), body: rendered.body };
}
