import { Router } from 'express';
import { z } from 'zod';
import { EmailMessage } from '../../db/entities/email';
import { forkEm } from '../../db/orm';
import { BillingError } from '../../domain/errors';
import type { ApiDeps } from '../deps';
import { parse } from '../validation';

export const ListEmails = z
  .object({
    customer_id: z.string().min(1).optional(),
    status: z.enum(['pending', 'sending', 'sent', 'failed', 'unknown']).optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
    starting_after: z.string().min(1).optional(),
  })
  .strict();

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export function emailJson(m: EmailMessage) {
  return {
    id: m.id,
    object: 'email',
    customer_id: m.customerId ?? null,
    to: m.toAddress,
    template: m.template,
    subject: m.subject,
    body: m.body,
    status: m.status,
    attempts: m.attempts,
    last_error: m.lastError ?? null,
    message_id: m.messageId,
    created_at: iso(m.createdAt),
    sent_at: iso(m.sentAt),
  };
}

/** The e-mail outbox, read-only: what was queued for customers and whether it went out. */
export function emailsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /** Newest first; `starting_after` is the id of the last message of the previous page. */
  router.get('/', async (req, res) => {
    const query = parse(ListEmails, req.query);
    const limit = query.limit ?? 10;
    const where: Record<string, unknown> = {};
    if (query.customer_id) where.customerId = query.customer_id;
    if (query.status) where.status = query.status;
    if (query.starting_after) {
      const cursor = await em().findOne(EmailMessage, { id: query.starting_after });
      if (!cursor) throw new BillingError('invalid_request_error', 'resource_missing', `No such e-mail: '${query.starting_after}'`, 'starting_after');
      where.$or = [{ createdAt: { $lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { $lt: cursor.id } }];
    }
    const page = await em().find(EmailMessage, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: limit + 1 });
    res.json({ object: 'list', data: page.slice(0, limit).map(emailJson), has_more: page.length > limit });
  });

  return router;
}
