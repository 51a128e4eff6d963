/**
 * Rate limits on the authenticated surfaces (express-rate-limit, in-memory per process):
 *
 * - per client IP, before authentication: caps what any one address can send, and — counting only
 *   refused credentials — makes guessing a key or the outbound-message token slow;
 * - per key, after authentication: one leaked or runaway credential cannot starve the others.
 *
 * Over a limit the answer is `429 Too Many Requests` with `Retry-After` (seconds) and the
 * draft-8 `RateLimit`/`RateLimit-Policy` headers. The IP is `req.ip`, which behind Heroku's router
 * is the client from `X-Forwarded-For` (`trust proxy` = 1 in app.ts). Counters live in each web
 * process, so with N web dynos a client gets up to N times the limit.
 */
import type { RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { sendProblem } from './problem';

export interface RateLimitSettings {
  /** Requests per minute from one IP address (authenticated or not). */
  perIpPerMinute: number;
  /** Requests per minute with one key, after it authenticated. */
  perKeyPerMinute: number;
  /** Refused credentials per 15 minutes from one IP address. */
  failedAuthPer15Minutes: number;
}

/** The Apex API and outbound messages carry bursts (a batch per 200 records, two calls each). */
export const SALESFORCE_RATE_LIMITS: RateLimitSettings = {
  perIpPerMinute: 3_000,
  perKeyPerMinute: 3_000,
  failedAuthPer15Minutes: 50,
};

/** The admin API is operated by people and scripts. */
export const ADMIN_RATE_LIMITS: RateLimitSettings = {
  perIpPerMinute: 300,
  perKeyPerMinute: 120,
  failedAuthPer15Minutes: 20,
};

/** Where the authenticate middleware leaves the authenticated key's fingerprint. */
export const KEY_LOCAL = 'authenticatedKey';

function tooMany(what: string) {
  return (_req: unknown, res: Response) => {
    sendProblem(res, {
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      detail: `rate limit of ${what} exceeded; retry after ${String(res.getHeader('Retry-After') ?? 'a while')} s`,
    });
  };
}

const byIp = (req: { ip?: string }) => ipKeyGenerator(req.ip ?? 'unknown');

/**
 * The limits of one surface, as middleware: `beforeAuth` (per IP, and refused credentials per IP)
 * goes in front of the authenticate step, `afterAuth` (per key) right behind it.
 */
export function rateLimits(
  surface: string,
  settings: RateLimitSettings,
): { beforeAuth: RequestHandler[]; afterAuth: RequestHandler } {
  const common = {
    standardHeaders: 'draft-8' as const,
    legacyHeaders: false,
    identifier: surface,
  };
  const perIp = rateLimit({
    ...common,
    windowMs: 60_000,
    limit: settings.perIpPerMinute,
    keyGenerator: byIp,
    handler: tooMany(`${settings.perIpPerMinute} requests per minute per address`),
  });
  const failedAuth = rateLimit({
    ...common,
    identifier: `${surface}-auth`,
    windowMs: 15 * 60_000,
    limit: settings.failedAuthPer15Minutes,
    keyGenerator: byIp,
    // Only refused credentials count: a caller with a valid key is never slowed by this one.
    requestWasSuccessful: (_req, res) => res.statusCode !== 401 && res.statusCode !== 403,
    skipSuccessfulRequests: true,
    handler: tooMany(`${settings.failedAuthPer15Minutes} refused credentials per 15 minutes per address`),
  });
  const perKey = rateLimit({
    ...common,
    identifier: `${surface}-key`,
    windowMs: 60_000,
    limit: settings.perKeyPerMinute,
    keyGenerator: (_req, res) => String(res.locals[KEY_LOCAL] ?? 'unknown'),
    handler: tooMany(`${settings.perKeyPerMinute} requests per minute per key`),
  });
  return { beforeAuth: [perIp, failedAuth], afterAuth: perKey };
}
