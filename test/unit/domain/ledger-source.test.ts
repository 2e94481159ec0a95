import { ledgerSource } from '../../../domain/ledger';

describe('ledgerSource', () => {
  it.each([
    ['invoice:in_1:issued', 'invoice', 'in_1'],
    ['invoice:in_1:credit_applied', 'invoice', 'in_1'],
    ['invoice:in_1:recognized', 'invoice', 'in_1'],
    ['invoice:in_1:voided', 'invoice', 'in_1'],
    ['invoice:in_1:written_off', 'write_off', 'in_1'],
    ['invoice:in_1:recovered', 'write_off', 'in_1'],
    ['invoice:in_1:recovered:cn_7', 'write_off', 'in_1'],
    ['invoice:in_1:recovered:pi_3', 'write_off', 'in_1'],
    ['payment:pay_2', 'payment', 'pay_2'],
    ['payment:pay_2:excess', 'payment', 'pay_2'],
    ['refund:rf_3', 'refund', 'rf_3'],
    ['credit_note:cn_4', 'credit_note', 'cn_4'],
    ['revenue_recognition:2026-06-15:USD', 'revenue_recognition', '2026-06-15'],
    ['revenue_recognition:2026-06:EUR', 'revenue_recognition', '2026-06'],
    ['invoice:in_1:wallet_applied', 'invoice', 'in_1'],
    ['invoice:in_1:wallet_restored', 'invoice', 'in_1'],
    ['wallet_transaction:wtx_5', 'wallet', 'wtx_5'],
  ])('%s comes from %s %s', (key, type, id) => {
    expect(ledgerSource(key)).toEqual({ type, id });
  });

  it.each(['', 'invoice:in_1', 'invoice:in_1:paid', 'payment:', 'refund:rf_1:again', 'revenue_recognition:June:USD', 'txn_integrity_1', 'wallet_transaction:', 'wallet_transaction:wtx_1:again'])(
    'refuses the unknown key shape %j, naming it',
    (key) => {
      expect(() => ledgerSource(key)).toThrow(`ledger idempotency key "${key}" has no known source shape`);
    },
  );
});
