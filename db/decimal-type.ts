import { Type } from '@mikro-orm/core';
import Decimal from 'decimal.js';
import { decimalString } from '../domain/money';

/** numeric <-> Decimal, through strings only, so no amount ever passes through a float. */
export class DecimalType extends Type<Decimal, string> {
  override convertToDatabaseValue(value: Decimal | string): string {
    // Nullable columns hand null through unchanged.
    return value === null ? (null as unknown as string) : decimalString(value);
  }

  override convertToJSValue(value: Decimal | string): Decimal {
    return value === null ? (null as unknown as Decimal) : new Decimal(value);
  }

  override compareAsType(): string {
    return 'string';
  }

  override getColumnType(): string {
    return 'numeric(30,6)';
  }
}
