import { EntitySchema } from '@mikro-orm/core';

export class Customer {
  id!: string;
  name!: string;
  email!: string;
  currency!: string;
  externalId?: string | null;
  /** IANA time zone; billing periods are computed on this clock. */
  timezone = 'UTC';
  /** Days the customer has to pay an invoice; each invoice copies it when issued (0: due on issue). */
  netTermsDays = 0;
  /** Days a renewal invoice waits as a draft before it is finalised (0: finalised at once). */
  invoiceGracePeriodDays = 0;
  stripeCustomerId?: string | null;
  /** The Stripe payment method charged off-session. */
  defaultPaymentMethod?: string | null;
  createdAt: Date = new Date();
}

export const CustomerSchema = new EntitySchema<Customer>({
  class: Customer,
  tableName: 'customers',
  properties: {
    id: { type: 'string', primary: true },
    name: { type: 'string' },
    email: { type: 'string' },
    currency: { type: 'string' },
    externalId: { type: 'string', nullable: true },
    timezone: { type: 'string' },
    netTermsDays: { type: 'integer' },
    invoiceGracePeriodDays: { type: 'integer' },
    stripeCustomerId: { type: 'string', nullable: true },
    defaultPaymentMethod: { type: 'string', nullable: true },
    createdAt: { type: 'Date' },
  },
});
