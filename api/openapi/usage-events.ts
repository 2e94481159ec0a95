import { z } from 'zod';
import { MAX_EVENTS_PER_REQUEST } from '../usage-ingest';

/**
 * POST /v1/usage_events' body. api/usage-ingest.ts checks it by hand, event by event, for speed: a
 * malformed body is a 400, but a malformed event is only rejected in the 202's `rejected` list (the
 * batch's other events are stored), so each event here is any JSON value, described in words.
 */
const UsageEvent = z.unknown().describe(
  'A usage event (Lago\'s shape): { transaction_id (1-255 characters, deduplicates), subscription_id or external_subscription_id (exactly one), ' +
    'code (the metric code), timestamp (ISO 8601 with a time zone; default now), properties (an object) }. An event that breaks this is rejected by index in the answer.',
);

export const UsageEvents = z.union([
  z.strictObject({ events: z.array(UsageEvent).min(1).max(MAX_EVENTS_PER_REQUEST) }),
  z.strictObject({ event: UsageEvent }),
]);
