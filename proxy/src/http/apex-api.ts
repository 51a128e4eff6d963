/**
 * The REST API the org's Apex calls through the Named Credential `Custompms_Proxy`
 * (documented in proxy/openapi/proxy.yaml). Authenticated by the bearer key the admin stores in
 * the External Credential; constant-time compare. Reads serve change batches already mapped to
 * Salesforce fields; writes (results, deletions) are stored in the inbox before they are
 * acknowledged and processed by jobs afterwards.
 */
import { createHash } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { TASK } from '../jobs/task-names';
import { bringBatchDeadlineForward, claimBatchFetch, deletedTaskItems, getBatch } from '../store/batches';
import { enqueueJob } from '../store/jobs';
import { insertInboxMessages } from '../store/inbox';
import { recordPing, PING_BATCH_PREFIX } from '../store/doctor-pings';
import { recordProblemOnce } from '../store/problems';
import { HttpProblem } from './problem';
import { KEY_LOCAL, rateLimits, SALESFORCE_RATE_LIMITS, type RateLimitSettings } from './rate-limit';
import { acceptedKeys, bearerToken, keyFingerprint, matchingSecret } from './secrets';

export interface ApexApiOptions {
  pool: pg.Pool;
  /** The accepted keys (several during a rotation); undefined or empty refuses every call. */
  apiKey: string | readonly string[] | undefined;
  bodyLimit: string;
  rateLimits?: RateLimitSettings;
}

const salesforceId = z.string().regex(/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/, 'a Salesforce id');
/**
 * A written Task's SystemModstamp as Apex serialises a Datetime (`2026-11-28T02:20:42.000Z`); an
 * offset is accepted too. It becomes the link's Salesforce version, so a value that is no instant
 * is refused, not stored (the sync would otherwise drop it silently and read the stamp back).
 */
const systemModstamp = z.iso.datetime({
  offset: true,
  error: 'an ISO-8601 date-time such as 2026-11-28T02:20:42.000Z',
});

export const batchResultsSchema = z.object({
  results: z
    .array(
      z.object({
        kind: z.enum(['division', 'task']),
        key: z.string().min(1).max(255),
        success: z.boolean(),
        salesforceId: salesforceId.nullish(),
        created: z.boolean().optional(),
        systemModstamp: systemModstamp.nullish(),
        errors: z
          .array(
            z.object({ statusCode: z.string(), message: z.string(), fields: z.array(z.string()).optional() }),
          )
          .optional(),
      }),
    )
    .max(10_000),
});
export type BatchResults = z.infer<typeof batchResultsSchema>;

export const taskDeletionsSchema = z.object({
  events: z
    .array(
      z.object({
        taskId: salesforceId,
        custompmsId: z.string().max(64).nullish(),
        operation: z.enum(['delete', 'undelete']),
        eventUuid: z.string().min(1).max(64),
      }),
    )
    .min(1)
    .max(2_000),
});
export type TaskDeletions = z.infer<typeof taskDeletionsSchema>;

/** What CustompmsPullJob's Transaction Finalizer reports (CustompmsProxyClient.JobFailure). */
/** How soon a batch the org reported failing is announced again. */
const RETRY_REPORTED_BATCH_SECONDS = 10;

export const jobFailuresSchema = z.object({
  failures: z
    .array(
      z.object({
        job: z.string().min(1).max(80),
        batchId: z.string().max(80).nullish(),
        phase: z.string().max(40).nullish(),
        statusCode: z.number().int().nullish(),
        message: z.string().max(2_000),
        asyncApexJobId: salesforceId.nullish(),
      }),
    )
    .min(1)
    .max(100),
});
export type JobFailures = z.infer<typeof jobFailuresSchema>;

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new HttpProblem(422, 'Invalid Body', 'the request body does not match the schema', {
      errors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  }
  return parsed.data;
}

export function apexApiRouter(options: ApexApiOptions): Router {
  const keys = acceptedKeys(options.apiKey);
  const authenticate: RequestHandler = (req, res, next) => {
    if (keys.length === 0) {
      throw new HttpProblem(503, 'Not Configured', 'PROXY_API_KEY is not set on the proxy');
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || matchingSecret(token, keys) === -1) {
      throw new HttpProblem(401, 'Unauthorized', 'a valid bearer key is required');
    }
    res.locals[KEY_LOCAL] = keyFingerprint(token);
    next();
  };
  const limits = rateLimits('salesforce-api', options.rateLimits ?? SALESFORCE_RATE_LIMITS);
  const guard = [...limits.beforeAuth, authenticate, limits.afterAuth];

  const router = Router();
  router.use('/salesforce/v1/change-batches', guard);
  router.use('/salesforce/v1/task-deletions', guard);
  router.use('/salesforce/v1/job-failures', guard);
  const json = express.json({ limit: options.bodyLimit });

  router.get('/salesforce/v1/change-batches/:batchId', async (req, res) => {
    // `doctor` publishes a change event for a ping batch: the org's Apex fetching it through the
    // Named Credential proves the whole path. It is recorded and answered 404, which the Apex
    // skips without reporting a failure (CustompmsPullJob: 404/410 = nothing to apply).
    if (req.params.batchId.startsWith(PING_BATCH_PREFIX)) {
      const known = await recordPing(options.pool, req.params.batchId);
      throw new HttpProblem(404, 'Not Found', known ? 'doctor ping received' : 'no such change batch');
    }
    const batch = await getBatch(options.pool, req.params.batchId);
    if (!batch || batch.status === 'open') throw new HttpProblem(404, 'Not Found', 'no such change batch');
    // A completed or superseded batch is never served again: its items would be applied twice.
    if (batch.status === 'superseded')
      throw new HttpProblem(410, 'Gone', 'this batch was superseded by a newer one');
    if (batch.status === 'completed') throw new HttpProblem(410, 'Gone', 'this batch was already applied');
    // Served once per announcement: a batch announced again (its first fetch looked lost) may
    // still be fetched by the first announcement's job; only one of the two applies it.
    if (!(await claimBatchFetch(options.pool, batch.id)))
      throw new HttpProblem(410, 'Gone', 'this batch is being applied by another job of the org');
    // A Task deleted on either side since the batch was cut is left out: the org's upsert on
    // Custompms_Id__c would create it again. Its missing result is expected (recordBatchResults).
    const gone = await deletedTaskItems(options.pool, batch.items);
    res.json({
      batchId: batch.id,
      divisions: batch.items
        .filter((item) => item.kind === 'division')
        .map((item) => ({ key: item.custompmsId, record: item.record })),
      tasks: batch.items
        .filter((item) => item.kind === 'task' && !gone.has(`task:${item.custompmsId}`))
        .map((item) => ({ key: item.custompmsId, record: item.record })),
    });
  });

  router.post('/salesforce/v1/change-batches/:batchId/results', json, async (req, res) => {
    const body = parseBody(batchResultsSchema, req.body);
    const batch = await getBatch(options.pool, req.params.batchId);
    if (!batch) throw new HttpProblem(404, 'Not Found', 'no such change batch');
    // The same results posted twice are one delivery.
    const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    await insertInboxMessages(options.pool, [
      {
        source: 'salesforce.results',
        dedupeKey: `${batch.id}:${digest}`,
        recordKey: `batch:${batch.id}`,
        payload: { batchId: batch.id, ...body },
      },
    ]);
    res.status(204).end();
  });

  router.post('/salesforce/v1/task-deletions', json, async (req, res) => {
    const body = parseBody(taskDeletionsSchema, req.body);
    const stored = await insertInboxMessages(
      options.pool,
      body.events.map((event) => ({
        source: 'salesforce.deletion' as const,
        dedupeKey: event.eventUuid,
        recordKey: `sf:${event.taskId}`,
        payload: event,
      })),
    );
    res.status(202).json({ accepted: body.events.length, duplicates: stored.duplicates });
  });

  // An org-side job that could not do its work: shown to admins as a problem (once while open).
  // A batch it names is announced again within seconds (a fetch failed while this proxy restarted,
  // say) instead of at its deadline; its writes are idempotent upserts.
  router.post('/salesforce/v1/job-failures', json, async (req, res) => {
    const body = parseBody(jobFailuresSchema, req.body);
    let recorded = 0;
    let due = 0;
    for (const failure of body.failures) {
      if (
        failure.batchId &&
        (await bringBatchDeadlineForward(options.pool, failure.batchId, RETRY_REPORTED_BATCH_SECONDS))
      )
        due++;
      const where = [failure.phase, failure.batchId ? `of batch ${failure.batchId}` : null].filter(Boolean);
      const status =
        failure.statusCode === null || failure.statusCode === undefined
          ? ''
          : ` (HTTP ${failure.statusCode})`;
      const stored = await recordProblemOnce(options.pool, {
        kind: 'error',
        code: 'apex_job_failed',
        message: `${failure.job}${where.length ? ` ${where.join(' ')}` : ''} failed in the org${status}: ${failure.message}`,
        payload: failure,
      });
      if (stored) recorded++;
    }
    if (due > 0) {
      await enqueueJob(
        options.pool,
        TASK.republishOverdueBatches,
        {},
        {
          jobKey: TASK.republishOverdueBatches,
          maxAttempts: 1,
          runAt: new Date(Date.now() + RETRY_REPORTED_BATCH_SECONDS * 1000 + 1_000),
        },
      );
    }
    res.status(202).json({ accepted: body.failures.length, duplicates: body.failures.length - recorded });
  });

  return router;
}
