import { EntitySchema } from '@mikro-orm/core';

export class Customer {
  id!: string;
  name!: string;
  email!: string;
  currency!: string;
  externalId?: string | null;
  /** IANA time zone; billing periods are computed on this clock. */
  timezone = 'UTC';
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
    createdAt: { type: 'Date' },
  },
});
