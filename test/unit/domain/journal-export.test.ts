import Decimal from 'decimal.js';
import { csvField, journalHeaderLine, journalLines, quickbooksJournalNo, type Journal } from '../../../domain/journal-export';

const issued: Journal = {
  id: 'txn_ABCDEFGHIJKLMNOPQRST',
  effectiveAt: new Date('2026-06-05T10:00:00Z'),
  datedAt: null,
  sourceType: 'invoice',
  sourceId: 'in_1',
  description: 'Invoice INV-1 issued',
  currency: 'USD',
  customerName: 'Acme, "The" Company',
  lines: [
    { account: 'accounts_receivable', accountName: 'Accounts Receivable (A/R)', glCode: '1200', direction: 'debit', amount: new Decimal('110') },
    { account: 'revenue', accountName: 'Sales', glCode: null, direction: 'credit', amount: new Decimal('100.00') },
    { account: 'tax_payable', accountName: 'Tax payable', glCode: '2200', direction: 'credit', amount: new Decimal('10.000000') },
  ],
};

describe('journal export files', () => {
  it('each format has its importer\'s header row', () => {
    expect(journalHeaderLine('csv')).toBe('date,accounting_period,transaction_id,source_type,source_id,account,gl_code,debit,credit,currency,description\r\n');
    expect(journalHeaderLine('quickbooks')).toBe('Journal No.,Journal Date,Account Name,Description,Debits,Credits,Name\r\n');
    expect(journalHeaderLine('xero')).toBe('Narration,Date,Description,AccountCode,TaxRate,Amount\r\n');
  });

  it('plain CSV: a row per entry, amounts with the currency\'s two decimals, debit or credit column', () => {
    expect(journalLines('csv', issued)).toBe(
      [
        '2026-06-05,2026-06,txn_ABCDEFGHIJKLMNOPQRST,invoice,in_1,accounts_receivable,1200,110.00,,USD,Invoice INV-1 issued',
        '2026-06-05,2026-06,txn_ABCDEFGHIJKLMNOPQRST,invoice,in_1,revenue,,,100.00,USD,Invoice INV-1 issued',
        '2026-06-05,2026-06,txn_ABCDEFGHIJKLMNOPQRST,invoice,in_1,tax_payable,2200,,10.00,USD,Invoice INV-1 issued',
      ].join('\r\n') + '\r\n',
    );
  });

  it('QuickBooks: MM/DD/YYYY, the GL account name, the customer as Name, a 20-character journal number', () => {
    expect(quickbooksJournalNo(issued.id)).toBe('ABCDEFGHIJKLMNOPQRST');
    expect(journalLines('quickbooks', issued)).toBe(
      [
        'ABCDEFGHIJKLMNOPQRST,06/05/2026,Accounts Receivable (A/R),Invoice INV-1 issued,110.00,,"Acme, ""The"" Company"',
        'ABCDEFGHIJKLMNOPQRST,06/05/2026,Sales,Invoice INV-1 issued,,100.00,"Acme, ""The"" Company"',
        'ABCDEFGHIJKLMNOPQRST,06/05/2026,Tax payable,Invoice INV-1 issued,,10.00,"Acme, ""The"" Company"',
      ].join('\r\n') + '\r\n',
    );
  });

  it('Xero: dd/mm/yyyy, a narration per transaction, GL code or else the account code, debits positive and credits negative', () => {
    expect(journalLines('xero', issued)).toBe(
      [
        'Invoice INV-1 issued (txn_ABCDEFGHIJKLMNOPQRST),05/06/2026,Invoice INV-1 issued,1200,Tax Exempt,110.00',
        'Invoice INV-1 issued (txn_ABCDEFGHIJKLMNOPQRST),05/06/2026,Invoice INV-1 issued,revenue,Tax Exempt,-100.00',
        'Invoice INV-1 issued (txn_ABCDEFGHIJKLMNOPQRST),05/06/2026,Invoice INV-1 issued,2200,Tax Exempt,-10.00',
      ].join('\r\n') + '\r\n',
    );
  });

  it('amounts keep the exponent of their currency: none for JPY, three for KWD', () => {
    const yen = { ...issued, currency: 'JPY', lines: [issued.lines[0], { ...issued.lines[1], amount: new Decimal('110') }] };
    expect(journalLines('csv', yen).split('\r\n')[0]).toContain(',110,,JPY,');
    const dinar = { ...issued, currency: 'KWD', lines: [{ ...issued.lines[0], amount: new Decimal('1.5') }, { ...issued.lines[1], amount: new Decimal('1.5') }] };
    expect(journalLines('xero', dinar).split('\r\n')[1]).toMatch(/,-1\.500$/);
  });

  it('escapes per RFC 4180 and neutralises text a spreadsheet would run as a formula, never an amount', () => {
    expect(csvField({ text: 'a "quoted", line\nbreak' })).toBe('"a ""quoted"", line\nbreak"');
    for (const formula of ['=SUM(A1)', '+1', '-2', '@cmd', '\tx']) expect(csvField({ text: formula })).toBe(`'${formula}`);
    expect(csvField({ text: '=1,2' })).toBe(`"'=1,2"`);
    expect(csvField({ number: '-100.00' })).toBe('-100.00');
    const hostile = { ...issued, description: '=HYPERLINK("http://x")', customerName: '@evil' };
    expect(journalLines('quickbooks', hostile).split('\r\n')[0]).toBe(`ABCDEFGHIJKLMNOPQRST,06/05/2026,Accounts Receivable (A/R),"'=HYPERLINK(""http://x"")",110.00,,'@evil`);
  });

  it('refuses a journal that does not balance, naming the transaction', () => {
    const unbalanced = { ...issued, lines: issued.lines.slice(0, 2) };
    expect(() => journalLines('csv', unbalanced)).toThrow('ledger transaction txn_ABCDEFGHIJKLMNOPQRST does not balance in the export: debits 110, credits 100');
  });
});
