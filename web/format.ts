import { displayAmount } from '../domain/money';
import { html, type Html } from './html';

/** "USD 1,234.50" from the API's decimal string; a dash for an absent amount. */
export const money = (amount: string | null | undefined, currency: string): string => (amount === null || amount === undefined ? '—' : displayAmount(amount, currency));

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "1 Dec 2026" in UTC: the API's instants are UTC, and so is every date the console prints. */
export function date(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** "1 Dec 2026 14:05 UTC". */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date(iso)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

const TONES: Record<string, string> = {
  active: 'good', paid: 'good', succeeded: 'good', trialing: 'info', scheduled: 'info', draft: 'muted', open: 'info',
  paused: 'warn', past_due: 'warn', pending: 'warn', requires_action: 'warn', billing_error: 'bad', suspended: 'bad',
  failed: 'bad', uncollectible: 'bad', canceled: 'muted', void: 'muted', sent: 'good',
};

/** A status as a coloured pill ("past due"). */
export const badge = (status: string): Html => html`<span class="badge badge-${TONES[status] ?? 'muted'}">${status.replace(/_/g, ' ')}</span>`;
