/**
 * Process wiring shared by the web and worker entry points: config, logger, database,
 * migrations, worker, and an orderly shutdown.
 */
import type { Runner } from 'graphile-worker';
import { ConfigError, loadConfig, missingConfiguration, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { openDatabase, type Database } from './store/database';
import { migrate } from './store/migrate';
import { startWorker } from './jobs/worker';
import { startHeartbeat, type Heartbeat } from './jobs/heartbeat';
import { buildTaskList, pollerCrontab } from './jobs/tasks';
import { TASK, type TaskName } from './jobs/task-names';
import { createSyncDeps, type SyncDeps } from './jobs/deps';
import { startMetricFlusher } from './http/metrics-endpoint';

export interface Runtime {
  config: Config;
  logger: Logger;
  database: Database;
  sync: SyncDeps;
  worker: Runner | undefined;
  /** This process's worker heartbeat (jobs/heartbeat.ts), when it runs a worker. */
  heartbeat: Heartbeat | undefined;
  /** Stops writing this process's counters to PostgreSQL (after a last write). */
  stopMetrics: () => Promise<void>;
}

/** Loads config or exits 1 with one line naming every bad variable. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

export async function startRuntime(config: Config, options: { worker: boolean }): Promise<Runtime> {
  const logger = createLogger({ level: config.logLevel });
  const database = await openDatabase(config.database, logger);
  for (const [part, reason] of Object.entries(missingConfiguration(config))) {
    if (reason !== undefined)
      logger.warn({ part, reason }, 'not configured yet: this part of the sync is off');
  }
  try {
    const applied = await migrate(database.pool);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const sync = createSyncDeps(config, database.pool, logger);
    // Beats for this process's workers and releases the jobs of dead ones (SIGKILL, OOM).
    const heartbeat = options.worker ? startHeartbeat({ pool: database.pool, logger }) : undefined;
    const worker = options.worker
      ? await startWorker({
          pool: database.pool,
          logger,
          concurrency: config.worker.concurrency,
          taskList: buildTaskList(sync),
          crontab: configuredCrontab(config, pollerCrontab(Math.round(config.sync.pollIntervalSeconds / 60))),
          ...(heartbeat ? { events: heartbeat.events } : {}),
        })
      : undefined;
    // Counters tallied in this process reach the shared totals every few seconds (metrics.ts).
    const stopMetrics = startMetricFlusher(database.pool, logger);
    return { config, logger, database, sync, worker, heartbeat, stopMetrics };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** The crontab tasks that need each side; a side not configured yet has its pollers left out. */
const NEEDS_SALESFORCE: readonly TaskName[] = [
  TASK.pollDivisions,
  TASK.pollDeletedTasks,
  TASK.pollTasks,
  TASK.republishOverdueBatches,
];
const NEEDS_CUSTOMPMS: readonly TaskName[] = [TASK.pollCustompms];

/**
 * The pollers' crontab without the lines of a side that is not configured yet: a fresh deployment
 * without credentials must not fail a poll every minute and fill the dead letters.
 */
export function configuredCrontab(config: Config, crontab: string): string {
  const skipped = [
    ...(config.salesforce.notConfigured === undefined ? [] : NEEDS_SALESFORCE),
    ...(config.custompms.baseUrl === undefined ? NEEDS_CUSTOMPMS : []),
  ];
  return crontab
    .split('\n')
    .filter((line) => !skipped.some((task) => line.split(/\s+/).includes(task)))
    .join('\n');
}

/**
 * Stops the worker (running jobs finish), then the rest. Jobs still waiting on Custompms or
 * Salesforce after a grace period (a third of the shutdown timeout, at most 5 s) have those calls
 * abandoned: they fail now and are retried by the next worker, instead of running on until the
 * shutdown timeout kills the process with their jobs still locked.
 */
export async function stopRuntime(runtime: Runtime): Promise<void> {
  const graceMs = Math.min(5_000, runtime.config.shutdownTimeoutMs / 3);
  const abandon = setTimeout(
    () => runtime.sync.abortCalls(new Error('the worker is shutting down')),
    graceMs,
  );
  try {
    await runtime.worker?.stop();
  } finally {
    clearTimeout(abandon);
  }
  await runtime.heartbeat?.stop();
  await runtime.stopMetrics();
  await runtime.database.close();
}

/** Runs `stop` once on SIGTERM/SIGINT, then exits 0 (1 if stopping failed or took too long). */
export function onShutdownSignal(
  logger: Logger,
  timeoutMs: number,
  stop: () => Promise<void>,
  /** Runs before the forced exit when `stop` timed out (jobs still running die with the process). */
  giveUp?: () => Promise<void>,
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      // Other processes release this one's jobs at once instead of waiting for its beat to go stale.
      void Promise.race([giveUp?.(), new Promise((resolve) => setTimeout(resolve, 2_000))]).finally(() =>
        process.exit(1),
      );
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
