/**
 * Every background task the worker knows, by name, and the cron lines of the pollers. Each task
 * retries with graphile-worker's exponential backoff; on its last attempt a failure is also
 * parked as a dead letter an admin can see and replay.
 */
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import { recordProblem } from '../store/problems';
import { FLUSH_OUTBOX, SYNC_CUSTOMPMS_RECORD } from './apply';
import { flushOutbox, republishOverdue } from './batches';
import { syncCustompmsRecord } from './custompms-changes';
import type { SyncDeps } from './deps';
import { processInboxMessage } from './inbox';
import { pollCustompms, pollDeletedTasks, pollDivisions } from './pollers';

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
        await recordProblem(deps.pool, {
          kind: 'dead_letter',
          code: (error as { code?: string }).code ?? 'JOB_FAILED',
          message: (error as Error).message ?? String(error),
          task: name,
          payload,
        });
      }
      throw error;
    }
  };
}

/** Every task name; a dead letter of any of them can be replayed (jobs/replay.ts). */
export const TASK_NAMES = [
  'process_inbox_message',
  SYNC_CUSTOMPMS_RECORD,
  FLUSH_OUTBOX,
  'republish_overdue_batches',
  'poll_custompms',
  'poll_divisions',
  'poll_deleted_tasks',
] as const;

export function buildTaskList(deps?: SyncDeps): TaskList {
  if (!deps) return {};
  const tasks: Record<
    (typeof TASK_NAMES)[number],
    (payload: unknown, helpers: JobHelpers) => Promise<unknown>
  > = {
    process_inbox_message: (payload) => processInboxMessage(deps, (payload as { id: number }).id),
    [SYNC_CUSTOMPMS_RECORD]: (payload) => {
      const { type, id } = payload as { type: string; id: string };
      return syncCustompmsRecord(deps, type, id);
    },
    [FLUSH_OUTBOX]: () => flushOutbox(deps),
    republish_overdue_batches: () => republishOverdue(deps),
    poll_custompms: () => pollCustompms(deps),
    poll_divisions: () => pollDivisions(deps),
    poll_deleted_tasks: () => pollDeletedTasks(deps),
  };
  return Object.fromEntries(
    Object.entries(tasks).map(([name, run]) => [name, deadLettering(deps, name, run)]),
  );
}

/** Pollers every `minutes` (graphile cron fires each line once across all processes). */
export function pollerCrontab(minutes: number): string {
  const every = `*/${Math.max(1, Math.min(59, minutes))} * * * *`;
  const options = 'queue=pollers&max=1';
  return [
    `${every} poll_custompms ?${options}&jobKey=poll_custompms`,
    `${every} poll_divisions ?${options}&jobKey=poll_divisions`,
    `${every} poll_deleted_tasks ?${options}&jobKey=poll_deleted_tasks`,
    `* * * * * republish_overdue_batches ?max=1&jobKey=republish_overdue_batches`,
  ].join('\n');
}
