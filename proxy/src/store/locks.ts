/**
 * Advisory locks: one holder at a time for a key, across every process on the database. Session
 * locks on a dedicated connection, so they can span HTTP calls without a long transaction; if the
 * process dies, the connection closes and PostgreSQL releases them. Several keys are always
 * taken in one sorted order, so two holders never wait on each other in a circle.
 */
import type pg from 'pg';

export async function withAdvisoryLock<T>(pool: pg.Pool, key: string, work: () => Promise<T>): Promise<T> {
  return withAdvisoryLocks(pool, [key], work);
}

export async function withAdvisoryLocks<T>(
  pool: pg.Pool,
  keys: readonly string[],
  work: () => Promise<T>,
): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return work();
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(
      `SELECT pg_advisory_lock(hashtextextended(k, 0)) FROM (SELECT unnest($1::text[]) AS k ORDER BY 1) AS ordered`,
      [sorted],
    );
    try {
      return await work();
    } finally {
      await client
        .query('SELECT pg_advisory_unlock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k', [sorted])
        .catch((error: Error) => {
          // Closing the connection releases the locks too.
          broken = error;
        });
    }
  } finally {
    client.release(broken);
  }
}

/** The same locks, held until `client`'s transaction ends. */
export async function lockForTransaction(client: pg.PoolClient, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
     FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) AS ordered`,
    [keys],
  );
}
