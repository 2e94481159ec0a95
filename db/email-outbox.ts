import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingError } from '../domain/errors';
import { renderEmail, type EmailData, type EmailTemplate } from '../domain/emails';
import { EmailMessage } from './entities/email';
import { newId } from './ids';

/**
 * The e-mail outbox. A message is rendered and stored first (queueEmail, inside or after the
 * business fact it reports), then sent by a separate step (mail/smtp.ts deliverEmail) that may run
 * any number of times: it claims the row, sends, and records the outcome.
 *
 * Delivery is at most once. A row is claimed by moving it to 'sending' before anything goes out. If
 * the sender dies, or its activity times out, while the message is in flight, the row stays in
 * 'sending', and nobody can tell whether the SMTP server accepted it: the DATA reply may have been
 * lost on the way back. A later delivery that finds the row in 'sending' therefore sets it to
 * 'unknown' and does not resend. A duplicate "your payment failed" is worse than a missing one,
 * which a person can find: 'unknown' rows are listed by GET /v1/emails?status=unknown for review.
 * Only a failure known to have happened before the server took the message ('failed') is retried.
 */

export interface QueueEmailRequest<T extends EmailTemplate = EmailTemplate> {
  /** Derived from the business fact the message reports (`invoice-${id}-issued`, say). */
  idempotencyKey: string;
  customerId: string | null;
  to: string;
  template: T;
  data: EmailData[T];
}

const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

/** The Message-ID header of a message: fixed by its id, so every try of it carries the same one. */
export const messageIdOf = (id: string): string => `<${id}@perennial.local>`;

/**
 * Renders and stores a message as 'pending', once per idempotency key: the same key returns the row
 * already queued (as first rendered) and never adds a second one, also when callers race.
 */
export async function queueEmail<T extends EmailTemplate>(em: EntityManager, request: QueueEmailRequest<T>): Promise<EmailMessage> {
  if (!ADDRESS.test(request.to)) {
    throw new BillingError('invalid_request_error', 'email_address_invalid', `"${request.to}" is not an e-mail address`, 'to');
  }
  const { subject, body } = renderEmail(request.template, request.data);
  const id = newId('em');
  const fork = em.fork();
  await fork.execute(
    `insert into email_outbox (id, idempotency_key, customer_id, to_address, template, subject, body, status, attempts, message_id, created_at)
     values (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
     on conflict (idempotency_key) do nothing`,
    // created_at from the application clock (whole milliseconds), so it reads back exactly and can page a list.
    [id, request.idempotencyKey, request.customerId, request.to, request.template, subject, body, messageIdOf(id), new Date()],
  );
  const message = await fork.findOneOrFail(EmailMessage, { idempotencyKey: request.idempotencyKey });
  if (message.template !== request.template) {
    throw new BillingError(
      'idempotency_error',
      'idempotency_key_reused',
      `e-mail key "${request.idempotencyKey}" already queued a ${message.template} message, not ${request.template}`,
      'idempotency_key',
    );
  }
  return message;
}

/**
 * Takes a message for sending: pending or failed becomes 'sending' with one more attempt, in one
 * statement, so two senders never both get it. Returns null when there is nothing to send: it is
 * already sent, unknown, or being sent. A message found in 'sending' was claimed by a sender that
 * has not reported back (it died, or timed out, mid-send); it becomes 'unknown' here and is not
 * resent (see the note at the top of this file).
 */
export async function claimEmail(em: EntityManager, id: string): Promise<EmailMessage | null> {
  const fork = em.fork();
  const rows = await fork.execute<Array<{ status: string }>>(
    `update email_outbox
        set status = case when status = 'sending' then 'unknown' else 'sending' end,
            attempts = case when status = 'sending' then attempts else attempts + 1 end
      where id = ? and status in ('pending', 'failed', 'sending')
      returning status`,
    [id],
  );
  if (rows[0]?.status !== 'sending') return null;
  return fork.findOneOrFail(EmailMessage, { id });
}

/**
 * The SMTP server accepted the message. Also from 'unknown': a sender that was given up on (its
 * activity timed out) but did finish knows better than the delivery that marked it.
 */
export async function markSent(em: EntityManager, id: string, at: Date = new Date()): Promise<void> {
  await em.fork().execute(
    `update email_outbox set status = 'sent', sent_at = ?, last_error = null where id = ? and status in ('sending', 'unknown')`,
    [at, id],
  );
}

/**
 * The try failed before the server accepted the message (no connection, refused login, a rejected
 * recipient or message): nothing went out, so the message is 'failed', which the next delivery retries.
 */
export async function markFailed(em: EntityManager, id: string, error: string): Promise<void> {
  await em.fork().execute(`update email_outbox set status = 'failed', last_error = ? where id = ? and status in ('sending', 'unknown')`, [
    error.slice(0, 2000),
    id,
  ]);
}
