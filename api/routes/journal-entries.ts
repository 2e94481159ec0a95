import { Router, type Response } from 'express';
import { forkEm } from '../../db/orm';
import { journalHeaderLine, journalLines, type Journal, type JournalFileFormat } from '../../domain/journal-export';
import { journalEntries } from '../../services/journal-entries';
import type { ApiDeps } from '../deps';
import { JournalEntriesQuery } from '../schemas/accounting';
import { journalEntryJson } from '../serializers';
import { parse } from '../validation';
import { logger } from '../../observability/logger';

/**
 * The ledger as journals, in JSON or as a CSV file to import (plain, QuickBooks Online, Xero). Large
 * ranges stream page by page; the first page is read (and checked to balance) before any byte is
 * sent, so a refusal is still an ordinary error answer.
 */
export function journalEntriesRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.get('/', async (req, res) => {
    const query = parse(JournalEntriesQuery, req.query);
    const pages = journalEntries(em(), { from: query.from, to: query.to, currency: query.currency });
    const first = await pages.next();
    const day = (d: Date) => d.toISOString().slice(0, 10);
    let body: { start: string; page: (journals: Journal[], first: boolean) => string; end: string };
    if (query.format === 'json') {
      res.type('application/json');
      body = {
        start: `{"object":"list","url":${JSON.stringify(req.baseUrl)},"data":[`,
        page: (journals, isFirst) => (isFirst ? '' : ',') + journals.map((j) => JSON.stringify(journalEntryJson(j))).join(','),
        end: '],"has_more":false}',
      };
    } else {
      const format: JournalFileFormat = query.format;
      res.type('text/csv; charset=utf-8');
      res.attachment(`journal_entries_${day(query.from)}_${day(query.to)}${query.currency ? `_${query.currency}` : ''}_${format}.csv`);
      body = { start: journalHeaderLine(format), page: (journals) => journals.map((j) => journalLines(format, j)).join(''), end: '' };
    }
    res.status(200);
    res.write(body.start);
    if (!first.done) res.write(body.page(first.value, true));
    if (await streamRest(res, pages, (journals) => body.page(journals, false))) res.end(body.end);
  });

  return router;
}

/**
 * Writes the pages after the first. A failure once bytes are out can only cut the download short
 * (the connection is dropped), so no client takes a partial export for a complete one.
 */
async function streamRest(res: Response, pages: AsyncGenerator<Journal[]>, render: (journals: Journal[]) => string): Promise<boolean> {
  try {
    for await (const journals of pages) {
      if (!res.write(render(journals))) await new Promise((resolve) => res.once('drain', resolve));
    }
    return true;
  } catch (error) {
    logger.error({ err: error }, 'journal export failed after its first page');
    res.destroy();
    return false;
  }
}
