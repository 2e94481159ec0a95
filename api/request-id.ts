import type { NextFunction, Request, Response } from 'express';
import { newId } from '../db/ids';

declare module 'express-serve-static-core' {
  interface Request {
    /** `req_…`, answered in the Request-Id header; log lines and audit events carry it. */
    requestId: string;
  }
}

/** Names every request, as Stripe does, so a caller quoting the Request-Id header can be found in the logs. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  req.requestId = newId('req');
  res.setHeader('Request-Id', req.requestId);
  next();
}
