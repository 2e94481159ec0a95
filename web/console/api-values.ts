import type { Request } from 'express';
import type { Refusal } from '../forms';

/**
 * A form's whole number as the API's number. Anything else goes as it was typed, so the API refuses
 * it in its own words, next to the field (the console never has validation rules of its own).
 */
export const intOrText = (s: string | undefined): number | undefined => (s === undefined ? undefined : /^-?\d+$/.test(s) ? Number(s) : (s as unknown as number));

/** The API lets only admin keys change the catalog (plans, metrics, coupons); the console offers its forms to them alone. */
export const mayEditCatalog = (req: Request): boolean => req.consoleSession?.role === 'admin';

/** A form that was refused: what was typed, and the API's words. */
export interface RefusedForm {
  values: Record<string, string>;
  refusal: Refusal;
  status: number;
}

/** "20.000000" → "20", "8.8750" → "8.875", "20" stays "20": a decimal string without trailing zeros after its point. */
export const trimZeros = (decimal: string): string => (decimal.includes('.') ? decimal.replace(/\.?0+$/, '') : decimal);

/** Whether a decimal string from the API ("0.00", "0") is zero, without reading it as a float. */
export const isZero = (decimal: string | null | undefined): boolean => !decimal || /^-?0*(\.0*)?$/.test(decimal);
