import { z } from 'zod';
import { EVENT_TYPES, isEventType } from '../../domain/events';
import { listQuery } from './pagination';

/** Where events are POSTed: an absolute http(s) URL (https in production; http for local receivers and tests). */
const webhookUrlField = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http:// or https:// URL')
  .describe('The URL events are POSTed to (http or https)');

/** Event types to receive, or exactly ["*"] for every type (including types added later). */
const eventsField = z
  .array(z.string())
  .min(1, 'must name at least one event type, or be ["*"]')
  .max(EVENT_TYPES.length)
  .superRefine((events, ctx) => {
    if (events.includes('*')) {
      if (events.length > 1) ctx.addIssue({ code: 'custom', message: '"*" (every event) must be the only entry', path: [events.indexOf('*')] });
      return;
    }
    events.forEach((type, i) => {
      if (!isEventType(type)) ctx.addIssue({ code: 'custom', message: `"${type}" is not an event type; one of ${EVENT_TYPES.join(', ')}, or ["*"]`, path: [i] });
      else if (events.indexOf(type) !== i) ctx.addIssue({ code: 'custom', message: `"${type}" is listed twice`, path: [i] });
    });
  })
  .describe(`Event types (${EVENT_TYPES.join(', ')}), or ["*"] for all`);

const descriptionField = z.string().trim().max(500);

export const CreateWebhookEndpointBody = z.object({ url: webhookUrlField, events: eventsField, description: descriptionField.optional() }).strict();

export const UpdateWebhookEndpointBody = z
  .object({ url: webhookUrlField.optional(), events: eventsField.optional(), description: descriptionField.nullable().optional(), status: z.enum(['enabled', 'disabled']).optional() })
  .strict();

export const ListWebhookEndpointsQuery = listQuery({});

export const ListWebhookDeliveriesQuery = listQuery({ status: z.enum(['pending', 'succeeded', 'failed']).optional() });
