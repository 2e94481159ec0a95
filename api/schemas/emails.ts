import { z } from 'zod';
import { idField } from './fields';
import { listQuery } from './pagination';

export const ListEmailsQuery = listQuery({
  customer_id: idField.optional(),
  status: z.enum(['pending', 'sending', 'sent', 'failed', 'unknown']).optional(),
});
