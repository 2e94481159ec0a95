import type { Request, Response } from 'express';

/** The request's cookies by name (no cookie-parser: one header, split once). */
export function readCookies(req: Request): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    try {
      cookies[name] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      // A value we did not write (bad percent-encoding) is no cookie of ours.
    }
  }
  return cookies;
}

/**
 * HttpOnly so page scripts never read it, SameSite=Strict so no other site's page can make the
 * browser send it, Secure when the request came over HTTPS (the API behind a TLS proxy sets
 * `trust proxy`), scoped to the console's or the portal's path.
 */
export function setCookie(req: Request, res: Response, name: string, value: string, options: { path: string; maxAgeSeconds: number }): void {
  const secure = req.secure ? '; Secure' : '';
  res.append('Set-Cookie', `${name}=${encodeURIComponent(value)}; Path=${options.path}; Max-Age=${options.maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`);
}

export function clearCookie(res: Response, name: string, path: string): void {
  res.append('Set-Cookie', `${name}=; Path=${path}; Max-Age=0; HttpOnly; SameSite=Strict`);
}

/**
 * A one-line message for the next page (after a redirect): what the action did. A cookie of a
 * minute, scoped to the console's or the portal's path, read and cleared by the page that shows it.
 */
export function flashCookie(path: '/console' | '/portal') {
  const name = `perennial_${path.slice(1)}_flash`;
  return {
    set(req: Request, res: Response, message: string): void {
      setCookie(req, res, name, message, { path, maxAgeSeconds: 60 });
    },
    take(req: Request, res: Response): string | null {
      const message = readCookies(req)[name];
      if (!message) return null;
      clearCookie(res, name, path);
      return message;
    },
  };
}
