/**
 * Webhooks synced in sets (#18, migration 0014): a run claims its own webhooks and others waiting,
 * never one another live run holds; a claim whose process died is taken over, and the minute
 * sweep enqueues such messages again. A batch's results jump the queue of a burst's webhooks.
 */
import {
  claimWebhookMessages,
  dropPendingJobsOf,
  insertInboxMessages,
  releaseClaims,
  requeueStaleClaims,
} from '../../../proxy/src/store/inbox';
import { createTestDatabase, type TestDatabase } from '../../support/database';

const STALE_MS = 45_000;

describe('inbox claims', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  async function webhooks(count: number, prefix = 'a'): Promise<number[]> {
    const { insertedIds } = await insertInboxMessages(
      db.pool,
      Array.from({ length: count }, (_, index) => ({
        source: 'custompms.webhook' as const,
        dedupeKey: `evt_${prefix}${index}`,
        payload: { id: `evt_${prefix}${index}`, type: 'task.updated', data: { id: `tsk_${prefix}${index}` } },
      })),
    );
    return insertedIds;
  }

  async function beat(processId: string, ageSeconds = 0): Promise<void> {
    await db.pool.query(
      `INSERT INTO worker_heartbeats (worker_id, beat_at) VALUES ($1, now() - make_interval(secs => $2))
       ON CONFLICT (worker_id) DO UPDATE SET beat_at = EXCLUDED.beat_at`,
      [processId, ageSeconds],
    );
  }

  it('claims its own webhooks first, then others waiting, up to the limit', async () => {
    const ids = await webhooks(5);
    const claimed = await claimWebhookMessages(db.pool, {
      own: [ids[4]!],
      processId: 'p1',
      claimId: 'run1',
      limit: 3,
      staleMs: STALE_MS,
    });
    expect(claimed.map((message) => message.id)).toEqual([ids[0], ids[1], ids[4]]);
  });

  it("never takes what another live run holds; takes over a dead process's claims", async () => {
    const ids = await webhooks(3);
    await beat('live');
    await claimWebhookMessages(db.pool, {
      own: [ids[0]!],
      processId: 'live',
      claimId: 'r1',
      limit: 1,
      staleMs: STALE_MS,
    });
    await beat('dead', 120);
    await claimWebhookMessages(db.pool, {
      own: [ids[1]!],
      processId: 'dead',
      claimId: 'r2',
      limit: 1,
      staleMs: STALE_MS,
    });
    await beat('other');
    const claimed = await claimWebhookMessages(db.pool, {
      own: [ids[0]!],
      processId: 'other',
      claimId: 'r3',
      limit: 10,
      staleMs: STALE_MS,
    });
    // ids[0]: the live run's; ids[1]: the dead process's, taken over; ids[2]: never claimed.
    expect(claimed.map((message) => message.id)).toEqual([ids[1], ids[2]]);
  });

  it('a released claim can be taken again; processed messages never are', async () => {
    const ids = await webhooks(2);
    await beat('p');
    await claimWebhookMessages(db.pool, {
      own: ids,
      processId: 'p',
      claimId: 'r1',
      limit: 10,
      staleMs: STALE_MS,
    });
    await db.pool.query('UPDATE inbox_messages SET processed_at = now() WHERE id = $1', [ids[0]]);
    await releaseClaims(db.pool, ids, 'r1');
    const again = await claimWebhookMessages(db.pool, {
      own: ids,
      processId: 'p',
      claimId: 'r2',
      limit: 10,
      staleMs: STALE_MS,
    });
    expect(again.map((message) => message.id)).toEqual([ids[1]]);
  });

  it("the sweep enqueues again the unprocessed webhooks of a dead process's claims", async () => {
    const ids = await webhooks(3);
    await beat('dead', 120);
    await claimWebhookMessages(db.pool, {
      own: ids,
      processId: 'dead',
      claimId: 'r1',
      limit: 2,
      staleMs: STALE_MS,
    });
    await db.pool.query('DELETE FROM graphile_worker._private_jobs');
    expect(await requeueStaleClaims(db.pool, STALE_MS)).toBe(2);
    const jobs = await db.pool.query<{ payload: number[] }>(
      'SELECT payload FROM graphile_worker._private_jobs',
    );
    expect(jobs.rows).toEqual([{ payload: [ids[0], ids[1]] }]);
    // Claims cleared: a run takes them at once.
    expect(await requeueStaleClaims(db.pool, STALE_MS)).toBe(0);
  });

  it('removes the pending jobs that name only claimed messages, never a running one', async () => {
    const one = await webhooks(1, 'x');
    const two = await webhooks(1, 'y');
    const pair = await webhooks(2, 'z');
    await db.pool.query(
      `UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'w'
        WHERE payload::jsonb = to_jsonb($1::bigint[])`,
      [two],
    );
    // one: removed; two: running, kept; pair: names a message not claimed, kept.
    expect(await dropPendingJobsOf(db.pool, [...one, ...two, pair[0]!])).toBe(1);
    const left = await db.pool.query<{ payload: number[] }>(
      'SELECT payload FROM graphile_worker._private_jobs ORDER BY id',
    );
    expect(left.rows.map((row) => row.payload)).toEqual([two, pair]);
  });

  it("a batch's results jump the queue of webhooks", async () => {
    await webhooks(3);
    await insertInboxMessages(db.pool, [
      { source: 'salesforce.results', dedupeKey: 'batch-1', payload: { batchId: 'b1', results: [] } },
    ]);
    const jobs = await db.pool.query<{ priority: number; n: number }>(
      `SELECT priority, json_array_length(payload) AS n FROM graphile_worker._private_jobs ORDER BY priority, id`,
    );
    expect(jobs.rows).toEqual([
      { priority: -1, n: 1 },
      { priority: 0, n: 3 },
    ]);
  });
});
