import { BillingError } from '../domain/errors';
import { fitsCurrency, parseAmount } from '../domain/money';
import type Decimal from 'decimal.js';

/** The checks an amount from a request passes before it is stored. */

/** Money columns are numeric(30, 6): an amount stored as given has at most 24 digits before the point. */
const MAX_INTEGER_DIGITS = 24;

export function assertStorableAmount(amount: string, param: string): void {
  if (amount.split('.')[0].replace(/^0+/, '').length > MAX_INTEGER_DIGITS) {
    throw new BillingError('invalid_request_error', 'amount_invalid', `${param} "${amount}" is too large: at most ${MAX_INTEGER_DIGITS} digits before the decimal point`, param);
  }
}

export function assertFitsCurrency(amount: string, currency: string, param: string): void {
  if (!fitsCurrency(amount, currency)) {
    throw new BillingError('invalid_request_error', 'amount_invalid', `${param} "${amount}" has more decimals than ${currency} allows`, param);
  }
}

/** An amount given in a request, checked to fit its column. */
export function requestAmount(text: string, param = 'amount'): Decimal {
  assertStorableAmount(text, param);
  return parseAmount(text);
}
