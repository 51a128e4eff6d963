/** A linked record's history of syncs (migration 0007), for the console's link browser. */
import type { Queryable } from './transaction';

export type HistoryDirection = 'to_salesforce' | 'to_custompms' | 'link' | 'unlink' | 'resync';

export interface HistoryEntry {
  flow: string;
  custompmsId: string | null;
  salesforceId: string | null;
  direction: HistoryDirection;
  /** `ok`, `refused`, `failed`, `requested`, … */
  outcome: string;
  /** Fields that moved (names on the side written), when known. */
  fields?: readonly string[];
  detail?: string;
}

export interface StoredHistoryEntry extends HistoryEntry {
  id: number;
  at: Date;
}

/** Rows older than this are deleted as new ones are written. */
export const HISTORY_RETENTION_DAYS = 30;
const PRUNE_CHANCE = 0.02;

export async function recordHistory(db: Queryable, entries: readonly HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO link_history (flow, custompms_id, salesforce_id, direction, outcome, fields, detail)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[])`,
    [
      entries.map((e) => e.flow),
      entries.map((e) => e.custompmsId),
      entries.map((e) => e.salesforceId),
      entries.map((e) => e.direction),
      entries.map((e) => e.outcome),
      entries.map((e) => (e.fields ? JSON.stringify(e.fields) : null)),
      entries.map((e) => e.detail ?? null),
    ],
  );
  // Retention is trimmed now and then, not on every write (a burst writes thousands of rows).
  if (Math.random() < PRUNE_CHANCE) {
    await db.query(`DELETE FROM link_history WHERE at < now() - make_interval(days => $1)`, [
      HISTORY_RETENTION_DAYS,
    ]);
  }
}

/** A record's history (by either id), newest first. */
export async function historyOf(
  db: Queryable,
  ids: { flow: string; custompmsId: string | null; salesforceId: string | null },
  limit = 100,
): Promise<StoredHistoryEntry[]> {
  const result = await db.query<{
    id: string;
    flow: string;
    custompms_id: string | null;
    salesforce_id: string | null;
    direction: HistoryDirection;
    outcome: string;
    fields: string[] | null;
    detail: string | null;
    at: Date;
  }>(
    `SELECT * FROM link_history
      WHERE (flow = $1 AND custompms_id IS NOT NULL AND custompms_id = $2)
         OR (salesforce_id IS NOT NULL AND salesforce_id = $3)
      ORDER BY id DESC LIMIT $4`,
    [ids.flow, ids.custompmsId, ids.salesforceId, limit],
  );
  return result.rows.map((row) => ({
    id: Number(row.id),
    flow: row.flow,
    custompmsId: row.custompms_id,
    salesforceId: row.salesforce_id,
    direction: row.direction,
    outcome: row.outcome,
    ...(row.fields ? { fields: row.fields } : {}),
    ...(row.detail ? { detail: row.detail } : {}),
    at: row.at,
  }));
}
