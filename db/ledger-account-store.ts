import type { EntityManager } from '@mikro-orm/postgresql';

/** An account of the chart, with the general-ledger code and name an accounting tool knows it by. */
export interface LedgerAccountRow {
  code: string;
  name: string;
  type: string;
  glCode: string | null;
}

type Row = { code: string; name: string; type: string; gl_code: string | null };

const account = (r: Row): LedgerAccountRow => ({ code: r.code, name: r.name, type: r.type, glCode: r.gl_code });

export async function ledgerAccounts(em: EntityManager): Promise<LedgerAccountRow[]> {
  return (await em.fork().execute<Row[]>('select code, name, type, gl_code from ledger_accounts order by code')).map(account);
}

/** Sets what is given (gl_code null clears it); null when there is no such account. */
export async function updateLedgerAccount(em: EntityManager, code: string, change: { glCode?: string | null; name?: string }): Promise<LedgerAccountRow | null> {
  const rows = await em.fork().execute<Row[]>(
    `update ledger_accounts set gl_code = case when ? then ? else gl_code end, name = coalesce(?, name)
      where code = ? returning code, name, type, gl_code`,
    [change.glCode !== undefined, change.glCode ?? null, change.name ?? null, code],
  );
  return rows[0] ? account(rows[0]) : null;
}
