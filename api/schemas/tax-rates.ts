import { z } from 'zod';
import { codeField, nameField, percentField } from './fields';
import { PageQuery } from './pagination';

export const CreateTaxRateBody = z.object({ code: codeField, name: nameField, percentage: percentField, inclusive: z.boolean().optional() }).strict();

export const ListTaxRatesQuery = PageQuery;
