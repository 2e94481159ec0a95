import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Router } from 'express';
import { z } from 'zod';
import { Customer } from '../../db/entities/customer';
import { newId } from '../../db/ids';
import { BillingError } from '../../domain/errors';
import { allow } from '../auth';
import { atomicPhase } from '../idempotency';
import { forkEm } from '../../db/orm';
import type { ApiDeps } from '../deps';
import { customerJson } from '../serializers';
import { currencyField, parse } from '../validation';
import { isTimeZone } from '../../domain/zoned-time';

export const CreateCustomer = z
  .object({
    name: z.string().trim().min(1).max(200),
    email: z.email(),
    currency: currencyField,
    external_id: z.string().min(1).max(255).optional(),
    timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as "America/New_York" or "UTC"').optional(),
  })
  .strict();

export function customersRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateCustomer, req.body);
    const customer = Object.assign(new Customer(), {
      id: newId('cus'),
      name: body.name,
      email: body.email,
      currency: body.currency,
      externalId: body.external_id ?? null,
      timezone: body.timezone ?? 'UTC',
    });
    const created = await atomicPhase<ReturnType<typeof customerJson>>(req, 'customer_created', (record) =>
      em().transactional(async (tx) => {
        tx.persist(customer);
        await tx.flush();
        await record(tx, customerJson(customer));
      }),
    ).catch((error: unknown) => {
      if (error instanceof UniqueConstraintViolationException) {
        throw new BillingError('conflict_error', 'resource_already_exists', `A customer with external_id "${body.external_id}" already exists`, 'external_id');
      }
      throw error;
    });
    res.status(201).json(created);
  });

  router.get('/:id', async (req, res) => {
    const customer = await em().findOne(Customer, { id: req.params.id });
    if (!customer) throw new BillingError('not_found_error', 'resource_missing', `No such customer: '${req.params.id}'`, 'id');
    res.json(customerJson(customer));
  });

  return router;
}
