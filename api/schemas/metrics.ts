import { z } from 'zod';
import { AGGREGATIONS } from '../../domain/usage';
import { codeField, nameField } from './fields';
import { PageQuery } from './pagination';

export const CreateMetricBody = z
  .object({
    code: codeField,
    name: nameField,
    aggregation: z.enum(AGGREGATIONS),
    field: z.string().min(1).max(100).optional().describe('The event property read; required except for count'),
  })
  .strict();

export const ListMetricsQuery = PageQuery;
