import { withAdvisoryLock } from '../../../proxy/src/store/locks';
import { createTestDatabase, type TestDatabase } from '../../support/database';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('withAdvisoryLock', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('lets one holder of a key in at a time, and other keys through', async () => {
    const events: string[] = [];
    const hold = (key: string, name: string) =>
      withAdvisoryLock(db.pool, key, async () => {
        events.push(`${name} in`);
        await tick(150);
        events.push(`${name} out`);
      });
    const first = hold('sync:tasks:t1', 'a');
    await tick(30);
    await Promise.all([first, hold('sync:tasks:t1', 'b'), hold('sync:tasks:t2', 'c')]);
    // b waited for a; c (another key) ran while a held its lock.
    expect(events.indexOf('b in')).toBeGreaterThan(events.indexOf('a out'));
    expect(events.indexOf('c in')).toBeLessThan(events.indexOf('a out'));
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
