/**
 * Advisory locks: one holder at a time for a key, across every process on the database. A
 * session lock on a dedicated connection, so it can span HTTP calls without a long transaction;
 * if the process dies, the connection closes and PostgreSQL releases the lock.
 */
import type pg from 'pg';

export async function withAdvisoryLock<T>(pool: pg.Pool, key: string, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
    try {
      return await work();
    } finally {
      await client
        .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
        .catch((error: Error) => {
          // Closing the connection releases the lock too.
          broken = error;
        });
    }
  } finally {
    client.release(broken);
  }
}
