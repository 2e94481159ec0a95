import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { signatures } from '../../../domain/webhook-signatures';
import { MAX_ATTEMPTS, RETRY_DELAYS_MS, verdictOf } from '../../../domain/webhook-schedule';

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;
const headers = (id: string, timestamp: number, signature: string) => ({ 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature });

describe('Standard Webhooks signatures', () => {
  const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'invoice.paid', created_at: '2027-01-01T00:00:00.000Z', data: { object: { id: 'in_1', total: '49.00' } } });
  const now = Math.floor(Date.now() / 1000);

  it('one secret: the reference library verifies the message, and nothing else', () => {
    const key = secret();
    const header = signatures([key], 'evt_1', now, body);
    expect(header).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(key).verify(body, headers('evt_1', now, header))).toEqual(JSON.parse(body));
    expect(() => new Webhook(key).verify(body.replace('49.00', '4.90'), headers('evt_1', now, header))).toThrow('No matching signature found');
    expect(() => new Webhook(key).verify(body, headers('evt_2', now, header))).toThrow('No matching signature found');
    expect(() => new Webhook(key).verify(body, headers('evt_1', now + 1, header))).toThrow('No matching signature found');
    expect(() => new Webhook(secret()).verify(body, headers('evt_1', now, header))).toThrow('No matching signature found');
  });

  it('during a rotation: two signatures, each secret verifies on its own', () => {
    const [current, previous] = [secret(), secret()];
    const header = signatures([current, previous], 'evt_1', now, body);
    expect(header.split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers('evt_1', now, header))).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, headers('evt_1', now, header))).toEqual(JSON.parse(body));
  });

  it('a secret chosen by hand (not whsec_…) signs with its own bytes, as the libraries\' raw format reads it', () => {
    const header = signatures(['provisioning_secret_for_tests'], 'evt_1', now, body);
    expect(new Webhook('provisioning_secret_for_tests', { format: 'raw' }).verify(body, headers('evt_1', now, header))).toEqual(JSON.parse(body));
  });
});

describe('the retry schedule', () => {
  it('ten attempts: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later', () => {
    expect(MAX_ATTEMPTS).toBe(10);
    expect(RETRY_DELAYS_MS.map((ms) => ms / 1000)).toEqual([5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]);
  });

  it('2xx delivers, 410 gives the endpoint up, anything else (no answer included) is tried again', () => {
    expect([200, 201, 204, 299].map(verdictOf)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(verdictOf(410)).toBe('gone');
    expect([null, 301, 400, 404, 429, 500, 503].map(verdictOf)).toEqual(Array(7).fill('failed'));
  });
});
