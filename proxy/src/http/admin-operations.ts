/**
 * The admin API's share of what the console does (documented in proxy/openapi/proxy.yaml):
 * the overview with its per-minute series, filtered and cursor-paged problems, conflicts and
 * links, a record's detail and history, bulk replay and resolve, "resync now" and a conflict's
 * "apply the other value" — through the same functions as the console (operations.ts), audited
 * with the admin key's fingerprint. Registered on the admin API's router, behind its key and
 * rate limits.
 */
import type { Request, Response, Router } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config';
import {
  linkById,
  problemsOfRecord,
  searchConflicts,
  searchLinks,
  searchProblems,
} from '../store/console-queries';
import { getProblem } from '../store/problems';
import { historyOf } from '../store/link-history';
import { flushMetricTally } from './metrics-endpoint';
import {
  applyConflictOtherValue,
  effectiveSettings,
  overview,
  replayProblems,
  resolveProblems,
  resyncLink,
  type Actor,
  type ConflictWriter,
  type OperationsDeps,
} from './operations';
import { HttpProblem } from './problem';

export interface AdminOperationsOptions {
  pool: pg.Pool;
  logger: Logger;
  config?: Config;
  actorOf: (req: Request, res: Response) => Actor;
  conflictWriter?: ConflictWriter;
}

const flow = z.enum(['customers', 'projects', 'tasks']);
const limit = z.coerce.number().int().min(1).max(1_000).default(100);
const cursor = z.string().max(200).optional();
const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z)?$/, 'a date (YYYY-MM-DD) or a UTC time')
  .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value));

/** GET /admin/v1/problems: filters and a cursor (the first page without any is the old answer). */
export const problemsQuery = z.object({
  kind: z.enum(['warning', 'error', 'dead_letter']).optional(),
  flow: flow.optional(),
  code: z.string().max(100).optional(),
  status: z.enum(['open', 'resolved', 'all']).default('open'),
  from: day.optional(),
  to: day.optional(),
  cursor,
  limit,
});
export const conflictsQuery = z.object({ flow: flow.optional(), cursor, limit });
const linksQuery = z.object({ q: z.string().max(200).optional(), flow: flow.optional(), cursor, limit });
const overviewQuery = z.object({
  range: z.coerce
    .number()
    .int()
    .refine((n) => [60, 360, 1440].includes(n), 'one of 60, 360, 1440 (minutes)')
    .default(1440),
});
const idList = z.object({ ids: z.array(z.number().int().positive()).min(1).max(500) });
const id = z.coerce.number().int().positive();

export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpProblem(400, 'Bad Request', `invalid ${what}`, {
      errors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  }
  return parsed.data;
}

/** Adds the operations routes to the admin API's router (already authenticated there). */
export function registerAdminOperations(router: Router, options: AdminOperationsOptions): void {
  const { pool } = options;
  const ops: OperationsDeps = {
    pool,
    logger: options.logger,
    flushMetrics: () => flushMetricTally(pool),
    apiBudgetPercent: options.config?.salesforce.apiBudgetPercent,
  };

  router.get('/admin/v1/overview', async (req, res) => {
    const query = parseInput(overviewQuery, req.query, 'query');
    res.json(await overview(ops, query.range));
  });

  router.get('/admin/v1/problems/:id', async (req, res) => {
    const problem = await getProblem(pool, parseInput(id, req.params.id, 'problem id'));
    if (!problem) throw new HttpProblem(404, 'Not Found', `no problem ${req.params.id}`);
    res.json(problem);
  });

  router.post('/admin/v1/problems/replay', async (req, res) => {
    const body = parseInput(idList, req.body, 'body');
    res.json({ results: await replayProblems(ops, options.actorOf(req, res), body.ids) });
  });

  router.post('/admin/v1/problems/resolve', async (req, res) => {
    const body = parseInput(idList, req.body, 'body');
    res.json({ results: await resolveProblems(ops, options.actorOf(req, res), body.ids) });
  });

  router.get('/admin/v1/links', async (req, res) => {
    const query = parseInput(linksQuery, req.query, 'query');
    const page = await searchLinks(pool, query, { cursor: query.cursor, limit: query.limit });
    res.json({ links: page.items, nextCursor: page.nextCursor ?? null });
  });

  router.get('/admin/v1/links/:id', async (req, res) => {
    const link = await linkById(pool, parseInput(id, req.params.id, 'link id'));
    if (!link) throw new HttpProblem(404, 'Not Found', `no link ${req.params.id}`);
    const [history, problems] = await Promise.all([historyOf(pool, link), problemsOfRecord(pool, link)]);
    res.json({ link, history, problems });
  });

  router.post('/admin/v1/links/:id/resync', async (req, res) => {
    const linkId = parseInput(id, req.params.id, 'link id');
    const outcome = await resyncLink(ops, options.actorOf(req, res), linkId);
    if (outcome === 'not_found') throw new HttpProblem(404, 'Not Found', `no link ${linkId}`);
    if (outcome === 'no_custompms_record') {
      throw new HttpProblem(409, 'Conflict', `link ${linkId} has no Custompms record to read again`);
    }
    res.status(202).json({ id: linkId, outcome });
  });

  router.post('/admin/v1/conflicts/:id/apply-other', async (req, res) => {
    const conflictId = parseInput(id, req.params.id, 'conflict id');
    if (!options.conflictWriter) {
      throw new HttpProblem(503, 'Not Configured', 'CUSTOMPMS_BASE_URL is not set: nothing can be written');
    }
    const outcome = await applyConflictOtherValue(
      ops,
      options.actorOf(req, res),
      conflictId,
      options.conflictWriter,
    );
    if (outcome === 'not_found') throw new HttpProblem(404, 'Not Found', `no conflict ${conflictId}`);
    if (outcome === 'already_applied' || outcome === 'not_applicable') {
      throw new HttpProblem(409, 'Conflict', `conflict ${conflictId}: ${outcome.replace(/_/g, ' ')}`);
    }
    if (outcome === 'failed')
      throw new HttpProblem(502, 'Bad Gateway', `conflict ${conflictId}: the write failed`);
    res.status(202).json({ id: conflictId, outcome });
  });

  if (options.config) {
    const config = options.config;
    router.get('/admin/v1/settings', async (_req, res) => {
      res.json(await effectiveSettings(ops, config));
    });
  }
}

/** The filtered, cursor-paged problem list of GET /admin/v1/problems. */
export async function problemsPage(pool: pg.Pool, rawQuery: unknown) {
  const query = parseInput(problemsQuery, rawQuery, 'query');
  const page = await searchProblems(pool, query, { cursor: query.cursor, limit: query.limit });
  return { problems: page.items, nextCursor: page.nextCursor ?? null };
}

/** The cursor-paged conflict list of GET /admin/v1/conflicts (newest first). */
export async function conflictsPage(pool: pg.Pool, rawQuery: unknown) {
  const query = parseInput(conflictsQuery, rawQuery, 'query');
  const page = await searchConflicts(pool, query, { cursor: query.cursor, limit: query.limit });
  return { conflicts: page.items, nextCursor: page.nextCursor ?? null };
}
