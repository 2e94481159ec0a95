import { claimEmail, queueEmail, type QueueEmailRequest } from '../../db/email-outbox';
import { EmailMessage } from '../../db/entities/email';
import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfig } from '../../config/env';
import { deliverEmail, isPermanentSmtpFailure, smtpTransport, type EmailTransport } from '../../mail/smtp';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp';
import { expectError, startStack, unique, type Stack } from './harness';

/**
 * The e-mail outbox against a real SMTP server and real Postgres: a queued message goes out once
 * with its own Message-ID, a refused send is retried, a send interrupted mid-way is never repeated,
 * and without an SMTP server messages wait in the outbox, listed by the API.
 */
describe('e-mail outbox', () => {
  let stack: Stack;
  let smtp: TestSmtpServer;
  let transport: EmailTransport;
  let customerId: string;

  const em = (): EntityManager => stack.db.orm.em.fork() as EntityManager;
  const row = (id: string): Promise<EmailMessage> => em().findOneOrFail(EmailMessage, { id });

  beforeAll(async () => {
    stack = await startStack('email-outbox', { worker: false });
    smtp = await startSmtpServer();
    transport = smtpTransport({ url: smtp.url, from: 'Billing <billing@perennial.test>' })!;
    const customer = await stack.admin.post('/v1/customers', { name: 'Grace Hopper', email: 'grace@example.test', currency: 'USD' });
    expect(customer.status).toBe(201);
    customerId = customer.body.id;
  });

  afterAll(async () => {
    transport?.mailer.close();
    await smtp?.close();
    await stack?.stop();
  });

  beforeEach(() => {
    smtp.received.length = 0;
    smtp.rejectWith = null;
  });

  function failedPayment(key = unique('invoice-failed')): QueueEmailRequest<'payment_failed'> {
    return {
      idempotencyKey: key,
      customerId,
      to: 'grace@example.test',
      template: 'payment_failed',
      data: {
        customerName: 'Grace Hopper',
        invoiceNumber: 'INV-000007',
        amountDue: '49.00',
        currency: 'USD',
        failedOn: '2027-05-01',
        declineReason: 'Your card has insufficient funds.',
        nextRetryOn: '2027-05-04',
      },
    };
  }

  it('delivers a queued message once, with its Message-ID, subject and recipient, and records it as sent', async () => {
    const queued = await queueEmail(em(), failedPayment());
    expect(queued).toMatchObject({ status: 'pending', attempts: 0, messageId: `<${queued.id}@perennial.local>` });
    expect(queued.id).toMatch(/^em_/);

    expect(await deliverEmail(em(), transport, queued.id)).toBe('sent');

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.rcptTo).toEqual(['grace@example.test']);
    expect(mail.mailFrom).toBe('billing@perennial.test');
    expect(mail.headers['message-id']).toBe(`<${queued.id}@perennial.local>`);
    expect(mail.headers.subject).toBe('Payment of 49.00 USD for invoice INV-000007 failed');
    expect(mail.headers.to).toBe('grace@example.test');
    expect(mail.text).toContain('Reason: Your card has insufficient funds.');
    expect(mail.text).toContain('We will try again on 4 May 2027.');

    const sent = await row(queued.id);
    expect(sent).toMatchObject({ status: 'sent', attempts: 1, lastError: null });
    expect(sent.sentAt).toBeInstanceOf(Date);

    // Delivering it again (a retried activity) sends nothing more.
    expect(await deliverEmail(em(), transport, queued.id)).toBe('sent');
    expect(smtp.received).toHaveLength(1);
    expect((await row(queued.id)).attempts).toBe(1);
  });

  it('queues one message per idempotency key, also when the same message is queued concurrently', async () => {
    const request = failedPayment();
    const first = await queueEmail(em(), request);
    const again = await queueEmail(em(), request);
    const racing = await Promise.all(Array.from({ length: 5 }, () => queueEmail(em(), request)));
    for (const m of [again, ...racing]) expect(m.id).toBe(first.id);
    const [{ n }] = await em().execute<Array<{ n: number }>>('select count(*)::int as n from email_outbox where idempotency_key = ?', [request.idempotencyKey]);
    expect(n).toBe(1);

    await deliverEmail(em(), transport, first.id);
    await deliverEmail(em(), transport, again.id);
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0].headers['message-id']).toBe(first.messageId);
  });

  it('refuses an idempotency key already used for a different kind of message', async () => {
    const request = failedPayment();
    await queueEmail(em(), request);
    await expect(
      queueEmail(em(), { ...request, template: 'payment_reminder', data: { customerName: 'Grace Hopper', invoiceNumber: 'INV-000007', amountDue: '49.00', currency: 'USD', finalRetryOn: '2027-05-07' } }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('marks a message the server refused as failed, and a later delivery sends it once', async () => {
    const queued = await queueEmail(em(), failedPayment());
    smtp.rejectWith = { code: 550, message: 'Mailbox temporarily disabled' };

    const refused = await deliverEmail(em(), transport, queued.id).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(isPermanentSmtpFailure(refused)).toBe(true);
    expect(smtp.received).toHaveLength(0);
    const failed = await row(queued.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed.lastError).toContain('550');
    expect(failed.sentAt).toBeNull();

    smtp.rejectWith = null;
    expect(await deliverEmail(em(), transport, queued.id)).toBe('sent');
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0].headers['message-id']).toBe(queued.messageId);
    expect(await row(queued.id)).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
  });

  it('never resends a message whose sender died mid-send: it becomes unknown, for review', async () => {
    const queued = await queueEmail(em(), failedPayment());
    // A worker claims the message and dies before it reports back: it may or may not have gone out.
    const claimed = await claimEmail(em(), queued.id);
    expect(claimed).toMatchObject({ id: queued.id, status: 'sending', attempts: 1 });

    expect(await deliverEmail(em(), transport, queued.id)).toBe('unknown');
    expect(await deliverEmail(em(), transport, queued.id)).toBe('unknown');
    expect(smtp.received).toHaveLength(0);
    expect(await row(queued.id)).toMatchObject({ status: 'unknown', attempts: 1, sentAt: null });
    expect(await claimEmail(em(), queued.id)).toBeNull();

    const listed = await stack.readonly.get(`/v1/emails?status=unknown&customer_id=${customerId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((m: { id: string }) => m.id)).toContain(queued.id);
  });

  it('two deliveries of the same message racing send it once', async () => {
    const queued = await queueEmail(em(), failedPayment());
    await Promise.allSettled([deliverEmail(em(), transport, queued.id), deliverEmail(em(), transport, queued.id)]);
    expect(smtp.received).toHaveLength(1);
    expect(await row(queued.id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('without SMTP_URL nothing is sent: the message stays pending and the API lists it', async () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/perennial' }).smtp).toBeNull();
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/perennial', SMTP_URL: '' }).smtp).toBeNull();
    expect(() => loadConfig({ DATABASE_URL: 'postgres://localhost/perennial', SMTP_URL: smtp.url })).toThrow(/EMAIL_FROM/);

    // A customer of its own, so the list holds only this message.
    const customer = await stack.admin.post('/v1/customers', { name: 'Alan Turing', email: 'alan@example.test', currency: 'USD' });
    const alan: string = customer.body.id;
    const queued = await queueEmail(em(), {
      idempotencyKey: unique('invoice-issued'),
      customerId: alan,
      to: 'alan@example.test',
      template: 'invoice_issued',
      data: {
        customerName: 'Alan Turing',
        invoiceNumber: 'INV-000008',
        total: '49.00',
        amountDue: '49.00',
        currency: 'USD',
        issuedOn: '2027-06-01',
        periodStart: '2027-06-01',
        periodEnd: '2027-07-01',
      },
    });
    expect(await deliverEmail(em(), smtpTransport(null), queued.id)).toBe('pending');
    expect(smtp.received).toHaveLength(0);
    expect(await row(queued.id)).toMatchObject({ status: 'pending', attempts: 0 });

    const res = await stack.readonly.get(`/v1/emails?customer_id=${alan}&status=pending`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      object: 'list',
      url: '/v1/emails',
      data: [
        {
          id: queued.id,
          object: 'email',
          customer_id: alan,
          to: 'alan@example.test',
          template: 'invoice_issued',
          subject: 'Invoice INV-000008 for 49.00 USD',
          body: expect.stringContaining('Invoice INV-000008 was issued on 1 June 2027 for the period 1 June 2027 to 1 July 2027.'),
          status: 'pending',
          attempts: 0,
          last_error: null,
          message_id: `<${queued.id}@perennial.local>`,
          created_at: queued.createdAt.toISOString(),
          sent_at: null,
        },
      ],
      has_more: false,
    });
  });

  it('lists messages newest first, a page at a time, each message once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await queueEmail(em(), failedPayment())).id);
    const all = (await stack.admin.get(`/v1/emails?customer_id=${customerId}&limit=100`)).body;
    expect(all.has_more).toBe(false);
    const created = all.data.map((m: { created_at: string }) => m.created_at);
    expect(created).toEqual([...created].sort().reverse());
    expect(all.data.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(ids));

    // Walking the pages one message at a time gives the same list: no message skipped or repeated.
    const walked: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { data: Array<{ id: string }>; has_more: boolean } = (
        await stack.admin.get(`/v1/emails?customer_id=${customerId}&limit=1${after ? `&starting_after=${after}` : ''}`)
      ).body;
      walked.push(...page.data.map((m) => m.id));
      if (!page.has_more) break;
      after = page.data[0].id;
    }
    expect(walked).toEqual(all.data.map((m: { id: string }) => m.id));

    expectError(await stack.admin.get('/v1/emails?status=lost'), 400, { code: 'parameter_invalid', param: 'status' });
    expectError(await stack.admin.get('/v1/emails?starting_after=em_missing'), 400, { code: 'resource_missing', param: 'starting_after' });
  });
});
