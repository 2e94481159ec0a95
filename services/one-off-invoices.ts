import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import Decimal from 'decimal.js';
import { AddOn } from '../db/entities/add-on';
import { newId } from '../db/ids';
import { issueOneOffInvoice, type OneOffLineRequest } from '../db/one-off-invoice-store';
import { isRecurring } from '../domain/add-ons';
import { BillingError } from '../domain/errors';
import { assertStorableAmount } from './amounts';
import { startCollection } from './invoice-collection';
import { invoiceWithLines, type InvoiceWithLines } from './invoices';
import { customerOf } from './lookups';
import type { Phase } from './phases';

export interface NewOneOffInvoice {
  customerId: string;
  currency: string;
  /** Each line names a one-time add-on (its name and price unless given) or describes itself with a price. */
  lines: Array<{ addOnCode?: string; description?: string; quantity: string; unitAmount?: string }>;
  collect: boolean;
}

async function linesOf(em: EntityManager, input: NewOneOffInvoice): Promise<OneOffLineRequest[]> {
  const codes = input.lines.flatMap((l) => (l.addOnCode ? [l.addOnCode] : []));
  const addOns = new Map((codes.length ? await em.find(AddOn, { code: codes }) : []).map((a) => [a.code, a]));
  return input.lines.map((line, i) => {
    const param = `lines.${i}`;
    if (line.unitAmount !== undefined) assertStorableAmount(line.unitAmount, `${param}.unit_amount`);
    assertStorableAmount(line.quantity, `${param}.quantity`);
    const quantity = new Decimal(line.quantity);
    if (!line.addOnCode) {
      return { kind: 'one_off', description: line.description!, quantity, unitAmount: new Decimal(line.unitAmount!) };
    }
    const addOn = addOns.get(line.addOnCode);
    if (!addOn) throw new BillingError('invalid_request_error', 'resource_missing', `No such add-on: '${line.addOnCode}'`, `${param}.add_on_code`);
    if (addOn.currency !== input.currency) {
      throw new BillingError('invalid_request_error', 'currency_mismatch', `Add-on ${addOn.code} is priced in ${addOn.currency} but the invoice is in ${input.currency}`, `${param}.add_on_code`);
    }
    if (isRecurring(addOn)) {
      throw new BillingError(
        'invalid_request_error',
        'add_on_recurring',
        `Add-on ${addOn.code} recurs every ${addOn.intervalCount} ${addOn.interval}; attach it to a subscription (POST /v1/subscriptions/{id}/add_ons) rather than invoicing it once`,
        `${param}.add_on_code`,
      );
    }
    const unitAmount = line.unitAmount !== undefined ? new Decimal(line.unitAmount) : addOn.amount;
    return { kind: 'one_off', description: line.description ?? addOn.name, quantity, unitAmount, addOnId: addOn.id };
  });
}

/**
 * Issues a one-off invoice (taxed, discounted and numbered like every invoice) and, with `collect`,
 * starts charging it to the customer's card; otherwise it stays open for a payment by hand.
 */
export async function createOneOffInvoice(deps: { em: EntityManager; temporal: Client; taskQueue: string }, input: NewOneOffInvoice, phase: Phase): Promise<InvoiceWithLines> {
  const { em, temporal, taskQueue } = deps;
  const customer = await customerOf(em, input.customerId, 'customer_id');
  const lines = await linesOf(em, input);
  // Chosen once per Idempotency-Key, so a retry issues nothing twice.
  const reserved = await phase<{ key: string; now: string }>('invoice_reserved', (record) => record(null, { key: `one_off:${newId('in')}`, now: new Date().toISOString() }));
  const issued = await phase<{ invoiceId: string }>('invoice_issued', async (record) => {
    const invoice = await issueOneOffInvoice(em, { key: reserved.key, customerId: customer.id, currency: input.currency, lines, collect: input.collect, issuedAt: new Date(reserved.now) });
    await record(null, { invoiceId: invoice.id });
  });
  const found = await invoiceWithLines(em, issued.invoiceId);
  await startCollection(temporal, taskQueue, found.invoice);
  return found;
}
