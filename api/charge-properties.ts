import type { ChargeProperties } from '../domain/charge-properties';
import type { PropertiesParser } from '../services/plans';
import { CHARGE_PROPERTIES } from './schemas/plans';
import { parse } from './validation';

/** A charge's properties are read by its model's schema once the model is known (a plan's charges, a contract's overrides). */
export const parseProperties: PropertiesParser = (model, properties, param) => parse(CHARGE_PROPERTIES[model], properties, param) as ChargeProperties;
