import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Stripe-style identifiers: a prefix naming the resource, then 20 random base62 characters. */
export type IdPrefix = 'cus' | 'plan' | 'sub' | 'in' | 'il' | 'py' | 'txn' | 'bm' | 'chg' | 'coupon' | 'ac' | 'txr' | 'cbt' | 'pa' | 'rf' | 'cn' | 'pe' | 'em' | 'pm' | 'rob' | 'wal' | 'wtx' | 'addon' | 'si' | 'bps' | 'evt' | 'we' | 'whd' | 'wha' | 'key' | 'aud' | 'req';

export function newId(prefix: IdPrefix): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 62];
  return `${prefix}_${out}`;
}
