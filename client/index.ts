import createClient, { type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

/**
 * A typed client of the Perennial API: openapi-fetch over the types `npm run generate:client`
 * writes from the OpenAPI document (client/schema.d.ts). A change to the API that breaks a caller
 * fails type-checking there.
 *
 *   const api = perennialClient('http://127.0.0.1:3000', key);
 *   const { data, error, response } = await api.POST('/v1/customers', { body: { name, email, currency } });
 */
export type { components, operations, paths };

/** The resources and request bodies by name: Schemas['Invoice'], Schemas['CreateCustomerRequest']. */
export type Schemas = components['schemas'];

export type ApiError = Schemas['Error'];

export function perennialClient(baseUrl: string, key: string | null, options: Omit<ClientOptions, 'baseUrl'> = {}) {
  return createClient<paths>({ ...options, baseUrl, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(options.headers as Record<string, string> | undefined) } });
}

export type PerennialClient = ReturnType<typeof perennialClient>;
