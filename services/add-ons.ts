import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { AddOn } from '../db/entities/add-on';
import { newId } from '../db/ids';
import { findPage, type Page, type PageRequest } from '../db/pagination';
import { BillingError } from '../domain/errors';
import type { Interval } from '../domain/period';
import { assertFitsCurrency, assertStorableAmount } from './amounts';

export interface AddOnFields {
  code: string;
  name: string;
  amount: string;
  currency: string;
  /** Absent: billed once. */
  interval?: Interval;
  interval_count?: number;
}

export async function addOnOf(em: EntityManager, code: string, param = 'code'): Promise<AddOn> {
  const addOn = await em.findOne(AddOn, { code });
  if (!addOn) throw new BillingError(param === 'code' ? 'not_found_error' : 'invalid_request_error', 'resource_missing', `No such add-on: '${code}'`, param);
  return addOn;
}

/** A new add-on of the catalog; `stored` runs inside its transaction (the request's record of it). */
export async function createAddOn(em: EntityManager, fields: AddOnFields, stored: (tx: EntityManager, addOn: AddOn) => Promise<void>): Promise<void> {
  assertFitsCurrency(fields.amount, fields.currency, 'amount');
  assertStorableAmount(fields.amount, 'amount');
  if (fields.interval_count !== undefined && fields.interval === undefined) {
    throw new BillingError('invalid_request_error', 'parameter_invalid', 'interval_count needs an interval: a one-time add-on has no cadence', 'interval_count');
  }
  const conflict = () => new BillingError('conflict_error', 'resource_already_exists', `An add-on with code "${fields.code}" already exists`, 'code');
  if (await em.findOne(AddOn, { code: fields.code })) throw conflict();
  const addOn = Object.assign(new AddOn(), {
    id: newId('addon'),
    code: fields.code,
    name: fields.name,
    amount: new Decimal(fields.amount),
    currency: fields.currency,
    interval: fields.interval ?? null,
    intervalCount: fields.interval ? (fields.interval_count ?? 1) : null,
    createdAt: new Date(),
  });
  try {
    await em.transactional(async (tx) => {
      tx.persist(addOn);
      await tx.flush();
      await stored(tx, addOn);
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw conflict();
    throw error;
  }
}

/** Newest first. */
export function listAddOns(em: EntityManager, page: PageRequest): Promise<Page<AddOn>> {
  return findPage(em, AddOn, {}, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'add-on' }, page);
}
