/**
 * A dead worker's jobs (#14): graphile-worker alone leaves them locked for 4 hours. Workers beat
 * in `worker_heartbeats`; the jobs of a worker whose beat went stale (or that never beat and has
 * held its lock too long) are unlocked, and one that died on its last attempt is a dead letter.
 */
import { releaseDeadWorkers, startHeartbeat } from '../../../proxy/src/jobs/heartbeat';
import { deadLettering } from '../../../proxy/src/jobs/tasks';
import { startWorker } from '../../../proxy/src/jobs/worker';
import { eventually } from '../../support/eventually';
import { enqueueJob } from '../../../proxy/src/store/jobs';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('dead workers', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  async function lockedJob(key: string, worker: string, lockedSecondsAgo: number, lastAttempt = false) {
    await enqueueJob(db.pool, 'sync_custompms_record', { type: 'task', id: key }, { jobKey: key });
    await db.pool.query(
      `UPDATE graphile_worker._private_jobs SET locked_by = $2, locked_at = now() - make_interval(secs => $3),
         attempts = CASE WHEN $4 THEN max_attempts ELSE 1 END
       WHERE key = $1`,
      [key, worker, lockedSecondsAgo, lastAttempt],
    );
  }
  const locks = async () =>
    (
      await db.pool.query<{ key: string; locked_by: string | null }>(
        "SELECT key, locked_by FROM graphile_worker.jobs WHERE task_identifier = 'sync_custompms_record' ORDER BY key",
      )
    ).rows;

  it("unlocks a SIGKILLed worker's jobs within a minute, never a live worker's", async () => {
    await db.pool.query(
      `INSERT INTO worker_heartbeats (worker_id, beat_at) VALUES ('worker-dead', now() - interval '50 seconds'),
         ('worker-live', now())`,
    );
    await lockedJob('a-dead', 'worker-dead', 55);
    await lockedJob('b-live', 'worker-live', 600);
    await lockedJob('c-never-beat', 'worker-other', 70);
    await lockedJob('d-just-locked', 'worker-new', 5);
    const released = await releaseDeadWorkers(db.pool, captureLogs('error').logger, 45_000);
    expect(released.sort()).toEqual(['worker-dead', 'worker-other']);
    expect(await locks()).toEqual([
      { key: 'a-dead', locked_by: null },
      { key: 'b-live', locked_by: 'worker-live' },
      { key: 'c-never-beat', locked_by: null },
      { key: 'd-just-locked', locked_by: 'worker-new' },
    ]);
    // A batch the dead worker was writing is due now: the overdue sweep runs now, not at the minute.
    const sweep = await db.pool.query(
      "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'republish_overdue_batches' AND run_at <= now()",
    );
    expect(sweep.rowCount).toBe(1);
  });

  it('a live worker beats under the id that locks its jobs: a long job is never released', async () => {
    const { logger } = captureLogs('error');
    const heartbeat = startHeartbeat({ pool: db.pool, logger, intervalMs: 100, staleMs: 1_000 });
    let finish = () => {};
    const blocked = new Promise<void>((resolve) => (finish = resolve));
    let started = false;
    const runner = await startWorker({
      pool: db.pool,
      logger,
      concurrency: 1,
      taskList: {
        slow: async () => {
          started = true;
          await blocked;
        },
      },
      events: heartbeat.events,
    });
    try {
      await enqueueJob(db.pool, 'slow', {});
      await eventually(() => started, 'the slow job to start');
      // Locked for a minute already: only a missing beat would make it look dead.
      await db.pool.query("UPDATE graphile_worker._private_jobs SET locked_at = now() - interval '1 minute'");
      await heartbeat.beat();
      expect(await releaseDeadWorkers(db.pool, logger, 1_000)).toEqual([]);
      expect((await locks())[0]?.locked_by).not.toBeNull();
    } finally {
      finish();
      await runner.stop();
      await heartbeat.stop();
    }
  });

  it('a job killed on its last attempt ends as a dead letter', async () => {
    await lockedJob('last', 'worker-dead', 120, true);
    await releaseDeadWorkers(db.pool, captureLogs('error').logger, 45_000);
    const dead = await db.pool.query<{ code: string; task: string }>(
      "SELECT code, task FROM sync_problems WHERE kind = 'dead_letter'",
    );
    expect(dead.rows).toEqual([{ code: 'WORKER_DIED', task: 'sync_custompms_record' }]);
  });

  it('a superseded job (its key taken by a newer one) that dies is removed, not a dead letter', async () => {
    await lockedJob('record', 'worker-dead', 120);
    // The record changes again while its sync runs: graphile-worker clears the running job's key,
    // spends its attempts and adds a fresh job.
    await enqueueJob(db.pool, 'sync_custompms_record', { type: 'task', id: 'record' }, { jobKey: 'record' });
    const spent = await db.pool.query(
      'SELECT 1 FROM graphile_worker._private_jobs WHERE key IS NULL AND attempts >= max_attempts',
    );
    expect(spent.rowCount).toBe(1);
    await releaseDeadWorkers(db.pool, captureLogs('error').logger, 45_000);
    expect((await db.pool.query("SELECT 1 FROM sync_problems WHERE kind = 'dead_letter'")).rowCount).toBe(0);
    expect(await locks()).toEqual([{ key: 'record', locked_by: null }]);
  });

  it('a superseded job that fails ends without a dead letter; its successor runs', async () => {
    const { logger } = captureLogs('error');
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const runs: string[] = [];
    const runner = await startWorker({
      pool: db.pool,
      logger,
      concurrency: 2,
      taskList: {
        sync_custompms_record: deadLettering(
          { pool: db.pool, logger },
          'sync_custompms_record',
          async (payload) => {
            const { id } = payload as { id: string };
            runs.push(id);
            if (id === 'first') {
              await gate;
              throw new Error('Salesforce answered 503');
            }
          },
        ),
      },
    });
    try {
      await enqueueJob(db.pool, 'sync_custompms_record', { id: 'first' }, { jobKey: 'record' });
      await eventually(() => runs.length === 1, 'the first sync to start');
      await enqueueJob(db.pool, 'sync_custompms_record', { id: 'second' }, { jobKey: 'record' });
      await eventually(() => runs.includes('second'), 'the successor to run');
      release();
      await eventually(
        async () => (await db.pool.query('SELECT 1 FROM graphile_worker._private_jobs')).rowCount === 0,
        'the failed, superseded job to be gone',
      );
      expect((await db.pool.query("SELECT 1 FROM sync_problems WHERE kind = 'dead_letter'")).rowCount).toBe(
        0,
      );
    } finally {
      release();
      await runner.stop();
    }
  });
});
