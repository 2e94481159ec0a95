import { z } from 'zod';

/**
 * The query every list takes, as Stripe's lists do: `limit` (1-100, default 10), and a cursor, the
 * id of an object of the list: `starting_after` pages forward from it, `ending_before` backward.
 */
export const pageFields = {
  limit: z.coerce.number().int().min(1).max(100).default(10).describe('How many objects to return, 1 to 100 (default 10)'),
  starting_after: z.string().min(1).optional().describe('The id of an object of the list: the page after it'),
  ending_before: z.string().min(1).optional().describe('The id of an object of the list: the page before it'),
};

export const PageQuery = z.object(pageFields).strict();

/** A list's query: paging plus the list's own filters. */
export const listQuery = <F extends z.ZodRawShape>(filters: F) => z.object({ ...pageFields, ...filters }).strict();
