import { z } from 'zod';
import { amountField, codeField, currencyField, idField, netTermsField, priceField, unitsField } from './fields';
import { listQuery, PageQuery } from './pagination';

export const ListInvoicesQuery = listQuery({
  subscription_id: idField.optional(),
  customer_id: idField.optional(),
  status: z.enum(['draft', 'open', 'paid', 'void', 'uncollectible']).optional(),
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

/** A one-off invoice's line: a one-time add-on (its name and price unless given), or a description with its price. */
const OneOffLineBody = z
  .object({
    add_on_code: codeField.optional(),
    description: z.string().trim().min(1).max(500).optional(),
    quantity: unitsField.optional(),
    unit_amount: priceField.optional(),
  })
  .strict()
  .refine((l) => l.add_on_code !== undefined || (l.description !== undefined && l.unit_amount !== undefined), {
    message: 'must name an add_on_code, or give a description and a unit_amount',
  })
  .refine((l) => l.quantity === undefined || Number(l.quantity) > 0, { message: 'quantity must be more than 0', path: ['quantity'] });

/** Stripe's one-off invoice: issued at once; `collect` charges the card on file, otherwise it waits for a payment by hand. */
export const CreateInvoiceBody = z
  .object({
    customer_id: idField,
    currency: currencyField,
    lines: z.array(OneOffLineBody).min(1).max(100),
    collect: z.boolean().optional(),
  })
  .strict();

/** A line added to a draft invoice: quantity x unit_amount, rounded once; a negative unit_amount is a credit line. */
export const AddInvoiceLineBody = z
  .object({
    description: z.string().trim().min(1).max(500),
    quantity: unitsField.optional().describe('Units, more than 0 (default 1)'),
    unit_amount: z
      .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "25.00", not a number') })
      .regex(/^-?\d{1,24}(\.\d{1,12})?$/, 'must be a decimal string with at most 12 decimals, such as "25.00" (or "-5.00" for a credit)'),
  })
  .strict()
  .refine((l) => l.quantity === undefined || Number(l.quantity) > 0, { message: 'quantity must be more than 0', path: ['quantity'] });

export const FinalizeInvoiceBody = z.object({}).strict();

export const VoidInvoiceBody = z.object({}).strict();
