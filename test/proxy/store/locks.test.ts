import { withAdvisoryLock } from '../../../proxy/src/store/locks';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { eventually } from '../../support/eventually';

/** A promise the test resolves by hand. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('withAdvisoryLock', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  async function waitingForAdvisoryLocks(): Promise<number> {
    const rows = await db.pool.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows.rowCount ?? 0;
  }

  it('lets one holder of a key in at a time, and other keys through', async () => {
    const events: string[] = [];
    const aHolds = latch();
    const aMayLeave = latch();
    const first = withAdvisoryLock(db.pool, 'sync:tasks:t1', async () => {
      events.push('a in');
      aHolds.open();
      await aMayLeave.promise;
      events.push('a out');
    });
    await aHolds.promise;
    const second = withAdvisoryLock(db.pool, 'sync:tasks:t1', () => {
      events.push('b in');
      return Promise.resolve();
    });
    // Another key gets through while a holds its lock.
    await withAdvisoryLock(db.pool, 'sync:tasks:t2', () => {
      events.push('c in');
      return Promise.resolve();
    });
    // b is blocked in PostgreSQL on a's lock, not merely slow to start.
    await eventually(async () => (await waitingForAdvisoryLocks()) === 1, 'b to wait for the advisory lock');
    expect(events).toEqual(['a in', 'c in']);
    aMayLeave.open();
    await Promise.all([first, second]);
    expect(events).toEqual(['a in', 'c in', 'a out', 'b in']);
  });

  it('releases the lock when the work throws', async () => {
    await expect(
      withAdvisoryLock(db.pool, 'sync:tasks:t3', () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    const held = await db.pool.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(held.rowCount).toBe(0);
    await expect(withAdvisoryLock(db.pool, 'sync:tasks:t3', () => Promise.resolve(7))).resolves.toBe(7);
  });
});
