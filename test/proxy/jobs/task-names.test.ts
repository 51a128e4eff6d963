/**
 * One registry of task names (proxy/src/jobs/task-names.ts): the worker's task list registers
 * exactly those, and the task the inbox's SQL trigger enqueues (migration 0002, append-only, so
 * it keeps its literal name) is one of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK, TASK_NAMES } from '../../../proxy/src/jobs/task-names';
import { buildTaskList, pollerCrontab } from '../../../proxy/src/jobs/tasks';
import type { SyncDeps } from '../../../proxy/src/jobs/deps';

const MIGRATIONS = path.join(__dirname, '../../../proxy/src/store/migrations');

describe('task names', () => {
  it('the worker registers every name of the registry, and only those', () => {
    const tasks = buildTaskList({ pool: {} } as unknown as SyncDeps);
    expect(Object.keys(tasks).sort()).toEqual([...TASK_NAMES].sort());
  });

  it('the SQL triggers enqueue tasks of the registry', () => {
    const enqueued = readdirSync(MIGRATIONS)
      .filter((file) => file.endsWith('.sql'))
      .flatMap((file) =>
        [...readFileSync(path.join(MIGRATIONS, file), 'utf8').matchAll(/add_job\(\s*'([a-z_]+)'/g)].map(
          (match) => match[1]!,
        ),
      );
    expect([...new Set(enqueued)]).toEqual([TASK.processInboxMessage, TASK.processInboxMessages]);
  });

  it('the crontab names registry tasks only', () => {
    const names = pollerCrontab(1)
      .split('\n')
      .map((line) => line.split(' ')[5]);
    expect(names.every((name) => (TASK_NAMES as readonly string[]).includes(name!))).toBe(true);
  });
});
