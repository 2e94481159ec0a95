import { randomBytes } from 'node:crypto';
import { portalSessionIdFor, signPortalToken, verifyPortalToken } from '../../db/portal-sessions';

/** A portal token opens one customer's portal until its expiry, and nothing else. */
describe('portal tokens', () => {
  const secret = randomBytes(32);
  const now = new Date('2027-03-04T10:00:00Z');
  const claims = { sessionId: 'bps_AAAAAAAAAAAAAAAAAAAA', customerId: 'cus_BBBBBBBBBBBBBBBBBBBB', expiresAt: new Date('2027-03-04T11:00:00Z') };

  it('gives back the session, customer and expiry it was signed over', () => {
    expect(verifyPortalToken(secret, signPortalToken(secret, claims), now)).toEqual({ ok: true, claims });
  });

  it('is refused as expired at its expiry and after', () => {
    const token = signPortalToken(secret, claims);
    expect(verifyPortalToken(secret, token, new Date('2027-03-04T10:59:59Z')).ok).toBe(true);
    expect(verifyPortalToken(secret, token, claims.expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });

  it('is refused when another customer, another session or a later expiry is written into it', () => {
    const [session, customer, expiry, signature] = signPortalToken(secret, claims).split('.');
    for (const altered of [
      [session, 'cus_CCCCCCCCCCCCCCCCCCCC', expiry, signature],
      ['bps_DDDDDDDDDDDDDDDDDDDD', customer, expiry, signature],
      [session, customer, String(Number(expiry) + 86_400), signature],
      [session, customer, expiry, signature.slice(0, -1) + (signature.endsWith('A') ? 'B' : 'A')],
    ]) {
      expect(verifyPortalToken(secret, altered.join('.'), now)).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  it('is refused under another deployment\'s secret, and when it is not a token at all', () => {
    expect(verifyPortalToken(randomBytes(32), signPortalToken(secret, claims), now)).toEqual({ ok: false, reason: 'invalid' });
    for (const garbage of ['', 'a.b.c', 'a.b.c.d.e', `${claims.sessionId}.${claims.customerId}.soon.sig`, '../../etc.passwd.1.x']) {
      expect(verifyPortalToken(secret, garbage, now)).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  it('an expired token is only said to be expired when it is genuine', () => {
    const past = { ...claims, expiresAt: new Date('2027-03-04T09:00:00Z') };
    const [session, customer, expiry, signature] = signPortalToken(secret, past).split('.');
    expect(verifyPortalToken(secret, [session, customer, expiry, signature].join('.'), now)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyPortalToken(secret, [session, 'cus_CCCCCCCCCCCCCCCCCCCC', expiry, signature].join('.'), now)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('derives one session id per e-mail key', () => {
    const id = portalSessionIdFor('payment_failed:in_1:attempt-2');
    expect(id).toMatch(/^bps_[0-9A-Za-z]{20}$/);
    expect(portalSessionIdFor('payment_failed:in_1:attempt-2')).toBe(id);
    expect(portalSessionIdFor('payment_failed:in_1:attempt-3')).not.toBe(id);
  });
});
