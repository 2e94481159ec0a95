import type { EntityManager } from '@mikro-orm/postgresql';
import { EmailMessage } from '../db/entities/email';
import { findPage, type Page, type PageRequest } from '../db/pagination';

/** The e-mail outbox, newest first: what was queued for customers and whether it went out. */
export function listEmails(em: EntityManager, filter: { customerId?: string; status?: EmailMessage['status'] }, page: PageRequest): Promise<Page<EmailMessage>> {
  const where = { ...(filter.customerId ? { customerId: filter.customerId } : {}), ...(filter.status ? { status: filter.status } : {}) };
  return findPage(em, EmailMessage, where, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'e-mail' }, page);
}
