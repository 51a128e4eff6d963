/**
 * Every background task the worker knows, by name (jobs/task-names.ts), and the cron lines of the
 * pollers. Each task retries with graphile-worker's exponential backoff; on its last attempt a
 * failure is also parked as a dead letter an admin can see and replay.
 */
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import { metrics } from '../metrics';
import { recordProblem } from '../store/problems';
import { flushOutbox, republishOverdue } from './batches';
import { syncCustompmsRecord } from './custompms-changes';
import type { SyncDeps } from './deps';
import { processInboxMessage } from './inbox';
import { observePoll } from './observe';
import { pollCustompms, pollDeletedTasks, pollDivisions } from './pollers';
import { TASK, type TaskName } from './task-names';

export { TASK_NAMES } from './task-names';

function deadLettering(
  deps: SyncDeps,
  name: string,
  run: (payload: unknown, helpers: JobHelpers) => Promise<unknown>,
): Task {
  return async (payload, helpers) => {
    try {
      await run(payload, helpers);
    } catch (error) {
      const { attempts, max_attempts: maxAttempts } = helpers.job;
      if (attempts >= maxAttempts) {
        const code = (error as { code?: string }).code ?? 'JOB_FAILED';
        metrics.failure(code);
        await recordProblem(deps.pool, {
          kind: 'dead_letter',
          code,
          message: (error as Error).message ?? String(error),
          task: name,
          payload,
        });
      }
      throw error;
    }
  };
}

export function buildTaskList(deps?: SyncDeps): TaskList {
  if (!deps) return {};
  const tasks: Record<TaskName, (payload: unknown, helpers: JobHelpers) => Promise<unknown>> = {
    [TASK.processInboxMessage]: (payload) => processInboxMessage(deps, (payload as { id: number }).id),
    [TASK.syncCustompmsRecord]: (payload) => {
      const { type, id } = payload as { type: string; id: string };
      return syncCustompmsRecord(deps, type, id);
    },
    [TASK.flushOutbox]: () => flushOutbox(deps),
    [TASK.republishOverdueBatches]: () => republishOverdue(deps),
    [TASK.pollCustompms]: () => observePoll(deps, TASK.pollCustompms, () => pollCustompms(deps)),
    [TASK.pollDivisions]: () => observePoll(deps, TASK.pollDivisions, () => pollDivisions(deps)),
    [TASK.pollDeletedTasks]: () => observePoll(deps, TASK.pollDeletedTasks, () => pollDeletedTasks(deps)),
  };
  return Object.fromEntries(
    Object.entries(tasks).map(([name, run]) => [name, deadLettering(deps, name, run)]),
  );
}

/** Pollers every `minutes` (graphile cron fires each line once across all processes). */
export function pollerCrontab(minutes: number): string {
  const every = `*/${Math.max(1, Math.min(59, minutes))} * * * *`;
  const options = 'queue=pollers&max=1';
  const poller = (task: TaskName) => `${every} ${task} ?${options}&jobKey=${task}`;
  return [
    poller(TASK.pollCustompms),
    poller(TASK.pollDivisions),
    poller(TASK.pollDeletedTasks),
    `* * * * * ${TASK.republishOverdueBatches} ?max=1&jobKey=${TASK.republishOverdueBatches}`,
  ].join('\n');
}
