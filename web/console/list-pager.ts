import { html, type Html } from '../html';

/** The cursor a console list page was asked for (Stripe's starting_after / ending_before). */
export interface PageCursor {
  starting_after?: string;
  ending_before?: string;
}

export function cursorOf(query: Record<string, unknown>): PageCursor {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const after = text(query.starting_after);
  const before = after ? undefined : text(query.ending_before);
  return { ...(after ? { starting_after: after } : {}), ...(before ? { ending_before: before } : {}) };
}

/**
 * "Previous" and "Next" under a list. The API says whether more objects lie in the direction the
 * page was read; the other direction has more whenever the page was reached by a cursor.
 */
export function pager(path: string, keep: Record<string, string | undefined>, cursor: PageCursor, page: { data: Array<{ id: string }>; has_more: boolean }, noun: string): Html {
  const first = page.data[0]?.id;
  const last = page.data.at(-1)?.id;
  const readBack = cursor.ending_before !== undefined;
  const hasNext = readBack ? true : page.has_more;
  const hasPrevious = readBack ? page.has_more : cursor.starting_after !== undefined;
  const link = (param: string, id: string) => {
    const query = new URLSearchParams(Object.entries(keep).filter((e): e is [string, string] => !!e[1]));
    query.set(param, id);
    return `${path}?${query.toString()}`;
  };
  return html`<nav class="pager" aria-label="Pages">
  <span>${page.data.length} ${noun}${page.data.length === 1 ? '' : 's'} on this page</span>
  <span class="actions">
    ${hasPrevious && first ? html`<a class="button" rel="prev" href="${link('ending_before', first)}">← Previous</a>` : html`<span class="button disabled" aria-disabled="true">← Previous</span>`}
    ${hasNext && last ? html`<a class="button" rel="next" href="${link('starting_after', last)}">Next →</a>` : html`<span class="button disabled" aria-disabled="true">Next →</span>`}
  </span>
</nav>`;
}
