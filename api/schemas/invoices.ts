import { z } from 'zod';
import { amountField, idField, netTermsField } from './fields';
import { listQuery, PageQuery } from './pagination';

export const ListInvoicesQuery = listQuery({
  subscription_id: idField.optional(),
  customer_id: idField.optional(),
  status: z.enum(['open', 'paid', 'void', 'uncollectible']).optional(),
});

export const CreatePaymentBody = z.object({ amount: amountField, reference: z.string().min(1).max(500).optional() }).strict();

const reasonField = z.string().min(1).max(500);

/** Without `amount`, everything paid and not yet refunded. */
export const CreateRefundBody = z.object({ amount: amountField.optional(), reason: reasonField.optional() }).strict();

export const CreateCreditNoteBody = z.object({ amount: amountField, reason: reasonField.optional() }).strict();

/** Stripe's invoice update: the open invoice's terms; due_at moves to issued_at + days_until_due. */
export const UpdateInvoiceBody = z.object({ days_until_due: netTermsField }).strict();

export const MarkUncollectibleBody = z.object({}).strict();

export const ListPaymentsQuery = PageQuery;
export const ListRefundsQuery = PageQuery;
export const ListCreditNotesQuery = PageQuery;
