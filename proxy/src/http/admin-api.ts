/**
 * The admin API: what an integration admin needs to run the sync — a status summary (with the
 * org's daily API usage as last reported), the open
 * problems (errors, warnings, dead letters), the conflicts resolved by policy, and replaying or
 * dismissing a problem. Bearer `ADMIN_API_KEY` (constant-time compare); unset, the API is off.
 * Documented in proxy/openapi/proxy.yaml.
 */
import express, { Router, type RequestHandler } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import { replayDeadLetter } from '../jobs/replay';
import { linkSummary } from '../store/links';
import { getApiUsage } from '../store/api-usage';
import { countUnbatched } from '../store/batches';
import {
  countOpenProblems,
  getProblem,
  listConflicts,
  listProblems,
  resolveProblem,
} from '../store/problems';
import { FLOWS } from '../sync';
import { HttpProblem } from './problem';
import { bearerToken, secretsEqual } from './secrets';

export interface AdminApiOptions {
  pool: pg.Pool;
  logger: Logger;
  /** undefined turns the admin API off (503). */
  apiKey: string | undefined;
}

const listQuery = z.object({
  kind: z.enum(['warning', 'error', 'dead_letter']).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
const problemId = z.coerce.number().int().positive();

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
  const authenticate: RequestHandler = (req, _res, next) => {
    if (options.apiKey === undefined) {
      throw new HttpProblem(
        503,
        'Not Configured',
        'ADMIN_API_KEY is not set on the proxy: the admin API is off',
      );
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !secretsEqual(token, options.apiKey)) {
      throw new HttpProblem(401, 'Unauthorized', 'a valid admin bearer key is required');
    }
    next();
  };

  const router = Router();
  router.use('/admin/v1', authenticate, express.json({ limit: '16kb' }));

  router.get('/admin/v1/status', async (_req, res) => {
    res.json({
      links: await linkSummary(pool),
      salesforceApiUsage: (await getApiUsage(pool)) ?? null,
      openProblems: await countOpenProblems(pool),
      outboxWaiting: await countUnbatched(pool),
    });
  });

  router.get('/admin/v1/problems', async (req, res) => {
    const query = parse(listQuery, req.query, 'query');
    res.json({ problems: await listProblems(pool, query.kind, query.limit) });
  });

  router.get('/admin/v1/conflicts', async (req, res) => {
    const query = parse(listQuery.pick({ limit: true }), req.query, 'query');
    res.json({ conflicts: await listConflicts(pool, query.limit) });
  });

  router.post('/admin/v1/problems/:id/replay', async (req, res) => {
    const id = parse(problemId, req.params.id, 'problem id');
    const outcome = await replayDeadLetter({ pool, logger, definition: FLOWS }, id);
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
    if (!(await getProblem(pool, id))) throw new HttpProblem(404, 'Not Found', `no problem ${id}`);
    if (!(await resolveProblem(pool, id))) {
      throw new HttpProblem(409, 'Conflict', `problem ${id} is already resolved`);
    }
    res.status(204).end();
  });
  return router;
}
