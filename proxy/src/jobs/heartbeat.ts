/**
 * Dead workers' jobs (#14). graphile-worker leaves a job locked by a process that died (SIGKILL,
 * OOM, a shutdown that timed out) for 4 hours. Every worker process beats here instead: its
 * graphile worker ids in `worker_heartbeats` every few seconds, and on each beat it unlocks the
 * jobs of workers whose beat is older than `staleMs` (or that never beat and locked their job
 * over `staleMs` ago) with graphile-worker's `force_unlock_workers`, so they run again within
 * about a minute. A job that died on its last attempt is not run again by graphile-worker (its
 * attempts are spent): it is parked as a `WORKER_DIED` dead letter, to replay.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { WorkerEvents } from 'graphile-worker';
import type pg from 'pg';
import type { Logger } from 'pino';
import { enqueueJob } from '../store/jobs';
import { recordProblem } from '../store/problems';
import { KEYED_TASKS, TASK } from './task-names';

const CRON_TASKS: ReadonlySet<string> = new Set([
  TASK.pollCustompms,
  TASK.pollDivisions,
  TASK.pollDeletedTasks,
  TASK.pollTasks,
  TASK.republishOverdueBatches,
  TASK.purgeExpired,
]);

/**
 * This process, as a `worker_heartbeats` id (beside its graphile-worker ids): a batch the api
 * path writes names it, so the overdue sweep knows when its writer died.
 */
export const PROCESS_ID = `process-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** How long without a beat makes a worker (or a batch's writer) dead. */
export const STALE_BEAT_MS = 45_000;

export interface Heartbeat {
  /** Pass to graphile-worker's `run` (it announces each worker it creates). */
  events: WorkerEvents;
  /** One beat and one sweep now (the timer does this every `intervalMs`). */
  beat(): Promise<void>;
  /** Stops beating; `dead: true` (a shutdown that gave up) marks this process's workers dead at once. */
  stop(options?: { dead?: boolean }): Promise<void>;
}

export function startHeartbeat(options: {
  pool: pg.Pool;
  logger: Logger;
  intervalMs?: number;
  staleMs?: number;
}): Heartbeat {
  const { pool, logger } = options;
  const intervalMs = options.intervalMs ?? 5_000;
  const staleMs = options.staleMs ?? STALE_BEAT_MS;
  const events = new EventEmitter() as WorkerEvents;
  const workerIds = new Set<string>([PROCESS_ID]);
  // Jobs are locked by the worker pool's id (graphile-worker 0.17), or a worker's: both beat.
  events.on('pool:create', ({ workerPool }) => {
    workerIds.add(workerPool.id);
    void beat();
  });
  events.on('worker:create', ({ worker }) => {
    workerIds.add(worker.workerId);
    void beat();
  });
  let beating: Promise<void> | undefined;
  const beat = async (): Promise<void> => {
    if (beating) return beating;
    beating = (async () => {
      try {
        const ids = [...workerIds];
        if (ids.length > 0) {
          await pool.query(
            `INSERT INTO worker_heartbeats (worker_id, host, pid, beat_at)
             SELECT id, $2, $3, now() FROM unnest($1::text[]) AS id
             ON CONFLICT (worker_id) DO UPDATE SET beat_at = now()`,
            [ids, hostname(), process.pid],
          );
        }
        await releaseDeadWorkers(pool, logger, staleMs, ids);
      } catch (error) {
        logger.warn({ err: error }, 'worker heartbeat failed');
      } finally {
        beating = undefined;
      }
    })();
    return beating;
  };
  const timer = setInterval(() => void beat(), intervalMs);
  timer.unref();
  return {
    events,
    beat,
    async stop(stopOptions = {}) {
      clearInterval(timer);
      await beating;
      const ids = [...workerIds];
      if (ids.length === 0) return;
      if (stopOptions.dead) {
        // The process exits with jobs still running: they die with it; release them now.
        await releaseWorkers(pool, logger, ids).catch(() => undefined);
      }
      await pool
        .query('DELETE FROM worker_heartbeats WHERE worker_id = ANY($1)', [ids])
        .catch(() => undefined);
    },
  };
}

/**
 * Unlocks the jobs of workers that stopped beating (or never beat and hold a lock older than
 * `staleMs`); `own` are this process's live workers, never released.
 */
export async function releaseDeadWorkers(
  pool: pg.Pool,
  logger: Logger,
  staleMs: number,
  own: readonly string[] = [],
): Promise<string[]> {
  const dead = await pool.query<{ locked_by: string }>(
    `SELECT DISTINCT j.locked_by FROM (
       SELECT locked_by, locked_at FROM graphile_worker._private_jobs WHERE locked_by IS NOT NULL
       UNION ALL
       SELECT locked_by, locked_at FROM graphile_worker._private_job_queues WHERE locked_by IS NOT NULL
     ) j
     WHERE NOT (j.locked_by = ANY($2::text[]))
       AND NOT EXISTS (SELECT 1 FROM worker_heartbeats h WHERE h.worker_id = j.locked_by
                       AND h.beat_at > now() - make_interval(secs => $1::double precision / 1000))
       AND (EXISTS (SELECT 1 FROM worker_heartbeats h WHERE h.worker_id = j.locked_by)
            OR j.locked_at < now() - make_interval(secs => $1::double precision / 1000))`,
    [staleMs, own],
  );
  const ids = dead.rows.map((row) => row.locked_by);
  if (ids.length > 0) {
    await releaseWorkers(pool, logger, ids);
    // A batch the dead process was writing is due now (overdueBatches): sweep now, not at the minute.
    await enqueueJob(
      pool,
      TASK.republishOverdueBatches,
      {},
      { jobKey: TASK.republishOverdueBatches, maxAttempts: 1 },
    );
  }
  await pool.query(`DELETE FROM worker_heartbeats WHERE beat_at < now() - interval '1 hour'`);
  return ids;
}

async function releaseWorkers(pool: pg.Pool, logger: Logger, ids: string[]): Promise<void> {
  const lastAttempts = await pool.query<{
    id: string;
    task_identifier: string;
    payload: unknown;
    key: string | null;
  }>(
    `SELECT j.id::text, t.identifier AS task_identifier, j.payload, j.key
     FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
     WHERE j.locked_by = ANY($1) AND j.attempts >= j.max_attempts`,
    [ids],
  );
  await pool.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [ids]);
  await pool.query('DELETE FROM worker_heartbeats WHERE worker_id = ANY($1)', [ids]);
  for (const job of lastAttempts.rows) {
    // A cron poller or sweep: removed, so its job key is free for the next minute's run (a job
    // with its attempts spent would hold the key for good); nothing to replay.
    // Superseded (KEYED_TASKS): a newer job with its key carries the work. Removed like a poller's.
    if (CRON_TASKS.has(job.task_identifier) || (KEYED_TASKS.has(job.task_identifier) && job.key === null)) {
      await pool.query('DELETE FROM graphile_worker._private_jobs WHERE id = $1 AND locked_by IS NULL', [
        job.id,
      ]);
      continue;
    }
    await recordProblem(pool, {
      kind: 'dead_letter',
      code: 'WORKER_DIED',
      message: `the worker running this job died on its last attempt (job ${job.id})`,
      task: job.task_identifier,
      payload: job.payload,
    });
  }
  logger.warn({ workers: ids, lastAttempts: lastAttempts.rowCount }, "a dead worker's jobs were unlocked");
}
