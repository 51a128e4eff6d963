/**
 * Background work on graphile-worker, in the same PostgreSQL. Tasks are registered in
 * `taskList`; the runner is started by `server.ts` (in-process) or `worker.ts` (its own dyno).
 */
import {
  Logger as WorkerLogger,
  parseCrontab,
  run,
  type Runner,
  type TaskList,
  type WorkerEvents,
} from 'graphile-worker';
import { flushLeftovers } from './enqueue';
import type pg from 'pg';
import type { Logger } from 'pino';

/** Bridges graphile-worker's logger onto pino so job logs share the app's format and redaction. */
export function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const child = logger.child({ worker: scope });
    // LogLevel is an ambient const enum (unusable with isolatedModules); compare its string values.
    const name = String(level);
    const fields = meta ?? {};
    if (name === 'error') child.error(fields, message);
    else if (name === 'warning') child.warn(fields, message);
    else if (name === 'info') child.info(fields, message);
    else child.debug(fields, message);
  });
}

export async function startWorker(options: {
  pool: pg.Pool;
  logger: Logger;
  concurrency: number;
  taskList: TaskList;
  /** graphile-worker crontab lines; empty means no cron (and no crontab file is read). */
  crontab?: string;
  /** Receives graphile-worker's events (jobs/heartbeat.ts learns its worker ids from them). */
  events?: WorkerEvents;
}): Promise<Runner> {
  const runner = await run({
    pgPool: options.pool,
    concurrency: options.concurrency,
    taskList: options.taskList,
    // Parsed here so graphile-worker never looks for a crontab file in the working directory.
    parsedCronItems: parseCrontab(options.crontab ?? ''),
    logger: workerLogger(options.logger),
    noHandleSignals: true,
    pollInterval: 1_000,
    ...(options.events ? { events: options.events } : {}),
  });
  await flushLeftovers({ pool: options.pool });
  return runner;
}
