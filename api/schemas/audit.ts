import { z } from 'zod';
import { timestampField } from './fields';
import { listQuery } from './pagination';

/** `from` is inclusive and `to` exclusive, so consecutive ranges chain. */
export const ListAuditEventsQuery = listQuery({
  resource_id: z.string().min(1).optional().describe('Only changes of this resource (its id or code)'),
  actor: z.string().min(1).optional().describe('Only changes made with this key (its key id)'),
  from: timestampField.optional().describe('Only changes at or after this time'),
  to: timestampField.optional().describe('Only changes before this time'),
});
