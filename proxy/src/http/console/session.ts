/**
 * Console sessions and CSRF. The session cookie carries a random id (its hash is stored, with the
 * user and a per-session CSRF token); it is HttpOnly, SameSite=Lax (the sign-in returns through a
 * cross-site redirect from Salesforce, which Strict would strip) and Secure — except over plain
 * HTTP to a loopback address, where browsers would drop a Secure cookie (local development and
 * tests). Every POST must carry the session's CSRF token and, when the browser sends one, a
 * same-origin `Origin`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type pg from 'pg';
import { touchConsoleSession, type ConsoleSession } from '../../store/console-sessions';

export const SESSION_COOKIE = 'cpms_console';
export const LOGIN_COOKIE = 'cpms_console_login';

export function newToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    if (!(name in cookies)) {
      try {
        cookies[name] = decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        // A malformed cookie is ignored.
      }
    }
  }
  return cookies;
}

function isLoopback(req: Request): boolean {
  const host = (req.hostname ?? '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Secure unless plain HTTP to a loopback address (where a Secure cookie would be dropped). */
export function cookieIsSecure(req: Request): boolean {
  return req.secure || !isLoopback(req);
}

export function setCookie(
  req: Request,
  res: Response,
  name: string,
  value: string,
  options: { maxAgeSeconds: number; path: string },
): void {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Lax',
  ];
  if (cookieIsSecure(req)) parts.push('Secure');
  res.append('Set-Cookie', parts.join('; '));
}

export function clearCookie(req: Request, res: Response, name: string, path: string): void {
  setCookie(req, res, name, '', { maxAgeSeconds: 0, path });
}

export interface ConsoleLocals {
  session: ConsoleSession;
  sessionId: string;
}

export function consoleLocals(res: Response): ConsoleLocals {
  return res.locals.console as ConsoleLocals;
}

/**
 * Loads the signed-in user; without one, pages go to the sign-in page (remembering where the
 * user was going) and JSON answers 401.
 */
export function requireSession(pool: pg.Pool, idleTimeoutMs: number, basePath: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const load = id ? touchConsoleSession(pool, id, idleTimeoutMs) : Promise.resolve(undefined);
    load.then(
      (session) => {
        if (session && id) {
          res.locals.console = { session, sessionId: id } satisfies ConsoleLocals;
          res.setHeader('Cache-Control', 'no-store');
          next();
          return;
        }
        if (id) clearCookie(req, res, SESSION_COOKIE, basePath);
        if (req.method === 'GET' && !req.path.startsWith('/api/')) {
          const returnTo = req.originalUrl.startsWith(basePath) ? req.originalUrl : basePath;
          res.redirect(
            303,
            `${basePath}/sign-in?return_to=${encodeURIComponent(returnTo)}${id ? '&expired=1' : ''}`,
          );
          return;
        }
        res.status(401).type('application/problem+json').json({
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          detail: 'sign in to the console first',
        });
      },
      (error: unknown) => next(error),
    );
  };
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Rejects a POST without the session's CSRF token or from another origin (403). */
export function requireCsrf(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    next();
    return;
  }
  const { session } = consoleLocals(res);
  const body = (req.body ?? {}) as Record<string, unknown>;
  const given = typeof body._csrf === 'string' ? body._csrf : req.get('x-csrf-token');
  const origin = req.get('origin');
  const sameOrigin = origin === undefined || origin === `${req.protocol}://${req.get('host')}`;
  if (!given || !tokensEqual(given, session.csrfToken) || !sameOrigin) {
    res
      .status(403)
      .type('text/plain')
      .send('The form expired or did not come from this console. Reload the page and try again.');
    return;
  }
  next();
}
