import type { Request } from 'express';
import type { PageRequest } from '../db/pagination';

/** The page a parsed list query asks for. */
export const pageOf = (q: { limit: number; starting_after?: string; ending_before?: string }): PageRequest => ({ limit: q.limit, startingAfter: q.starting_after, endingBefore: q.ending_before });

/** The list's own path, as its `url` field gives it. */
export const listUrl = (req: Request): string => `${req.baseUrl}${req.path}`.replace(/\/$/, '');
