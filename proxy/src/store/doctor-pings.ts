/**
 * `doctor`'s Named Credential round trip: it stores a ping id, publishes a change event naming it,
 * and waits until the org's Apex fetches `/salesforce/v1/change-batches/<id>` (apex-api.ts marks
 * it received). Rows are tiny and kept for a day.
 */
import type { Queryable } from './transaction';

export const PING_BATCH_PREFIX = 'doctor-ping-';

export async function createPing(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM doctor_pings WHERE created_at < now() - interval '1 day'`);
  await db.query('INSERT INTO doctor_pings (id) VALUES ($1)', [id]);
}

/** Marks a ping received; false when no such ping was created (an unknown id). */
export async function recordPing(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query(
    'UPDATE doctor_pings SET received_at = coalesce(received_at, now()) WHERE id = $1',
    [id],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function pingReceivedAt(db: Queryable, id: string): Promise<Date | undefined> {
  const result = await db.query<{ received_at: Date | null }>(
    'SELECT received_at FROM doctor_pings WHERE id = $1',
    [id],
  );
  return result.rows[0]?.received_at ?? undefined;
}
