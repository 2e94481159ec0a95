import { z } from 'zod';
import { EVENT_TYPES } from '../../domain/events';
import { idField, timestampField } from './fields';
import { listQuery } from './pagination';

export const ListEventsQuery = listQuery({
  type: z.enum(EVENT_TYPES).optional().describe('Only events of this type'),
  object_id: idField.optional().describe('Only events about this object (its id: in_…, sub_…, cus_…)'),
  customer: idField.optional().describe("Only events about this customer's objects"),
  'created[gte]': timestampField.optional().describe('Only events created at or after this instant'),
  'created[lt]': timestampField.optional().describe('Only events created before this instant'),
});
