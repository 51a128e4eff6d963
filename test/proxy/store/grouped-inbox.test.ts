/**
 * Group commit for webhooks (`GroupedInboxWriter`): messages arriving together share statements
 * (and inbox jobs), each caller is answered once its own row is stored, duplicates are told apart
 * within a group and across groups, and a failed statement fails every caller in it.
 */
import pg from 'pg';
import { GroupedInboxWriter, listInboxMessages } from '../../../proxy/src/store/inbox';
import { createTestDatabase, type TestDatabase } from '../../support/database';

function webhook(id: string) {
  return {
    source: 'custompms.webhook' as const,
    dedupeKey: id,
    payload: { id, type: 'task.updated', occurred_at: '2026-03-01T11:59:00.000Z', data: { id: 'tsk_1' } },
  };
}

describe('GroupedInboxWriter', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.pool.query('DELETE FROM inbox_messages');
    await db.pool.query('DELETE FROM graphile_worker._private_jobs');
  });

  it('stores a burst in a few statements, each message once its row is durable', async () => {
    const statements: string[] = [];
    const pool = new Proxy(db.pool, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return (text: string, values: unknown[]) => {
          statements.push(text);
          return target.query(text, values);
        };
      },
    });
    const writer = new GroupedInboxWriter(pool);
    const ids = Array.from({ length: 300 }, (_, index) => `evt_burst_${index}`);
    const answers = await Promise.all(
      ids.map(async (id) => {
        const answer = await writer.insert(webhook(id));
        // Answered only after the commit: another connection already sees the row.
        const seen = await db.pool.query('SELECT 1 FROM inbox_messages WHERE dedupe_key = $1', [id]);
        return { ...answer, seen: seen.rowCount };
      }),
    );
    expect(answers.every((answer) => !answer.duplicate && answer.seen === 1)).toBe(true);
    expect((await listInboxMessages(db.pool, 'custompms.webhook')).map((m) => m.dedupeKey).sort()).toEqual(
      [...ids].sort(),
    );
    // The first message goes alone (an idle receiver does not wait), the rest in groups.
    expect(statements.length).toBeGreaterThanOrEqual(2);
    expect(statements.length).toBeLessThan(20);
    const jobs = await db.pool.query(
      `SELECT count(*)::int AS n FROM graphile_worker._private_jobs j
         JOIN graphile_worker._private_tasks t ON t.id = j.task_id
        WHERE t.identifier = 'process_inbox_messages'`,
    );
    expect(jobs.rows[0].n).toBeLessThan(20);
  });

  it('tells duplicates apart, within one group and against rows stored before', async () => {
    const writer = new GroupedInboxWriter(db.pool);
    expect(await writer.insert(webhook('evt_dup_a'))).toEqual({ duplicate: false });
    const answers = await Promise.all(
      ['evt_dup_b', 'evt_dup_a', 'evt_dup_b', 'evt_dup_c'].map((id) => writer.insert(webhook(id))),
    );
    const [firstB, a, secondB, c] = answers.map((answer) => answer.duplicate);
    expect(a).toBe(true);
    expect(c).toBe(false);
    // Two statements may be in flight at once: either copy of evt_dup_b may land first, never both.
    expect([firstB, secondB].sort()).toEqual([false, true]);
    expect((await listInboxMessages(db.pool, 'custompms.webhook')).length).toBe(3);
  });

  it('fails every message of a failed statement, and stores nothing of it', async () => {
    const broken = new pg.Pool({ connectionString: db.connectionString, max: 2 });
    await broken.end();
    const writer = new GroupedInboxWriter(broken);
    const answers = await Promise.allSettled(
      ['evt_x', 'evt_y', 'evt_z'].map((id) => writer.insert(webhook(id))),
    );
    expect(answers.map((answer) => answer.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await listInboxMessages(db.pool, 'custompms.webhook')).toEqual([]);
    // The writer keeps working with a live pool afterwards.
    const live = new GroupedInboxWriter(db.pool);
    expect(await live.insert(webhook('evt_after'))).toEqual({ duplicate: false });
  });
});
