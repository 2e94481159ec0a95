import type { EntityManager } from '@mikro-orm/postgresql';
import { refundInvoice as refundInStore } from '../db/adjustment-store';
import type { StripeGateway } from '../payments/stripe-gateway';
import { requestAmount } from './amounts';
import { withLines } from './invoices';

/**
 * Refunds what was paid on an invoice (all of what is still refundable unless `amount` says less),
 * through Stripe for card payments. `operationKey` makes a retried request resume the same refunds
 * instead of refunding again; it is the refund's key in Postgres and at Stripe.
 */
export async function refundInvoice(
  em: EntityManager,
  gateway: StripeGateway | null,
  request: { invoiceId: string; amount?: string; reason?: string; operationKey: string },
) {
  const { refunds, invoice } = await refundInStore(em, gateway, {
    invoiceId: request.invoiceId,
    amount: request.amount === undefined ? null : requestAmount(request.amount),
    reason: request.reason ?? null,
    idempotencyKey: request.operationKey,
  });
  const [after] = await withLines(em, [invoice]);
  return { refunds, ...after };
}
