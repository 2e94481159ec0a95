import { EMAIL_TEMPLATES, formatEmailDate, isEmailTemplate, renderEmail, type EmailData, type EmailTemplate } from '../../../domain/emails';

/** One message of each kind, with facts distinct enough that each can be looked for in the text. */
const EXAMPLES: { [T in EmailTemplate]: EmailData[T] } = {
  invoice_issued: {
    customerName: 'Ada Lovelace',
    invoiceNumber: 'INV-000042',
    total: '120.00',
    amountDue: '99.50',
    currency: 'USD',
    issuedOn: '2027-03-01',
    periodStart: '2027-03-01',
    periodEnd: '2027-04-01',
  },
  payment_receipt: {
    customerName: 'Ada Lovelace',
    invoiceNumber: 'INV-000042',
    amount: '99.50',
    currency: 'USD',
    paidOn: '2027-03-02T09:30:00Z',
    paymentMethod: 'Visa ending in 4242',
  },
  payment_failed: {
    customerName: 'Ada Lovelace',
    invoiceNumber: 'INV-000043',
    amountDue: '1500',
    currency: 'JPY',
    failedOn: '2027-04-01',
    declineReason: 'Your card has insufficient funds.',
    nextRetryOn: '2027-04-04',
  },
  payment_reminder: {
    customerName: 'Ada Lovelace',
    invoiceNumber: 'INV-000043',
    amountDue: '1500',
    currency: 'JPY',
    finalRetryOn: '2027-04-08',
  },
  payment_action_required: {
    customerName: 'Ada Lovelace',
    invoiceNumber: 'INV-000044',
    amountDue: '25.000',
    currency: 'KWD',
    actionUrl: 'https://pay.example.test/authenticate/pi_123',
  },
  payment_method_required: {
    customerName: 'Ada Lovelace',
    invoiceNumber: 'INV-000045',
    amountDue: '49.00',
    currency: 'EUR',
    declineReason: 'Your card was reported stolen.',
    updateUrl: 'https://billing.example.test/payment-methods',
  },
  service_suspended: {
    customerName: 'Ada Lovelace',
    planName: 'Pro',
    suspendedOn: '2027-04-09',
    invoiceNumber: 'INV-000043',
    amountDue: '1500',
    currency: 'JPY',
  },
  service_resumed: {
    customerName: 'Ada Lovelace',
    planName: 'Pro',
    resumedOn: '2027-04-12',
  },
};

const render = <T extends EmailTemplate>(template: T): { subject: string; body: string } => renderEmail(template, EXAMPLES[template]);

describe('customer e-mails state the facts they are given', () => {
  it('an issued invoice names its number, total, amount due and period', () => {
    const { subject, body } = render('invoice_issued');
    expect(subject).toBe('Invoice INV-000042 for 99.50 USD');
    expect(body).toContain('Hello Ada Lovelace,');
    expect(body).toContain('Invoice INV-000042 was issued on 1 March 2027 for the period 1 March 2027 to 1 April 2027.');
    expect(body).toContain('Total: 120.00 USD');
    expect(body).toContain('Amount due: 99.50 USD');
  });

  it('a receipt names the amount received, the invoice, the date and the payment method', () => {
    const { subject, body } = render('payment_receipt');
    expect(subject).toBe('Receipt for invoice INV-000042: 99.50 USD received');
    expect(body).toContain('We received your payment of 99.50 USD for invoice INV-000042 on 2 March 2027.');
    expect(body).toContain('Paid with: Visa ending in 4242');
  });

  it('a receipt without a known payment method leaves that line out', () => {
    const { body } = renderEmail('payment_receipt', { ...EXAMPLES.payment_receipt, paymentMethod: null });
    expect(body).not.toContain('Paid with');
  });

  it('a failed payment gives the decline reason and the date of the next retry', () => {
    const { subject, body } = render('payment_failed');
    expect(subject).toBe('Payment of 1500 JPY for invoice INV-000043 failed');
    expect(body).toContain('We could not collect 1500 JPY for invoice INV-000043 on 1 April 2027.');
    expect(body).toContain('Reason: Your card has insufficient funds.');
    expect(body).toContain('We will try again on 4 April 2027.');
  });

  it('the reminder before the final retry gives the final retry date and the amount', () => {
    const { subject, body } = render('payment_reminder');
    expect(subject).toBe('Reminder: invoice INV-000043 (1500 JPY) is still unpaid');
    expect(body).toContain('final attempt to charge your payment method on 8 April 2027');
  });

  it('3-D Secure: the customer is asked to authenticate, with the link', () => {
    const { subject, body } = render('payment_action_required');
    expect(subject).toBe('Action required: authenticate your payment for invoice INV-000044');
    expect(body).toContain('25.000 KWD');
    expect(body).toContain('3-D Secure');
    expect(body).toContain('https://pay.example.test/authenticate/pi_123');
  });

  it('3-D Secure without a link still tells the customer the payment is incomplete', () => {
    const { body } = renderEmail('payment_action_required', { ...EXAMPLES.payment_action_required, actionUrl: null });
    expect(body).toContain('The payment is not complete until you authenticate it.');
    expect(body).not.toContain('https://');
  });

  it('a hard decline asks for a new card, gives the reason and says the card will not be retried', () => {
    const { subject, body } = render('payment_method_required');
    expect(subject).toBe('Please add a new payment method for invoice INV-000045');
    expect(body).toContain('Your card was declined for invoice INV-000045 (49.00 EUR).');
    expect(body).toContain('Reason: Your card was reported stolen.');
    expect(body).toContain('we will not retry it');
    expect(body).toContain('https://billing.example.test/payment-methods');
  });

  it('a suspension names the plan, the date and the unpaid invoice', () => {
    const { subject, body } = render('service_suspended');
    expect(subject).toBe('Your Pro subscription is suspended');
    expect(body).toContain('suspended on 9 April 2027 because invoice INV-000043 (1500 JPY) is unpaid');
  });

  it('a resumption names the plan and the date', () => {
    const { subject, body } = render('service_resumed');
    expect(subject).toBe('Your Pro subscription is active again');
    expect(body).toContain('resumed on 12 April 2027');
  });

  it('every template has a one-line subject and a body that greets the customer', () => {
    expect([...EMAIL_TEMPLATES].sort()).toEqual(Object.keys(EXAMPLES).sort());
    for (const template of EMAIL_TEMPLATES) {
      const { subject, body } = render(template);
      expect(subject).not.toMatch(/[\r\n]/);
      expect(body.startsWith('Hello Ada Lovelace,\n\n')).toBe(true);
      expect(isEmailTemplate(template)).toBe(true);
    }
    expect(isEmailTemplate('toString')).toBe(false);
  });

  it('data cannot break the subject onto a second line (no header injection)', () => {
    const { subject } = renderEmail('invoice_issued', { ...EXAMPLES.invoice_issued, invoiceNumber: 'INV-1\r\nBcc: victim@example.test' });
    expect(subject).toBe('Invoice INV-1 Bcc: victim@example.test for 99.50 USD');
  });
});

describe('dates in e-mails', () => {
  it('shows a calendar date as written, with the month in words', () => {
    expect(formatEmailDate('2027-12-31')).toBe('31 December 2027');
  });

  it('shows a timestamp as the date it names in its own offset, not converted to the server zone', () => {
    expect(formatEmailDate('2027-01-01T23:30:00-05:00')).toBe('1 January 2027');
  });

  it('refuses what is not an ISO date', () => {
    expect(() => formatEmailDate('01/02/2027')).toThrow(RangeError);
    expect(() => formatEmailDate('2027-13-01')).toThrow(RangeError);
  });
});
