/**
 * The admin API: what an integration admin needs to run the sync — a status summary (with the
 * org's daily API usage as last reported), the open
 * problems (errors, warnings, dead letters), the conflicts resolved by policy, and replaying or
 * dismissing a problem. Bearer `ADMIN_API_KEY` (several keys accepted, comma-separated: one per
 * admin or two during a rotation; constant-time compare); unset, the API is off. Rate-limited per
 * address and per key; every replay and resolve is written to the audit log (`GET /admin/v1/audit`)
 * with the key's fingerprint, the caller's `X-Admin-Actor` and address. The console's operations
 * (overview, filtered and paged problems, conflicts and links, bulk replay and resolve, resync,
 * apply a conflict's other value, settings) are here too: admin-operations.ts.
 * Documented in proxy/openapi/proxy.yaml.
 */
import express, { Router, type RequestHandler } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import { linkSummary } from '../store/links';
import { getApiUsage } from '../store/api-usage';
import { countUnbatched } from '../store/batches';
import { countOpenProblems } from '../store/problems';
import { listAudit } from '../store/audit';
import type { Config } from '../config';
import { conflictsPage, problemsPage, registerAdminOperations } from './admin-operations';
import { replayProblem, resolveProblemAudited, type ConflictWriter } from './operations';
import { HttpProblem } from './problem';
import { ADMIN_RATE_LIMITS, KEY_LOCAL, rateLimits, type RateLimitSettings } from './rate-limit';
import { acceptedKeys, bearerToken, keyFingerprint, matchingSecret } from './secrets';

export interface AdminApiOptions {
  pool: pg.Pool;
  logger: Logger;
  /** The accepted keys; undefined or none turns the admin API off (503). */
  apiKey: string | readonly string[] | undefined;
  /**
   * What is not configured yet (`{ salesforce: 'SALESFORCE_AUTH=none' }`), shown by the status so a
   * fresh deployment says what it lacks instead of failing.
   */
  notConfigured?: Record<string, string | undefined>;
  rateLimits?: RateLimitSettings;
  /** For GET /admin/v1/settings. */
  config?: Config;
  /** Writes a conflict's other value (unset: POST /admin/v1/conflicts/{id}/apply-other answers 503). */
  conflictWriter?: ConflictWriter;
}

/** Who is acting, from the authenticated request (for the audit log). */
interface Actor {
  actor: string;
  actorLabel: string | null;
  ip: string | null;
}

const problemId = z.coerce.number().int().positive();
const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  before: z.coerce.number().int().positive().optional(),
  action: z.string().max(64).optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpProblem(400, 'Bad Request', `invalid ${what}`, {
      errors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  }
  return parsed.data;
}

export function adminApiRouter(options: AdminApiOptions): Router {
  const { pool, logger } = options;
  const keys = acceptedKeys(options.apiKey);
  const authenticate: RequestHandler = (req, res, next) => {
    if (keys.length === 0) {
      throw new HttpProblem(
        503,
        'Not Configured',
        'ADMIN_API_KEY is not set on the proxy: the admin API is off',
      );
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || matchingSecret(token, keys) === -1) {
      throw new HttpProblem(401, 'Unauthorized', 'a valid admin bearer key is required');
    }
    res.locals[KEY_LOCAL] = keyFingerprint(token);
    next();
  };
  const limits = rateLimits('admin-api', options.rateLimits ?? ADMIN_RATE_LIMITS);
  const actorOf = (req: express.Request, res: express.Response): Actor => {
    const label = req.get('x-admin-actor')?.trim().slice(0, 200);
    return {
      actor: String(res.locals[KEY_LOCAL]),
      actorLabel: label === undefined || label === '' ? null : label,
      ip: req.ip ?? null,
    };
  };

  const router = Router();
  router.use(
    '/admin/v1',
    ...limits.beforeAuth,
    authenticate,
    limits.afterAuth,
    express.json({ limit: '16kb' }),
  );

  router.get('/admin/v1/status', async (_req, res) => {
    res.json({
      links: await linkSummary(pool),
      salesforceApiUsage: (await getApiUsage(pool)) ?? null,
      openProblems: await countOpenProblems(pool),
      outboxWaiting: await countUnbatched(pool),
      notConfigured: Object.fromEntries(
        Object.entries(options.notConfigured ?? {}).filter(([, reason]) => reason !== undefined),
      ),
    });
  });

  router.get('/admin/v1/audit', async (req, res) => {
    const query = parse(auditQuery, req.query, 'query');
    res.json({ entries: await listAudit(pool, query) });
  });

  router.get('/admin/v1/problems', async (req, res) => {
    res.json(await problemsPage(pool, req.query));
  });

  router.get('/admin/v1/conflicts', async (req, res) => {
    res.json(await conflictsPage(pool, req.query));
  });

  router.post('/admin/v1/problems/:id/replay', async (req, res) => {
    const id = parse(problemId, req.params.id, 'problem id');
    const outcome = await replayProblem({ pool, logger }, actorOf(req, res), id);
    if (outcome === 'not_found') throw new HttpProblem(404, 'Not Found', `no problem ${id}`);
    if (outcome === 'already_resolved')
      throw new HttpProblem(409, 'Conflict', `problem ${id} is already resolved`);
    if (outcome === 'not_replayable') {
      throw new HttpProblem(409, 'Conflict', `problem ${id} is not a dead letter that can be replayed`);
    }
    res.status(202).json({ id, outcome });
  });

  router.post('/admin/v1/problems/:id/resolve', async (req, res) => {
    const id = parse(problemId, req.params.id, 'problem id');
    const outcome = await resolveProblemAudited({ pool, logger }, actorOf(req, res), id);
    if (outcome === 'not_found') throw new HttpProblem(404, 'Not Found', `no problem ${id}`);
    if (outcome === 'already_resolved')
      throw new HttpProblem(409, 'Conflict', `problem ${id} is already resolved`);
    res.status(204).end();
  });

  registerAdminOperations(router, {
    pool,
    logger,
    config: options.config,
    actorOf,
    conflictWriter: options.conflictWriter,
  });
  return router;
}
