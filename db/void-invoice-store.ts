import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { invoiceVoided, type AccountCode, type EntryDraft } from '../domain/ledger';
import { CustomerBalanceTransaction } from './entities/adjustments';
import { Invoice, InvoiceLine, invoiceName } from './entities/invoice';
import { RevenueObligation } from './entities/revenue';
import { newId } from './ids';
import { postTransaction } from './ledger-store';
import { invoiceEvent } from './resource-events';
import { restoreWalletConsumption } from './wallet-store';


/** The entries the invoice's issue and customer-credit postings made, to be reversed. */
async function issueEntries(tx: EntityManager, invoiceId: string): Promise<EntryDraft[]> {
  const rows = await tx.execute<Array<{ account_code: AccountCode; direction: 'debit' | 'credit'; amount: string }>>(
    `select e.account_code, e.direction, e.amount::text as amount
       from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
      where t.idempotency_key in (?, ?)
      order by t.created_at, e.id`,
    [`invoice:${invoiceId}:issued`, `invoice:${invoiceId}:credit_applied`],
  );
  return rows.map((r) => ({ account: r.account_code, direction: r.direction, amount: new Decimal(r.amount) }));
}

/**
 * Voids an open invoice nothing has been paid on, at `at`, in one transaction: it keeps its number;
 * the ledger (`invoice:<id>:voided`) reverses its issue and credit postings and what revenue
 * recognition had already recognised of it, so it leaves no revenue, deferred revenue or
 * receivable; its revenue obligations recognise nothing more; customer credit it used goes back to
 * the customer and wallet credit to its wallets. `stored` runs inside the transaction (the
 * request's record of it). The void is dated `at`, or the invoice's finalisation if that is later.
 * A draft is refused (it has no number and nothing posted: add a credit line to it instead), and so
 * are invoices paid in part or in full, credited, written off or void already.
 */
export async function voidInvoice(
  em: EntityManager,
  invoiceId: string,
  at: Date,
  stored: (tx: EntityManager, outcome: { invoice: Invoice; lines: InvoiceLine[] }) => Promise<void> = async () => undefined,
): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const invoice = await tx.findOne(Invoice, { id: invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!invoice) throw new BillingError('not_found_error', 'resource_missing', `No such invoice: '${invoiceId}'`, 'id');
    const name = invoiceName(invoice);
    if (invoice.status === 'void') throw new BillingError('state_error', 'invoice_already_void', `invoice ${name} is void already`);
    if (invoice.status === 'draft') {
      throw new BillingError('state_error', 'invoice_draft', `invoice ${name} is a draft: it has no number and nothing posted to void; add a credit line to it or finalise it first`);
    }
    if (invoice.status !== 'open') {
      const advice = invoice.status === 'paid' ? '; issue a credit note or a refund instead' : '';
      throw new BillingError('state_error', 'invoice_not_voidable', `invoice ${name} is ${invoice.status}; only an open invoice with no payment can be voided${advice}`);
    }
    const [paid] = await tx.execute<Array<{ payments: number; in_flight: number }>>(
      `select (select count(*)::int from payments where invoice_id = ?) as payments,
              (select count(*)::int from payment_attempts where invoice_id = ? and status in ('pending', 'processing', 'succeeded')) as in_flight`,
      [invoice.id, invoice.id],
    );
    if (invoice.amountPaid.gt(0) || paid.payments > 0) {
      throw new BillingError('state_error', 'invoice_partially_paid', `invoice ${name} has payments; issue a credit note or a refund instead of voiding it`);
    }
    if (paid.in_flight > 0) {
      throw new BillingError('state_error', 'payment_in_flight', `a card payment of invoice ${name} is in flight; void it once its result is known`);
    }
    if (invoice.amountCredited.gt(0)) {
      throw new BillingError('state_error', 'invoice_credited', `invoice ${name} has credit notes; credit the rest of it instead of voiding it`);
    }

    const finalised = invoice.finalizedAt ?? invoice.issuedAt;
    if (at < finalised) at = finalised;
    const obligations = await tx.find(RevenueObligation, { invoiceId: invoice.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { id: 'asc' } });
    const recognised = { revenue: new Decimal(0), discount: new Decimal(0) };
    for (const o of obligations) {
      recognised.revenue = recognised.revenue.plus(o.recognizedRevenue);
      recognised.discount = recognised.discount.plus(o.recognizedDiscount);
      o.voidedAt = at;
    }
    invoice.status = 'void';
    invoice.voidedAt = at;
    await tx.flush();

    const posting = invoiceVoided({ id: invoice.id, number: name, currency: invoice.currency, at }, await issueEntries(tx, invoice.id), recognised);
    if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    if (invoice.creditApplied.gt(0)) {
      tx.create(CustomerBalanceTransaction, {
        id: newId('cbt'),
        customerId: invoice.customerId,
        currency: invoice.currency,
        amount: invoice.creditApplied,
        invoiceId: invoice.id,
        kind: 'invoice_voided',
        createdAt: new Date(),
      });
      await tx.flush();
    }
    await restoreWalletConsumption(tx, invoice.id, at);
    await invoiceEvent(tx, 'invoice.voided', invoice);
    await stored(tx, { invoice, lines: await tx.find(InvoiceLine, { invoiceId: invoice.id }, { orderBy: { position: 'asc' } }) });
  });
}
