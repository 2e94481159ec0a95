import type { NextFunction, Request, Response } from 'express';
import { BillingError, type BillingErrorType } from '../domain/errors';
import { logger } from '../observability/logger';
import { routePattern } from './route-pattern';

/** The HTTP status of each error type. */
const STATUS: Record<BillingErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  state_error: 409,
  idempotency_error: 422,
  rate_limit_error: 429,
  api_error: 502,
};

/**
 * The codes whose type, and so status, is fixed wherever they are raised: in a store, a service,
 * the Stripe webhook, or a workflow's update validator (which knows only the code: services pass
 * its refusals on as state errors, and this table says which are the request's fault). Any other
 * code keeps the type it was raised with. This is the only place an error becomes HTTP.
 */
export const ERROR_CODES: Record<string, { type: BillingErrorType; status?: number }> = {
  // Refusals of a request that makes no sense whatever the subscription's state.
  date_in_past: { type: 'invalid_request_error' },
  plan_unchanged: { type: 'invalid_request_error' },
  quantity_unchanged: { type: 'invalid_request_error' },
  invalid_quantity: { type: 'invalid_request_error' },
  invalid_cancel_option: { type: 'invalid_request_error' },
  invalid_date: { type: 'invalid_request_error' },
  invalid_plan: { type: 'invalid_request_error' },
  invalid_proration: { type: 'invalid_request_error' },
  invalid_request: { type: 'invalid_request_error' },
  // Well-formed requests the data cannot accept.
  currency_mismatch: { type: 'invalid_request_error', status: 422 },
  amount_too_large: { type: 'invalid_request_error', status: 422 },
  // The request itself, before any route reads it.
  body_invalid_json: { type: 'invalid_request_error' },
  body_too_large: { type: 'invalid_request_error', status: 413 },
  // GET /metrics when METRICS_TOKEN is set.
  metrics_token_missing: { type: 'authentication_error' },
  metrics_token_invalid: { type: 'authentication_error' },
  route_missing: { type: 'not_found_error' },
  path_invalid: { type: 'invalid_request_error' },
  // The Stripe webhook: an unsigned or forged event changes nothing; an unfinished one is sent again.
  webhooks_not_configured: { type: 'not_found_error' },
  signature_missing: { type: 'invalid_request_error' },
  signature_invalid: { type: 'invalid_request_error' },
  refund_pending: { type: 'api_error' },
  // A journal that does not balance cannot be exported (the database refuses one, so this is a bug).
  journal_unbalanced: { type: 'api_error', status: 500 },
  // Anything unexpected: logged, and answered without details.
  internal_error: { type: 'api_error', status: 500 },
};

/** The response for an error: its status and Stripe's envelope. */
export function errorResponse(error: BillingError): { status: number; body: { error: { type: BillingErrorType; code: string; message: string; param?: string } } } {
  const known = ERROR_CODES[error.code];
  const type = known?.type ?? error.type;
  return {
    status: known?.status ?? STATUS[type],
    body: { error: { type, code: error.code, message: error.message, ...(error.param ? { param: error.param } : {}) } },
  };
}

export function sendError(res: Response, error: BillingError): void {
  const { status, body } = errorResponse(error);
  res.status(status).json(body);
}

/** Express's own failures (body parsing) as our errors; typed errors keep their code; anything else is a logged 500. */
export function errorHandler(error: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (error instanceof BillingError) return sendError(res, error);
  const body = error as { type?: string; status?: number };
  if (body?.type === 'entity.parse.failed') return sendError(res, new BillingError('invalid_request_error', 'body_invalid_json', 'The request body is not valid JSON'));
  if (body?.type === 'entity.too.large') return sendError(res, new BillingError('invalid_request_error', 'body_too_large', 'The request body is too large'));
  // A path segment the router cannot percent-decode (%C3 alone): the request's fault, not ours.
  if (error instanceof URIError) return sendError(res, new BillingError('invalid_request_error', 'path_invalid', 'The request path is not valid percent-encoding'));
  // Pages' paths may carry portal tokens: those are named by their route only.
  const path = req.originalUrl.split('?')[0];
  const route = routePattern(req.method, path);
  (req.log ?? logger).error({ requestId: req.requestId, err: error, method: req.method, route, ...(path.startsWith('/v1/') ? { path } : {}) }, `${req.method} ${route} failed`);
  sendError(res, new BillingError('api_error', 'internal_error', 'An internal error occurred; it has been logged'));
}
