/**
 * Every background task the worker knows, by name (jobs/task-names.ts), and the cron lines of the
 * pollers. Each task retries with graphile-worker's exponential backoff; on its last attempt a
 * failure is also parked as a dead letter an admin can see and replay.
 */
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import { metrics } from '../metrics';
import { countSendable, flushHorizonMs, outboxAwaited } from '../store/batches';
import { requeueStaleClaims } from '../store/inbox';
import { jobSuperseded } from '../store/jobs';
import { recordProblem } from '../store/problems';
import { flushOutbox, republishOverdue } from './batches';
import { flushEnded, gatherBurst, holdRemainder, scheduleDeferredFlush } from './enqueue';
import { syncCustompmsRecords } from './apply-set';
import { syncCustompmsRecord } from './custompms-changes';
import type { SyncDeps } from './deps';
import { STALE_BEAT_MS } from './heartbeat';
import { processInboxMessage, processInboxMessages } from './inbox';
import { observePoll } from './observe';
import { apiBudgetAllows, pollCustompms, pollDeletedTasks, pollDivisions, pollTasks } from './pollers';
import { purgeExpired, type PurgeCounts } from './retention';
import { TASK, type TaskName } from './task-names';

export { TASK_NAMES } from './task-names';

/** A job's last failure, parked for an admin to see and replay. */
async function recordDeadLetter(
  deps: Pick<SyncDeps, 'pool'>,
  task: string,
  error: unknown,
  payload: unknown,
): Promise<void> {
  const code = (error as { code?: string }).code ?? 'JOB_FAILED';
  metrics.failure(code);
  await recordProblem(deps.pool, {
    kind: 'dead_letter',
    code,
    message: (error as Error).message ?? String(error),
    task,
    payload,
  });
}

/** Wraps a task: on its last attempt a failure is also a dead letter; a superseded job just ends. */
export function deadLettering(
  deps: Pick<SyncDeps, 'pool' | 'logger'>,
  name: string,
  run: (payload: unknown, helpers: JobHelpers) => Promise<unknown>,
): Task {
  return async (payload, helpers) => {
    try {
      await run(payload, helpers);
    } catch (error) {
      const { attempts, max_attempts: maxAttempts } = helpers.job;
      if (helpers.job.key && (await jobSuperseded(deps.pool, helpers.job.id).catch(() => false))) {
        // A newer job with this key does the work: this one ends (graphile-worker spent its
        // attempts, so a failure would leave it in the table for good).
        deps.logger.info(
          { task: name, jobId: helpers.job.id, err: error },
          'a superseded job failed; its successor runs',
        );
        return;
      }
      if (attempts >= maxAttempts) await recordDeadLetter(deps, name, error, payload);
      throw error;
    }
  };
}

/**
 * Wraps a batch task (a payload that is a list of items, enqueued without a job key): `run`
 * settles each item on its own. Failed items are retried by graphile-worker without the ones
 * done; on the last attempt each failed item is a dead letter of its own.
 */
export function batchDeadLettering(
  deps: Pick<SyncDeps, 'pool' | 'logger'>,
  name: string,
  run: (items: unknown[], helpers: JobHelpers) => Promise<PromiseSettledResult<unknown>[]>,
): Task {
  return async (payload, helpers) => {
    const items: unknown[] = Array.isArray(payload) ? (payload as unknown[]) : [payload];
    let outcomes: PromiseSettledResult<unknown>[];
    try {
      outcomes = await run(items, helpers);
    } catch (error) {
      outcomes = items.map(() => ({ status: 'rejected', reason: error }));
    }
    const failed = items.flatMap((item: unknown, index): { item: unknown; error: unknown }[] => {
      const outcome = outcomes[index];
      return outcome?.status === 'rejected' ? [{ item, error: outcome.reason as unknown }] : [];
    });
    if (failed.length === 0) return;
    if (helpers.job.attempts >= helpers.job.max_attempts) {
      for (const { item, error } of failed) await recordDeadLetter(deps, name, error, [item]);
    }
    // graphile-worker's batch-job contract: one promise per item; the rejected ones are retried.
    return outcomes.map((outcome) => {
      if (outcome.status === 'fulfilled') return Promise.resolve();
      const rejected = Promise.reject(outcome.reason as Error);
      rejected.catch(() => undefined);
      return rejected;
    });
  };
}

export function buildTaskList(deps?: SyncDeps): TaskList {
  if (!deps) return {};
  // Every task but the batch ones, which have their own wrapper (below).
  const tasks: Record<
    Exclude<TaskName, typeof TASK.processInboxMessages | typeof TASK.syncCustompmsRecords>,
    (payload: unknown, helpers: JobHelpers) => Promise<unknown>
  > = {
    [TASK.processInboxMessage]: (payload) => processInboxMessage(deps, (payload as { id: number }).id),
    [TASK.syncCustompmsRecord]: (payload) => {
      const { type, id } = payload as { type: string; id: string };
      return syncCustompmsRecord(deps, type, id);
    },
    // Never exhausts its attempts: a job key whose job died for good would hold every later flush.
    // Unsent batches are already back in the outbox; the flush is simply scheduled again.
    // `coalesceMs`: a burst's flush gathers changes in the job for up to that long (not as a later
    // run_at, which the worker would only see at its next poll, a second) so they share its publish
    // call — unless others wait for a change it holds (the head of a customer → project → task
    // burst). Changes put before its due time scheduled no flush of their own (scheduleFlush): if it
    // sent early, it goes on gathering until then, sending full batches as they fill (the rest
    // waits for more), and what waits once nothing more is on its way or the time has passed.
    [TASK.flushOutbox]: async (payload) => {
      // At least until the gathering horizon (migration 0015): this job may have replaced a burst's
      // gathering flush, and the changes committed until then scheduled no flush of their own.
      const coalesceMs = Math.min(
        Math.max(
          Number((payload as { coalesceMs?: unknown } | null)?.coalesceMs ?? 0),
          await flushHorizonMs(deps.pool),
        ),
        5_000,
      );
      const due = Date.now() + coalesceMs;
      let failed = false;
      const flush = (fullBatchesOnly = false) =>
        flushOutbox(deps, { fullBatchesOnly }).catch(async (error: unknown) => {
          failed = true;
          deps.logger.warn({ err: error }, 'flush failed; trying again shortly');
          await scheduleDeferredFlush(deps, new Date(Date.now() + 5_000 + Math.random() * 5_000));
        });
      try {
        const bursting = coalesceMs > 0 && !(await outboxAwaited(deps.pool));
        // Full batches only when gathering filled them, or at the due time while the burst goes on
        // (the next gathering flush takes the rest: flushEnded).
        const fullOnly = async (gathered: Awaited<ReturnType<typeof gatherBurst>>) =>
          gathered === 'full' || (bursting && gathered === 'due' && (await holdRemainder(deps)));
        let gathered = bursting ? await gatherBurst(deps, due) : 'due';
        await flush(await fullOnly(gathered));
        while (Date.now() < due) {
          gathered = await gatherBurst(deps, due);
          if ((await countSendable(deps.pool)) > 0) await flush(await fullOnly(gathered));
        }
        // The remainder the last full batches left waiting for more leaves now, unless the burst goes on.
        if (
          gathered === 'full' &&
          (await countSendable(deps.pool)) > 0 &&
          !(bursting && (await holdRemainder(deps)))
        )
          await flush();
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        // After a failure the deferred flush (or the job's retry) tries again, not at once.
        await flushEnded(deps, { again: !failed });
      }
    },
    // Sweeps run every minute like the pollers: a failure is their health, not a dead letter.
    // Also the webhooks a dead process had claimed (jobs/inbox.ts): enqueued again.
    [TASK.republishOverdueBatches]: () =>
      polling(
        deps,
        TASK.republishOverdueBatches,
        async () => (await republishOverdue(deps)) + (await requeueStaleClaims(deps.pool, STALE_BEAT_MS)),
      ),
    [TASK.pollCustompms]: () => polling(deps, TASK.pollCustompms, () => pollCustompms(deps)),
    [TASK.pollDivisions]: () => polling(deps, TASK.pollDivisions, () => pollDivisions(deps)),
    [TASK.pollDeletedTasks]: () => polling(deps, TASK.pollDeletedTasks, () => pollDeletedTasks(deps)),
    [TASK.pollTasks]: () => polling(deps, TASK.pollTasks, () => pollTasks(deps)),
    [TASK.purgeExpired]: () =>
      polling(deps, TASK.purgeExpired, async () => {
        const counts: PurgeCounts = await purgeExpired(deps);
        return counts.inbox + counts.batches + counts.conflicts + counts.problems + counts.deletes;
      }),
  };
  return {
    ...Object.fromEntries(Object.entries(tasks).map(([name, run]) => [name, deadLettering(deps, name, run)])),
    [TASK.processInboxMessages]: batchDeadLettering(deps, TASK.processInboxMessages, (items) =>
      processInboxMessages(deps, items.map(Number)),
    ),
    // One set pass per hundred records (jobs/apply-set.ts); each record still succeeds or is
    // retried on its own.
    [TASK.syncCustompmsRecords]: batchDeadLettering(deps, TASK.syncCustompmsRecords, (items) =>
      syncCustompmsRecords(
        deps,
        items.map((item) => item as { type: string; id: string }),
      ),
    ),
  };
}

/**
 * A poll that fails is a health state (poller_health: last error, consecutive failures), not a
 * dead letter: the next run (a minute later) is the retry, and an unreachable system would
 * otherwise park a dead letter every minute. A Salesforce poller the API budget defers
 * (jobs/api-budget.ts) just does not run this time.
 */
async function polling(deps: SyncDeps, name: TaskName, run: () => Promise<number>): Promise<void> {
  // The budget read failing must not stop the safety net: the poll runs (and fails on its own).
  if (!(await apiBudgetAllows(deps, name).catch(() => true))) return;
  try {
    await observePoll(deps, name, run);
    await deps.pool
      .query('UPDATE poller_health SET consecutive_failures = 0 WHERE poller = $1', [name])
      .catch(() => undefined);
  } catch (error) {
    const failures = await deps.pool
      .query<{ consecutive_failures: number }>(
        `UPDATE poller_health SET consecutive_failures = consecutive_failures + 1 WHERE poller = $1
         RETURNING consecutive_failures`,
        [name],
      )
      .then((result) => result.rows[0]?.consecutive_failures ?? 1)
      .catch(() => undefined);
    deps.logger.warn(
      { err: error, poller: name, consecutiveFailures: failures },
      'poll failed; next run retries',
    );
  }
}

/** Pollers every `minutes` (graphile cron fires each line once across all processes). */
export function pollerCrontab(minutes: number): string {
  const every = `*/${Math.max(1, Math.min(59, minutes))} * * * *`;
  // Each poller its own queue: one slow or failing system never holds up the others' polls.
  const poller = (task: TaskName) => `${every} ${task} ?queue=${task}&max=1&jobKey=${task}`;
  return [
    poller(TASK.pollCustompms),
    poller(TASK.pollDivisions),
    poller(TASK.pollDeletedTasks),
    poller(TASK.pollTasks),
    `* * * * * ${TASK.republishOverdueBatches} ?max=1&jobKey=${TASK.republishOverdueBatches}`,
    `17 * * * * ${TASK.purgeExpired} ?max=3&jobKey=${TASK.purgeExpired}`,
  ].join('\n');
}
