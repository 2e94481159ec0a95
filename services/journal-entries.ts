import type { EntityManager } from '@mikro-orm/postgresql';
import { journalPage, type JournalCursor, type JournalRange } from '../db/journal-store';
import { BillingError } from '../domain/errors';
import { assertJournalBalanced, UnbalancedJournal, type Journal } from '../domain/journal-export';

/** Transactions read per query: a large range streams in pages of this many, never whole. */
export const JOURNAL_PAGE_SIZE = 500;

/**
 * The range's journals in export order (effective_at, then transaction id), page by page, each
 * checked to balance. The order is total, so the same range gives the same journals every time.
 */
export async function* journalEntries(em: EntityManager, range: JournalRange, pageSize = JOURNAL_PAGE_SIZE): AsyncGenerator<Journal[]> {
  let after: JournalCursor | null = null;
  do {
    const page: { journals: Journal[]; next: JournalCursor | null } = await journalPage(em, range, after, pageSize);
    for (const journal of page.journals) {
      try {
        assertJournalBalanced(journal);
      } catch (error) {
        if (error instanceof UnbalancedJournal) throw new BillingError('api_error', 'journal_unbalanced', error.message);
        throw error;
      }
    }
    if (page.journals.length > 0) yield page.journals;
    after = page.next;
  } while (after);
}
