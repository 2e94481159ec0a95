import { Router } from 'express';
import type { ApiDeps } from '../../api/deps';

/** The customer portal at /portal: reached through a signed, customer-scoped link, never with an API key. */
export function portalRouter(_deps: ApiDeps): Router {
  return Router();
}
