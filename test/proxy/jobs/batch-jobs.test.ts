/**
 * Batch jobs (#18): the inbox's trigger enqueues one job per statement's rows, and a batch task
 * settles each item on its own — graphile-worker retries the failed items only, and on the last
 * attempt each failed item is a dead letter of its own.
 */
import { batchDeadLettering } from '../../../proxy/src/jobs/tasks';
import { startWorker } from '../../../proxy/src/jobs/worker';
import { insertInboxMessages } from '../../../proxy/src/store/inbox';
import { enqueueJob } from '../../../proxy/src/store/jobs';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { eventually } from '../../support/eventually';
import { captureLogs } from '../../support/logs';

describe('batch jobs', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  it("the inbox enqueues one job for a statement's messages, without a per-record queue", async () => {
    const { insertedIds } = await insertInboxMessages(
      db.pool,
      ['a', 'b', 'c'].map((id) => ({
        source: 'custompms.webhook' as const,
        dedupeKey: `evt_${id}`,
        payload: { id: `evt_${id}`, type: 'task.updated', data: { id: `tsk_${id}` } },
      })),
    );
    const jobs = await db.pool.query<{
      task_identifier: string;
      payload: number[];
      queue_name: string | null;
    }>(
      `SELECT t.identifier AS task_identifier, j.payload, j.job_queue_id AS queue_name
       FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id`,
    );
    expect(jobs.rows).toEqual([
      { task_identifier: 'process_inbox_messages', payload: insertedIds, queue_name: null },
    ]);
  });

  async function runBatch(maxAttempts: number, failing: (item: number, attempt: number) => boolean) {
    const { logger } = captureLogs('error');
    const seen: { item: number; attempt: number }[] = [];
    const runner = await startWorker({
      pool: db.pool,
      logger,
      concurrency: 1,
      taskList: {
        batch: batchDeadLettering({ pool: db.pool, logger }, 'batch', (items, helpers) =>
          Promise.all(
            items.map((item) => {
              seen.push({ item: Number(item), attempt: helpers.job.attempts });
              return Promise.resolve(
                failing(Number(item), helpers.job.attempts)
                  ? ({ status: 'rejected', reason: new Error(`item ${String(item)} failed`) } as const)
                  : ({ status: 'fulfilled', value: undefined } as const),
              );
            }),
          ),
        ),
      },
    });
    await enqueueJob(db.pool, 'batch', [1, 2, 3], { maxAttempts });
    // The retry is due after graphile-worker's backoff: make it due now.
    const done = async () =>
      (await db.pool.query('SELECT 1 FROM graphile_worker.jobs WHERE attempts < max_attempts')).rowCount ===
      0;
    try {
      await eventually(async () => {
        await db.pool.query(
          'UPDATE graphile_worker._private_jobs SET run_at = now() WHERE locked_at IS NULL',
        );
        return done();
      }, 'the batch to finish');
    } finally {
      await runner.stop();
    }
    return seen;
  }

  it('retries only the failed item of a batch', async () => {
    const seen = await runBatch(5, (item, attempt) => item === 2 && attempt === 1);
    expect(seen).toEqual([
      { item: 1, attempt: 1 },
      { item: 2, attempt: 1 },
      { item: 3, attempt: 1 },
      { item: 2, attempt: 2 },
    ]);
    expect((await db.pool.query("SELECT 1 FROM sync_problems WHERE kind = 'dead_letter'")).rowCount).toBe(0);
  });

  it('on the last attempt a failed item is a dead letter of its own', async () => {
    await runBatch(1, (item) => item === 3);
    const dead = await db.pool.query<{ task: string; payload: unknown }>(
      "SELECT task, payload FROM sync_problems WHERE kind = 'dead_letter'",
    );
    expect(dead.rows).toEqual([{ task: 'batch', payload: [3] }]);
  });
});
