import { EntitySchema } from '@mikro-orm/core';
import type { EmailTemplate } from '../../domain/emails';

/**
 * pending: queued, not tried yet. sending: claimed by a sender. sent: the SMTP server accepted it.
 * failed: a try failed before the server accepted it; safe to try again. unknown: a sender died
 * while sending, so it may or may not have gone out; never resent automatically.
 */
export type EmailStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'unknown';

/** One message of the outbox (table email_outbox), rendered when queued. */
export class EmailMessage {
  id!: string;
  /** Derived from the business fact (invoice and attempt, say): the same message is queued once. */
  idempotencyKey!: string;
  customerId?: string | null;
  toAddress!: string;
  template!: EmailTemplate;
  subject!: string;
  body!: string;
  status!: EmailStatus;
  attempts = 0;
  lastError?: string | null;
  /** The Message-ID header, fixed when queued: every try of the message sends the same one. */
  messageId!: string;
  createdAt: Date = new Date();
  sentAt?: Date | null;
}

export const EmailMessageSchema = new EntitySchema<EmailMessage>({
  class: EmailMessage,
  tableName: 'email_outbox',
  properties: {
    id: { type: 'string', primary: true },
    idempotencyKey: { type: 'string' },
    customerId: { type: 'string', nullable: true },
    toAddress: { type: 'string' },
    template: { type: 'string' },
    subject: { type: 'string' },
    body: { type: 'text' },
    status: { type: 'string' },
    attempts: { type: 'integer' },
    lastError: { type: 'text', nullable: true },
    messageId: { type: 'string' },
    createdAt: { type: 'Date' },
    sentAt: { type: 'Date', nullable: true },
  },
});
