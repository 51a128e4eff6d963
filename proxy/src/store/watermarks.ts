/** Poller positions, stored so a restart resumes where the last run stopped. */
import type { Queryable } from './transaction';

export async function getWatermark(db: Queryable, name: string): Promise<string | undefined> {
  const result = await db.query<{ value: string }>('SELECT value FROM watermarks WHERE name = $1', [name]);
  return result.rows[0]?.value;
}

export async function setWatermark(db: Queryable, name: string, value: string): Promise<void> {
  await db.query(
    `INSERT INTO watermarks (name, value) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [name, value],
  );
}
