import { z } from 'zod';
import { ROLES } from '../../config/env';
import { nameField } from './fields';
import { PageQuery } from './pagination';

export const CreateApiKeyBody = z
  .object({
    name: nameField.describe('What the key is for, e.g. "billing-sync in production"'),
    role: z.enum(ROLES as [string, ...string[]]).describe('admin (everything), support (acts on customers), readonly (reads)'),
  })
  .strict();

export const ListApiKeysQuery = PageQuery;
