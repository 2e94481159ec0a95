import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { decimalString } from '../domain/money';
import { Invoice } from './entities/invoice';
import { issueOneOffInvoice } from './one-off-invoice-store';
import { settlePurchases } from './wallet-store';

interface PurchaseRow {
  id: string;
  wallet_id: string;
  wallet_name: string | null;
  customer_id: string;
  currency: string;
  rate: string;
  credits: string;
  effective_at: Date;
}

/**
 * Issues the invoice of each wallet purchase not invoiced yet (bought through the API, or an automatic
 * top-up a consumption started), one `prepaid_credit` line of credits x rate, dated when the credits
 * were bought and collected by card. Once per purchase: the invoice's key is
 * `wallet_transaction:<id>`, and the purchase row is locked while it is issued and linked, in the
 * same transaction. A purchase whose invoice came out paid (customer credit covered it) counts at once.
 * Returns the invoices issued, for their collection to be started after commit.
 */
export async function invoiceWalletPurchases(em: EntityManager, scope: { customerId?: string; purchaseId?: string } = {}): Promise<Invoice[]> {
  const filter = scope.purchaseId ? 'and t.id = ?' : scope.customerId ? 'and w.customer_id = ?' : '';
  const rows = await em.fork().execute<PurchaseRow[]>(
    `select t.id, t.wallet_id, w.name as wallet_name, w.customer_id, w.currency, w.rate::text as rate, t.credits::text as credits, t.effective_at
       from wallet_transactions t join wallets w on w.id = t.wallet_id
      where t.kind = 'purchased' and t.status = 'pending' and t.invoice_id is null ${filter}
      order by t.created_at, t.id`,
    scope.purchaseId ? [scope.purchaseId] : scope.customerId ? [scope.customerId] : [],
  );
  const issued: Invoice[] = [];
  for (const row of rows) {
    const invoice = await em.fork().transactional(async (tx) => {
      const [still] = await tx.execute<Array<{ invoice_id: string | null }>>('select invoice_id from wallet_transactions where id = ? for update', [row.id]);
      if (still.invoice_id) return null;
      const credits = new Decimal(row.credits);
      const invoice = await issueOneOffInvoice(
        tx,
        {
          key: `wallet_transaction:${row.id}`,
          customerId: row.customer_id,
          currency: row.currency.trim(),
          lines: [
            {
              kind: 'prepaid_credit',
              description: `${decimalString(credits)} prepaid credits${row.wallet_name ? ` (${row.wallet_name})` : ''}`,
              quantity: credits,
              unitAmount: new Decimal(row.rate),
            },
          ],
          collect: true,
          issuedAt: new Date(row.effective_at),
          subscriptionId: null,
        },
        tx,
      );
      // The credits are worth what their line asks, to the cent the ledger's prepayment holds.
      const [line] = await tx.execute<Array<{ amount: string }>>(`select coalesce(sum(amount), 0)::text as amount from invoice_lines where invoice_id = ? and kind = 'prepaid_credit'`, [invoice.id]);
      await tx.execute('update wallet_transactions set invoice_id = ?, amount = ?, paid_amount = ? where id = ?', [invoice.id, line.amount, line.amount, row.id]);
      await settlePurchases(tx, { invoiceId: invoice.id });
      return invoice;
    });
    if (invoice) issued.push(invoice);
  }
  return issued;
}

/** Purchase invoices still open and asking money, for a sweep to make sure each is being collected. */
export async function openPurchaseInvoices(em: EntityManager): Promise<Invoice[]> {
  const rows = await em.fork().execute<Array<{ invoice_id: string }>>(
    `select t.invoice_id from wallet_transactions t join invoices i on i.id = t.invoice_id
      where t.kind = 'purchased' and t.status = 'pending' and i.status = 'open' and i.amount_due > 0`,
  );
  return rows.length === 0 ? [] : em.fork().find(Invoice, { id: { $in: rows.map((r) => r.invoice_id) } });
}
