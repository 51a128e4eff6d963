/**
 * Pollers and retention (#14): a failing poll is a health state with a count and the last error,
 * never a dead letter (an unreachable system would park one a minute); each poller has its own
 * queue; expired rows are purged while de-duplication keys outlive Salesforce's 24 h redelivery.
 */
import type { JobHelpers } from 'graphile-worker';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from '../../../proxy/src/jobs/deps';
import { purgeExpired } from '../../../proxy/src/jobs/retention';
import { TASK } from '../../../proxy/src/jobs/task-names';
import { buildTaskList, pollerCrontab } from '../../../proxy/src/jobs/tasks';
import { FLOWS } from '../../../proxy/src/sync';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('pollers and retention', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  function deps(): SyncDeps {
    return {
      pool: db.pool,
      logger: captureLogs('error').logger,
      definition: FLOWS,
      settings: { ...DEFAULT_SYNC_SETTINGS },
      custompms: () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'CUSTOMPMS_NETWORK_ERROR' });
      },
      salesforce: () => Promise.reject(Object.assign(new Error('unreachable'), { code: 'NETWORK_ERROR' })),
      now: () => new Date(),
      abortCalls: () => {},
    };
  }
  // Its last attempt: a task that throws here is parked as a dead letter.
  const lastAttempt = { job: { attempts: 1, max_attempts: 1 } } as unknown as JobHelpers;

  it('a failing poll counts in its health row and parks no dead letter', async () => {
    const tasks = buildTaskList(deps());
    for (let minute = 0; minute < 3; minute++) {
      for (const poller of [TASK.pollCustompms, TASK.pollDivisions, TASK.pollDeletedTasks]) {
        await tasks[poller]!({}, lastAttempt);
      }
    }
    const dead = await db.pool.query("SELECT 1 FROM sync_problems WHERE kind = 'dead_letter'");
    expect(dead.rowCount).toBe(0);
    const health = await db.pool.query<{ poller: string; consecutive_failures: number; last_error: string }>(
      'SELECT poller, consecutive_failures, last_error FROM poller_health ORDER BY poller',
    );
    expect(health.rows).toEqual([
      { poller: TASK.pollCustompms, consecutive_failures: 3, last_error: 'connect ECONNREFUSED' },
      { poller: TASK.pollDeletedTasks, consecutive_failures: 3, last_error: 'unreachable' },
      { poller: TASK.pollDivisions, consecutive_failures: 3, last_error: 'unreachable' },
    ]);
  });

  it('each poller runs in its own queue', () => {
    const queues = pollerCrontab(1)
      .split('\n')
      .filter((line) => line.includes(' poll_'))
      .map((line) => /queue=([^&\s]+)/.exec(line)?.[1]);
    expect(queues.length).toBeGreaterThanOrEqual(4);
    expect(new Set(queues).size).toBe(queues.length);
  });

  it('purges what retention no longer needs, keeps de-duplication keys two days at least', async () => {
    const at = (days: number) => new Date(Date.now() - days * 24 * 3600_000);
    for (const [key, days, processed] of [
      ['old', 40, true],
      ['recent', 1.5, true],
      ['unprocessed', 40, false],
    ] as const) {
      await db.pool.query(
        `INSERT INTO inbox_messages (source, dedupe_key, payload, received_at, processed_at)
         VALUES ('salesforce.outbound', $1, '{}', $2, $3)`,
        [key, at(days), processed ? at(days) : null],
      );
    }
    await db.pool.query(
      `INSERT INTO change_batches (id, status, items, created_at, completed_at) VALUES
         ('b_old', 'completed', '[]', $1, $1), ('b_open', 'open', '[]', $1, NULL), ('b_new', 'completed', '[]', $2, $2)`,
      [at(40), at(1)],
    );
    await db.pool.query(
      `INSERT INTO sync_problems (kind, code, message, created_at, resolved_at) VALUES
         ('error', 'X', 'resolved long ago', $1, $1), ('error', 'X', 'still open', $1, NULL)`,
      [at(40)],
    );
    const settings = { ...DEFAULT_SYNC_SETTINGS, retentionDays: 1 };
    const counts = await purgeExpired({ ...deps(), settings });
    expect(counts).toMatchObject({ inbox: 1, batches: 1, problems: 1 });
    const inbox = await db.pool.query<{ dedupe_key: string }>(
      'SELECT dedupe_key FROM inbox_messages ORDER BY 1',
    );
    expect(inbox.rows.map((row) => row.dedupe_key)).toEqual(['recent', 'unprocessed']);
    const batches = await db.pool.query<{ id: string }>('SELECT id FROM change_batches ORDER BY 1');
    expect(batches.rows.map((row) => row.id)).toEqual(['b_new', 'b_open']);
  });
});
