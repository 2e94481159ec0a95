import type { EntityManager } from '@mikro-orm/postgresql';
import { createTransport, type Transporter } from 'nodemailer';
import { claimEmail, markFailed, markSent } from '../db/email-outbox';
import { EmailMessage, type EmailStatus } from '../db/entities/email';
import type { SmtpSettings } from '../config/env';
import { BillingError } from '../domain/errors';

/** Where outbox messages go: an SMTP server, and the From address they carry. */
export interface EmailTransport {
  mailer: Transporter;
  from: string;
}

/**
 * Bounds on one SMTP conversation (connecting, the greeting, then any silence), well inside the
 * sending activity's start-to-close timeout: an activity that times out while its message is in
 * flight leaves the message 'unknown' (db/email-outbox.ts), never sent by the retry.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/** The transport for SMTP_URL and EMAIL_FROM (config/env.ts); null when unset: messages wait in the outbox. */
export function smtpTransport(settings: SmtpSettings | null): EmailTransport | null {
  return settings && { mailer: createTransport({ url: settings.url, ...TIMEOUTS }), from: settings.from };
}

/**
 * Sends one queued message, at most once (db/email-outbox.ts explains why). Claims it, sends it with
 * its fixed Message-ID, and records the outcome; returns the status the message is left in. An SMTP
 * error marks it 'failed' and is rethrown, so the calling activity is retried and the retry sends
 * it again. Without a transport nothing happens: the message stays 'pending' in the outbox.
 */
export async function deliverEmail(em: EntityManager, transport: EmailTransport | null, id: string): Promise<EmailStatus> {
  if (!transport) return currentStatus(em, id);
  const message = await claimEmail(em, id);
  if (!message) return currentStatus(em, id);
  try {
    await transport.mailer.sendMail({
      from: transport.from,
      to: message.toAddress,
      subject: message.subject,
      text: message.body,
      messageId: message.messageId,
      date: message.createdAt,
    });
  } catch (error) {
    await markFailed(em, id, error instanceof Error ? error.message : String(error));
    throw error;
  }
  await markSent(em, id);
  return 'sent';
}

/**
 * True when the server refused the message for good (a 5xx reply: no such mailbox, policy): the
 * message stays 'failed', and an activity may stop retrying it (ApplicationFailure.nonRetryable).
 */
export function isPermanentSmtpFailure(error: unknown): boolean {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

async function currentStatus(em: EntityManager, id: string): Promise<EmailStatus> {
  const message = await em.fork().findOne(EmailMessage, { id });
  if (!message) throw new BillingError('not_found_error', 'resource_missing', `No such e-mail: '${id}'`, 'id');
  return message.status;
}
