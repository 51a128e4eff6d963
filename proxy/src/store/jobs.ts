/**
 * Enqueueing graphile-worker jobs from SQL, so a job can be added in the same transaction as the
 * state change that needs it.
 */
import type { Queryable } from './transaction';

export interface JobSpec {
  /** Coalesces: one pending job per key (the newest payload wins). */
  jobKey?: string;
  /** Jobs in one queue run one at a time, in order. */
  queueName?: string;
  runAt?: Date;
  maxAttempts?: number;
  /** `preserve_run_at` keeps a pending job's time (debounce without postponing forever). */
  jobKeyMode?: 'replace' | 'preserve_run_at';
  /** Lower runs first (graphile-worker; default 0): work that unblocks a backlog jumps it. */
  priority?: number;
}

/**
 * Adds (or, with a key, updates) a job; returns when it is due (a kept `run_at` included), or
 * `null` when that is not known (the keyed job was taken by a worker meanwhile).
 */
export async function enqueueJob(
  db: Queryable,
  task: string,
  payload: unknown,
  spec: JobSpec = {},
): Promise<Date | null> {
  const result = await db.query<{ run_at: Date | null }>(
    `SELECT run_at FROM graphile_worker.add_job($1, $2::json, queue_name := $3, run_at := $4,
       max_attempts := $5, job_key := $6, job_key_mode := $7, priority := $8)`,
    [
      task,
      JSON.stringify(payload ?? {}),
      spec.queueName ?? null,
      spec.runAt ?? null,
      spec.maxAttempts ?? null,
      spec.jobKey ?? null,
      spec.jobKeyMode ?? 'replace',
      spec.priority ?? null,
    ],
  );
  return result.rows[0]?.run_at ?? null;
}

/**
 * Whether a job that was fetched with a job key has since lost it: `add_job` was called with that
 * key while the job ran, so a newer job carries the work (graphile-worker also spends this one's
 * attempts, so it would never run again).
 */
export async function jobSuperseded(db: Queryable, jobId: string): Promise<boolean> {
  const result = await db.query<{ superseded: boolean }>(
    'SELECT key IS NULL AS superseded FROM graphile_worker._private_jobs WHERE id = $1',
    [jobId],
  );
  return result.rows[0]?.superseded === true;
}

/** Pending and failed-for-good jobs, for health checks and tests. */
export async function jobCounts(db: Queryable): Promise<{ pending: number; failed: number }> {
  const result = await db.query<{ pending: string; failed: string }>(
    `SELECT count(*) FILTER (WHERE attempts < max_attempts) AS pending,
            count(*) FILTER (WHERE attempts >= max_attempts) AS failed
     FROM graphile_worker.jobs`,
  );
  return { pending: Number(result.rows[0]?.pending ?? 0), failed: Number(result.rows[0]?.failed ?? 0) };
}
