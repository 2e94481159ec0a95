import { OPERATIONS } from './openapi/operations';

interface Template {
  method: string;
  pattern: RegExp;
  route: string;
  literals: number;
}

/** The documented operations as matchers; among templates that match, the one with the most fixed segments wins (/v1/invoices/upcoming over /v1/invoices/:id). */
let templates: Template[] | null = null;

function compile(): Template[] {
  return OPERATIONS.map((op) => {
    const segments = op.path.split('/').filter(Boolean);
    const pattern = new RegExp(`^/${segments.map((s) => (/^\{\w+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
    return {
      method: op.method.toUpperCase(),
      pattern,
      route: op.path.replace(/\{(\w+)\}/g, ':$1'),
      literals: segments.filter((s) => !s.startsWith('{')).length,
    };
  }).sort((a, b) => b.literals - a.literals);
}

/** The pages' areas: their paths carry ids and portal tokens, so only the area is named. */
const AREAS = ['/console', '/portal', '/docs'];

/**
 * The route a request was for, as a pattern (`/v1/customers/:id`), never the raw path: a metric
 * label per customer id would grow without end, and portal paths carry tokens. Found from the
 * documented operations rather than from Express, which forgets the mount path once a route has
 * thrown; anything else is its area (`/console/*`) or `unmatched`.
 */
export function routePattern(method: string, path: string): string {
  templates ??= compile();
  const upper = method === 'HEAD' ? 'GET' : method.toUpperCase();
  const found = templates.find((t) => t.method === upper && t.pattern.test(path));
  if (found) return found.route;
  const area = AREAS.find((a) => path === a || path.startsWith(`${a}/`));
  return area ? `${area}/*` : 'unmatched';
}
