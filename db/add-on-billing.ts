import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { addOnFeeLine, isRecurring, oneOffLine, sameCadenceAs, setupLine, type AddOnTerms } from '../domain/add-ons';
import type { InvoiceLineInput } from '../domain/invoice';
import { AddOn, SubscriptionAddOn } from './entities/add-on';
import type { Invoice, InvoiceLine } from './entities/invoice';
import { Plan } from './entities/plan';
import type { Subscription } from './entities/subscription';
import type { FeeSegment } from './invoice-store';

/** What a subscription's invoice is: a renewal bills recurring add-ons and may bill the setup fee. */
export interface ExtrasScope {
  renewal: boolean;
  issuedAt: Date;
  /** Lock the one-time add-ons this invoice consumes (issuing, not previewing). */
  lock: boolean;
}

export interface SubscriptionExtras {
  lines: InvoiceLineInput[];
  /** One-time add-ons billed on this invoice: consumed in its transaction. */
  oneTime: SubscriptionAddOn[];
  /** The invoice is the subscription's first to bill a fee: its setup fee (if any) is decided with it. */
  firstFee: boolean;
}

export const addOnTerms = (a: AddOn): AddOnTerms => ({
  id: a.id,
  name: a.name,
  amount: a.amount,
  currency: a.currency,
  interval: a.interval ?? null,
  intervalCount: a.intervalCount ?? null,
});

/**
 * The lines a subscription's invoice carries besides its plan's fee and usage:
 * - on a renewal, each recurring add-on active at the period's start, for the share of the period
 *   the plan's fee bills (one whose cadence no longer matches the plan's, after a change of
 *   interval, is left out);
 * - the setup fee of the plan of the first fee the subscription ever bills, on a renewal (the first
 *   invoice after a trial is one; a plan change or a resume never bills it, and a subscription billed
 *   once has its row in subscription_setup_fees);
 * - every one-time add-on attached by then and not billed yet, on any invoice of the subscription.
 */
export async function subscriptionExtras(em: EntityManager, subscription: Subscription, fees: FeeSegment[], scope: ExtrasScope): Promise<SubscriptionExtras> {
  const lines: InvoiceLineInput[] = [];
  const items = await em.find(
    SubscriptionAddOn,
    { subscriptionId: subscription.id, $or: [{ removedAt: null }, { removedAt: { $gt: scope.issuedAt } }] },
    { orderBy: { addedAt: 'asc', id: 'asc' } },
  );
  const addOns = new Map((await em.find(AddOn, { id: [...new Set(items.map((i) => i.addOnId))] })).map((a) => [a.id, a]));
  const fee = fees.find((f) => !f.credit);
  let firstFee = false;
  if (scope.renewal && fee) {
    const plan = await em.findOneOrFail(Plan, { id: fee.planId });
    for (const item of items) {
      const addOn = addOns.get(item.addOnId)!;
      const active = item.addedAt <= fee.from && (!item.removedAt || item.removedAt > fee.from);
      // The same share of its period as the plan's fee (a calendar-aligned first period is partial).
      if (isRecurring(addOn) && active && sameCadenceAs(addOn, plan)) {
        lines.push(addOnFeeLine(addOnTerms(addOn), item.quantity, { period: fee.period, from: fee.from, to: fee.to, credit: false }));
      }
    }
    const [decided] = await em.execute<Array<{ subscription_id: string }>>('select subscription_id from subscription_setup_fees where subscription_id = ?', [subscription.id]);
    firstFee = !decided;
    if (firstFee && plan.setupFee) lines.push(setupLine({ name: plan.name, setupFee: plan.setupFee }, fee.from));
  }
  const dueOnce = items.filter((i) => !isRecurring(addOns.get(i.addOnId)!) && !i.billedInvoiceId && !i.removedAt && i.addedAt <= scope.issuedAt);
  const oneTime = scope.lock && dueOnce.length > 0
    ? await em.find(SubscriptionAddOn, { id: dueOnce.map((i) => i.id), billedInvoiceId: null }, { orderBy: { addedAt: 'asc', id: 'asc' }, lockMode: LockMode.PESSIMISTIC_WRITE })
    : dueOnce;
  for (const item of oneTime) {
    const addOn = addOns.get(item.addOnId)!;
    lines.push(oneOffLine({ description: addOn.name, quantity: item.quantity, unitAmount: addOn.amount, addOnId: addOn.id }, addOn.currency, scope.issuedAt));
  }
  return { lines, oneTime, firstFee };
}

/**
 * In the invoice's transaction: the one-time add-ons it billed are consumed (by this invoice only:
 * one consumed meanwhile rolls the invoice back), and the subscription's setup fee is decided, once
 * (the primary key of subscription_setup_fees refuses a second decision).
 */
export async function recordExtrasBilled(tx: EntityManager, subscription: Subscription, extras: SubscriptionExtras, invoice: Invoice, lines: InvoiceLine[]): Promise<void> {
  for (const item of extras.oneTime) {
    const consumed = await tx.execute<{ affectedRows: number }>(
      'update subscription_add_ons set billed_invoice_id = ? where id = ? and billed_invoice_id is null',
      [invoice.id, item.id],
      'run',
    );
    if (consumed.affectedRows !== 1) throw new Error(`one-time add-on ${item.id} was billed by another invoice meanwhile`);
  }
  if (extras.firstFee) {
    const setup = lines.find((l) => l.kind === 'setup') ?? null;
    await tx.execute('insert into subscription_setup_fees (subscription_id, invoice_id, invoice_line_id) values (?, ?, ?)', [subscription.id, invoice.id, setup?.id ?? null]);
  }
}
