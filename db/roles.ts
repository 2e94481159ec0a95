import { Client } from 'pg';

/** The group role whose rights the API and the worker have (migrations/…_least_privilege.ts). */
export const APP_ROLE = 'perennial_app';

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (value: string): string => `'${value.replaceAll("'", "''")}'`;

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Makes the user of `appUrl` a login role that is a member of perennial_app and nothing else, with
 * the URL's password, connecting as the owner (`ownerUrl`). Nothing happens when both URLs name the
 * same user (a deployment that chose one role for everything; see roleWarning).
 */
export async function ensureAppLogin(ownerUrl: string, appUrl: string): Promise<void> {
  const owner = new URL(ownerUrl);
  const app = new URL(appUrl);
  const user = decodeURIComponent(app.username);
  if (!user || user === decodeURIComponent(owner.username)) return;
  const password = decodeURIComponent(app.password);
  await withClient(ownerUrl, async (client) => {
    const exists = (await client.query('select 1 from pg_roles where rolname = $1', [user])).rowCount! > 0;
    const secret = password ? ` password ${quoteLiteral(password)}` : '';
    await client.query(exists ? `alter role ${quoteIdent(user)} login${secret}` : `create role ${quoteIdent(user)} login${secret}`);
    await client.query(`grant ${APP_ROLE} to ${quoteIdent(user)}`);
  });
}

/**
 * Why the role of `url` has more power than the application needs (a superuser, or the owner of the
 * tables: it could alter them, disable the ledger's triggers or rewrite the ledger), or null.
 */
export async function roleWarning(url: string): Promise<string | null> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ user: string; superuser: boolean; owns: number }>(
      `select current_user as user, (select rolsuper from pg_roles where rolname = current_user) as superuser,
              (select count(*)::int from pg_tables where schemaname = 'public' and tableowner = current_user) as owns`,
    );
    const [role] = rows;
    if (!role.superuser && role.owns === 0) return null;
    return `DATABASE_URL connects as "${role.user}", ${role.superuser ? 'a superuser' : `the owner of ${role.owns} tables`}: it could alter tables, disable triggers or rewrite the ledger. Connect as a member of ${APP_ROLE} and give DATABASE_OWNER_URL to migrations (README, Configuration).`;
  });
}
