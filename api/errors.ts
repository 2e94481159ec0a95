import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { NextFunction, Request, Response } from 'express';
import { BillingError, type BillingErrorType } from '../domain/errors';

const STATUS: Record<BillingErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  state_error: 409,
  idempotency_error: 422,
  api_error: 502,
};

/** Well-formed requests the data cannot accept. */
const UNPROCESSABLE = new Set(['currency_mismatch', 'amount_too_large']);

/** Rejections of a request that makes no sense whatever the subscription's state. */
const REQUEST_CODES = new Set(['date_in_past', 'plan_unchanged', 'currency_mismatch']);

/** A workflow update rejected by its validator or failed by its handler carries our error code. */
export function fromUpdateFailure(error: unknown): BillingError | null {
  if (!(error instanceof WorkflowUpdateFailedError) || !(error.cause instanceof ApplicationFailure)) return null;
  const code = error.cause.type ?? 'update_rejected';
  const type: BillingErrorType = code.startsWith('invalid_') || REQUEST_CODES.has(code) ? 'invalid_request_error' : 'state_error';
  return new BillingError(type, code, error.cause.message);
}

export function sendError(res: Response, error: BillingError): void {
  const status = UNPROCESSABLE.has(error.code) ? 422 : STATUS[error.type];
  res.status(status).json({ error: { type: error.type, code: error.code, message: error.message, ...(error.param ? { param: error.param } : {}) } });
}

/** The one place errors become HTTP: typed errors keep their code, anything else is a logged 500. */
export function errorHandler(error: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (error instanceof BillingError) return sendError(res, error);
  const body = error as { type?: string; status?: number };
  if (body?.type === 'entity.parse.failed') {
    return sendError(res, new BillingError('invalid_request_error', 'body_invalid_json', 'The request body is not valid JSON'));
  }
  if (body?.type === 'entity.too.large') {
    return sendError(res, new BillingError('invalid_request_error', 'body_too_large', 'The request body is too large'));
  }
  console.error(`${req.method} ${req.originalUrl} failed:`, error);
  res.status(500).json({ error: { type: 'api_error', code: 'internal_error', message: 'An internal error occurred; it has been logged' } });
}
