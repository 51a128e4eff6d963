/**
 * The Salesforce-bound outbox and the change batches built from it. A Custompms change is
 * planned into the outbox (coalesced per record); a batch takes up to N unbatched rows, is
 * announced by one platform event (apex path) or written directly (api path), and completes
 * when per-record results come back. A batch past its deadline without results is announced
 * again: every step is idempotent.
 */
import { randomUUID } from 'node:crypto';
import type { FlowName } from '../sync';
import { linksByCustompmsIds } from './links';
import { parsePendingWrite, type PendingWrite } from './pending-write';
import type { Queryable } from './transaction';

export type OutboxKind = 'division' | 'task';

export interface OutboxItem {
  flow: FlowName;
  custompmsId: string;
  kind: OutboxKind;
  /** Final Salesforce field values (already mapped). */
  record: Record<string, unknown>;
  /** What the job needs to record once the write succeeds (the planned link and write). */
  plan: PendingWrite;
  custompmsVersion: number;
}

export interface ChangeBatch {
  id: string;
  status: 'open' | 'published' | 'completed' | 'superseded';
  items: OutboxItem[];
  publishCount: number;
  deadline: Date | null;
  /** Set by `takeBatch` when rows were left for the next batch to keep this one small enough. */
  more?: boolean;
}

/**
 * Most characters of record values one change batch carries. The org's pull job holds a batch up
 * to three times at once (the response body, the parsed JSON, the built SObjects) within a
 * Queueable's 12 MB heap (Apex Developer Guide, "Execution Governors and Limits"); at two bytes per
 * character, 3 × 1.5 M × 2 B = 9 MB leaves 3 MB for the rest. 200 Tasks with a 32,000-character
 * Description (6.4 M characters) therefore go as five batches of at most 46 (CustompmsPullJob.cls).
 */
export const CHANGE_BATCH_MAX_CHARACTERS = 1_500_000;

/**
 * A newer plan replaces an unsent one; a row already in a batch keeps its write and is flagged
 * `resync` (synced again once that batch completes). Never an older version over a newer one.
 */
const REPLACE_UNSENT = `ON CONFLICT (flow, custompms_id) DO UPDATE SET
       kind = CASE WHEN outbox.batch_id IS NULL THEN EXCLUDED.kind ELSE outbox.kind END,
       record = CASE WHEN outbox.batch_id IS NULL THEN EXCLUDED.record ELSE outbox.record END,
       plan = CASE WHEN outbox.batch_id IS NULL THEN EXCLUDED.plan ELSE outbox.plan END,
       custompms_version = CASE WHEN outbox.batch_id IS NULL THEN EXCLUDED.custompms_version
                                ELSE outbox.custompms_version END,
       resync = outbox.batch_id IS NOT NULL,
       created_at = CASE WHEN outbox.batch_id IS NULL THEN now() ELSE outbox.created_at END
     WHERE outbox.custompms_version <= EXCLUDED.custompms_version`;

/**
 * Adds or replaces the pending Salesforce write for one record (newest plan wins). A row already
 * in flight in a batch is not replaced: it is flagged, and the record is synced again when that
 * batch completes (`completeBatch` returns it).
 */
export async function putOutboxItem(db: Queryable, item: OutboxItem): Promise<void> {
  await db.query(
    `INSERT INTO outbox (flow, custompms_id, kind, record, plan, custompms_version)
     VALUES ($1, $2, $3, $4, $5, $6)
     ${REPLACE_UNSENT}`,
    [
      item.flow,
      item.custompmsId,
      item.kind,
      JSON.stringify(item.record),
      JSON.stringify(item.plan),
      item.custompmsVersion,
    ],
  );
}

/**
 * `putOutboxItem` for many records in one statement (a set pass over a batch of changes), with
 * the same rules per row. Two items for one record: the last one counts, as it would one by one.
 */
export async function putOutboxItems(db: Queryable, items: readonly OutboxItem[]): Promise<void> {
  const byRecord = new Map<string, OutboxItem>();
  for (const item of items) {
    const key = `${item.flow}\u0000${item.custompmsId}`;
    byRecord.delete(key);
    byRecord.set(key, item);
  }
  const rows = [...byRecord.values()];
  if (rows.length === 0) return;
  if (rows.length === 1) return putOutboxItem(db, rows[0]!);
  await db.query(
    `INSERT INTO outbox (flow, custompms_id, kind, record, plan, custompms_version)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::integer[])
     ${REPLACE_UNSENT}`,
    [
      rows.map((item) => item.flow),
      rows.map((item) => item.custompmsId),
      rows.map((item) => item.kind),
      rows.map((item) => JSON.stringify(item.record)),
      rows.map((item) => JSON.stringify(item.plan)),
      rows.map((item) => item.custompmsVersion),
    ],
  );
}

export async function countUnbatched(db: Queryable): Promise<number> {
  const result = await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE batch_id IS NULL');
  return Number(result.rows[0]?.n ?? 0);
}

/** Outbox rows that may be sent now: unbatched, and not held back after a transient refusal. */
const SENDABLE = 'batch_id IS NULL AND (not_before IS NULL OR not_before <= now())';

export async function countSendable(db: Queryable): Promise<number> {
  const result = await db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE ${SENDABLE}`);
  return Number(result.rows[0]?.n ?? 0);
}

/** How long the oldest sendable unbatched row has waited since it was planned, in ms (0: none). */
export async function oldestSendableAgeMs(db: Queryable): Promise<number> {
  const result = await db.query<{ ms: number | null }>(
    `SELECT extract(epoch FROM now() - min(created_at))::float * 1000 AS ms
       FROM outbox WHERE ${SENDABLE}`,
  );
  return result.rows[0]?.ms ?? 0;
}

/**
 * Raises the flush's gathering horizon (migration 0015) to `ms` from now, on the database's clock:
 * the flush jobs that start from now on gather at least until then.
 */
export async function raiseFlushHorizon(db: Queryable, ms: number): Promise<void> {
  await db.query(
    `UPDATE outbox_flush_horizon
        SET gather_until = greatest(gather_until, now() + make_interval(secs => $1::double precision / 1000))`,
    [ms],
  );
}

/** How long until the flush's gathering horizon, in ms (0: passed). */
export async function flushHorizonMs(db: Queryable): Promise<number> {
  const result = await db.query<{ ms: number | null }>(
    `SELECT greatest(0, extract(epoch FROM gather_until - now())::float * 1000) AS ms FROM outbox_flush_horizon`,
  );
  return result.rows[0]?.ms ?? 0;
}

/**
 * Whether a change waiting in the outbox is one other changes wait for (a customer's Division its
 * projects need, a project's Task its tasks need): holding it back to fill its batch would hold
 * them all back.
 */
export async function outboxAwaited(db: Queryable): Promise<boolean> {
  const result = await db.query<{ awaited: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM outbox o
         JOIN waiting_changes w ON w.waits_for_flow = o.flow AND w.waits_for_id = o.custompms_id
        WHERE o.batch_id IS NULL) AS awaited`,
  );
  return result.rows[0]?.awaited === true;
}

/**
 * Moves up to `size` unbatched rows into a new batch (divisions first: tasks reference them).
 * Call inside a transaction; SKIP LOCKED lets two workers build batches side by side.
 */
export async function takeBatch(
  db: Queryable,
  size: number,
  maxCharacters = CHANGE_BATCH_MAX_CHARACTERS,
): Promise<ChangeBatch | undefined> {
  const selected = await db.query<{
    flow: FlowName;
    custompms_id: string;
    kind: OutboxKind;
    record: Record<string, unknown>;
    plan: unknown;
    custompms_version: number;
  }>(
    `SELECT flow, custompms_id, kind, record, plan, custompms_version FROM outbox
     WHERE ${SENDABLE}
     ORDER BY (kind = 'task'), created_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [size],
  );
  if (selected.rows.length === 0) return undefined;
  // Cut at the character budget (at least one row); the rest waits for the next batch.
  const rows: typeof selected.rows = [];
  let characters = 0;
  for (const row of selected.rows) {
    characters += JSON.stringify(row.record).length;
    if (rows.length > 0 && characters > maxCharacters) break;
    rows.push(row);
  }
  const id = `b_${randomUUID()}`;
  const items: OutboxItem[] = rows.map((row) => ({
    flow: row.flow,
    custompmsId: row.custompms_id,
    kind: row.kind,
    record: row.record,
    plan: parsePendingWrite(row.plan, 'outbox'),
    custompmsVersion: row.custompms_version,
  }));
  await db.query(`INSERT INTO change_batches (id, status, items) VALUES ($1, 'open', $2)`, [
    id,
    JSON.stringify(items),
  ]);
  await db.query(
    `UPDATE outbox SET batch_id = $1
     WHERE (flow, custompms_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
    [id, items.map((item) => item.flow), items.map((item) => item.custompmsId)],
  );
  return {
    id,
    status: 'open',
    items,
    publishCount: 0,
    deadline: null,
    ...(rows.length < selected.rows.length ? { more: true } : {}),
  };
}

/** `writer`: the process writing the batch itself (api path), a `worker_heartbeats` id. */
export async function markBatchPublished(
  db: Queryable,
  id: string,
  deadline: Date,
  writer: string | null = null,
): Promise<void> {
  await db.query(
    `UPDATE change_batches SET status = 'published', publish_count = publish_count + 1,
       published_at = now(), deadline = $2, writer = $3, fetched_at = NULL
     WHERE id = $1 AND status IN ('open', 'published')`,
    [id, deadline, writer],
  );
}

/** Replaces a batch's items (a Division create turned into an update of the one found). */
export async function replaceBatchItems(
  db: Queryable,
  id: string,
  items: readonly OutboxItem[],
): Promise<void> {
  await db.query(`UPDATE change_batches SET items = $2 WHERE id = $1 AND status = 'published'`, [
    id,
    JSON.stringify(items),
  ]);
}

/**
 * At a worker's start: published batches the org has not fetched yet are due at once. A process
 * stopped just after announcing them may have been the proxy the org called back (and found
 * down); announcing again is harmless (the org claims a batch's fetch once). Returns how many.
 */
export async function unfetchedBatchesDueNow(db: Queryable): Promise<number> {
  const result = await db.query(
    `UPDATE change_batches SET deadline = least(deadline, now())
      WHERE status = 'published' AND fetched_at IS NULL AND writer IS NULL`,
  );
  return result.rowCount ?? 0;
}

/** A published batch the org reported it could not apply: due within `seconds`, not at its deadline. */
export async function bringBatchDeadlineForward(
  db: Queryable,
  id: string,
  seconds: number,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE change_batches SET deadline = least(deadline, now() + make_interval(secs => $2))
     WHERE id = $1 AND status = 'published'`,
    [id, seconds],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function setBatchDeadline(db: Queryable, id: string, deadline: Date): Promise<void> {
  await db.query(`UPDATE change_batches SET deadline = $2 WHERE id = $1 AND status = 'published'`, [
    id,
    deadline,
  ]);
}

interface BatchRow {
  id: string;
  status: ChangeBatch['status'];
  items: (Omit<OutboxItem, 'plan'> & { plan: unknown })[];
  publish_count: number;
  deadline: Date | null;
}

function fromRow(row: BatchRow): ChangeBatch {
  return {
    id: row.id,
    status: row.status,
    items: row.items.map((item) => ({ ...item, plan: parsePendingWrite(item.plan, 'change_batches') })),
    publishCount: row.publish_count,
    deadline: row.deadline,
  };
}

export async function getBatch(db: Queryable, id: string, lock = false): Promise<ChangeBatch | undefined> {
  const result = await db.query<BatchRow>(
    `SELECT * FROM change_batches WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return result.rows[0] && fromRow(result.rows[0]);
}

/**
 * Marks a batch done and removes its outbox rows. Returns the records flagged for another sync
 * (a newer plan arrived while they were in flight).
 */
export async function completeBatch(
  db: Queryable,
  id: string,
): Promise<{ flow: FlowName; custompmsId: string }[]> {
  await db.query(`UPDATE change_batches SET status = 'completed', completed_at = now() WHERE id = $1`, [id]);
  const removed = await db.query<{ flow: FlowName; custompms_id: string; resync: boolean }>(
    'DELETE FROM outbox WHERE batch_id = $1 RETURNING flow, custompms_id, resync',
    [id],
  );
  return removed.rows
    .filter((row) => row.resync)
    .map((row) => ({ flow: row.flow, custompmsId: row.custompms_id }));
}

/**
 * A record Salesforce refused for a transient reason (UNABLE_TO_LOCK_ROW, …): its outbox row
 * leaves the batch (so `completeBatch` keeps it) and waits until `notBefore` for a new batch.
 * Returns the attempts made so far.
 */
export async function retryOutboxItemLater(
  db: Queryable,
  batchId: string,
  item: { flow: FlowName; custompmsId: string },
  notBefore: Date,
): Promise<number> {
  const result = await db.query<{ attempts: number }>(
    `UPDATE outbox SET batch_id = NULL, attempts = attempts + 1, not_before = $4
     WHERE flow = $1 AND custompms_id = $2 AND batch_id = $3 RETURNING attempts`,
    [item.flow, item.custompmsId, batchId, notBefore],
  );
  return result.rows[0]?.attempts ?? 0;
}

/** Attempts already made for a record's pending write (transient refusals). */
export async function outboxAttempts(db: Queryable, flow: FlowName, custompmsId: string): Promise<number> {
  const result = await db.query<{ attempts: number }>(
    'SELECT attempts FROM outbox WHERE flow = $1 AND custompms_id = $2',
    [flow, custompmsId],
  );
  return result.rows[0]?.attempts ?? 0;
}

/** When the earliest write held back by a transient refusal is due (to schedule its flush). */
export async function nextDeferredAt(db: Queryable): Promise<Date | undefined> {
  const result = await db.query<{ at: Date | null }>(
    'SELECT min(not_before) AS at FROM outbox WHERE batch_id IS NULL AND not_before IS NOT NULL',
  );
  return result.rows[0]?.at ?? undefined;
}

/** Published batches whose deadline passed without results. */
/**
 * Published batches past their deadline; those whose writer process (api path) has not beaten in
 * `worker_heartbeats` for `writerStaleMs` (it died mid-write: nothing is gained by waiting); and
 * those the org has not fetched `unfetchedMs` after their first announcement (apex path: the
 * fetch failed while the proxy restarted, and its failure report with it).
 */
export async function overdueBatches(
  db: Queryable,
  now: Date,
  options: { limit?: number; writerStaleMs?: number; unfetchedMs?: number } = {},
): Promise<ChangeBatch[]> {
  const result = await db.query<BatchRow>(
    `SELECT * FROM change_batches b WHERE status = 'published'
       AND (deadline < $1
            OR (writer IS NOT NULL AND published_at < now() - make_interval(secs => $3::double precision / 1000)
                AND NOT EXISTS (SELECT 1 FROM worker_heartbeats h WHERE h.worker_id = b.writer
                                AND h.beat_at > now() - make_interval(secs => $3::double precision / 1000)))
            OR (writer IS NULL AND fetched_at IS NULL AND publish_count = 1
                AND published_at < now() - make_interval(secs => $4::double precision / 1000)))
     ORDER BY deadline LIMIT $2`,
    [now, options.limit ?? 100, options.writerStaleMs ?? 45_000, options.unfetchedMs ?? 60_000],
  );
  return result.rows.map(fromRow);
}

/**
 * The org's Apex fetching a published batch: true for the first fetch of its current
 * announcement, false after (a second job for the same announcement must not apply it again).
 */
export async function claimBatchFetch(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query(
    `UPDATE change_batches SET fetched_at = now() WHERE id = $1 AND status = 'published' AND fetched_at IS NULL`,
    [id],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * Batches taken from the outbox but never published (the process died, or the call failed,
 * between `takeBatch` and `markBatchPublished`) and older than `olderThan`: superseded, their
 * rows back in the outbox for a fresh batch. Without this they would stay `open` for ever and
 * every later change to their records would only flag them for a resync that never comes.
 */
export async function reclaimStaleOpenBatches(
  db: Queryable,
  olderThan: Date,
  limit = 1000,
): Promise<string[]> {
  const stale = await db.query<{ id: string }>(
    `UPDATE change_batches SET status = 'superseded'
     WHERE id IN (SELECT id FROM change_batches WHERE status = 'open' AND created_at < $1
                  ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING id`,
    [olderThan, limit],
  );
  const ids = stale.rows.map((row) => row.id);
  if (ids.length > 0) await db.query('UPDATE outbox SET batch_id = NULL WHERE batch_id = ANY($1)', [ids]);
  return ids;
}

/**
 * Outbox rows still naming a batch completed a while ago: such a row is never sent again (one was
 * left behind once in a 3-process chaos run; how is not known yet). They are removed and their
 * records synced again by the caller (the sync plans from the current state). Returns the records.
 */
export async function releaseOrphanedOutboxRows(
  db: Queryable,
  olderThan: Date,
): Promise<{ flow: FlowName; custompmsId: string }[]> {
  const removed = await db.query<{ flow: FlowName; custompms_id: string }>(
    `DELETE FROM outbox o USING change_batches b
      WHERE o.batch_id = b.id AND b.status = 'completed' AND b.completed_at < $1
      RETURNING o.flow, o.custompms_id`,
    [olderThan],
  );
  return removed.rows.map((row) => ({ flow: row.flow, custompmsId: row.custompms_id }));
}

/** Gives up on a batch: its rows go back to the outbox for a fresh batch. */
export async function supersedeBatch(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE change_batches SET status = 'superseded' WHERE id = $1`, [id]);
  await db.query('UPDATE outbox SET batch_id = NULL WHERE batch_id = $1', [id]);
}

/** Gives up on a batch for good (dead letter): its outbox rows are dropped with it. */
export async function abandonBatch(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE change_batches SET status = 'superseded' WHERE id = $1`, [id]);
  await db.query('DELETE FROM outbox WHERE batch_id = $1', [id]);
}

export async function addWaitingChange(
  db: Queryable,
  waiting: { flow: FlowName; custompmsId: string; waitsForFlow: FlowName; waitsForId: string },
): Promise<void> {
  await db.query(
    `INSERT INTO waiting_changes (flow, custompms_id, waits_for_flow, waits_for_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (flow, custompms_id) DO UPDATE SET waits_for_flow = EXCLUDED.waits_for_flow,
       waits_for_id = EXCLUDED.waits_for_id`,
    [waiting.flow, waiting.custompmsId, waiting.waitsForFlow, waiting.waitsForId],
  );
}

/** `addWaitingChange` for many records in one statement (the last row of a record counts). */
export async function addWaitingChanges(
  db: Queryable,
  waiting: readonly { flow: FlowName; custompmsId: string; waitsForFlow: FlowName; waitsForId: string }[],
): Promise<void> {
  const byRecord = new Map<string, (typeof waiting)[number]>();
  for (const row of waiting) byRecord.set(`${row.flow}\u0000${row.custompmsId}`, row);
  const rows = [...byRecord.values()];
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO waiting_changes (flow, custompms_id, waits_for_flow, waits_for_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (flow, custompms_id) DO UPDATE SET waits_for_flow = EXCLUDED.waits_for_flow,
       waits_for_id = EXCLUDED.waits_for_id`,
    [
      rows.map((row) => row.flow),
      rows.map((row) => row.custompmsId),
      rows.map((row) => row.waitsForFlow),
      rows.map((row) => row.waitsForId),
    ],
  );
}

/** Which of these records of a flow have a Salesforce write in the outbox (or in a batch). */
export async function inOutboxMany(
  db: Queryable,
  flow: FlowName,
  custompmsIds: readonly string[],
): Promise<Set<string>> {
  if (custompmsIds.length === 0) return new Set();
  const result = await db.query<{ custompms_id: string }>(
    'SELECT custompms_id FROM outbox WHERE flow = $1 AND custompms_id = ANY($2)',
    [flow, custompmsIds],
  );
  return new Set(result.rows.map((row) => row.custompms_id));
}

/** Whether changes wait for any of these records to be linked (a project's tasks). */
export async function anyWaitingFor(
  db: Queryable,
  flow: FlowName,
  custompmsIds: readonly string[],
): Promise<boolean> {
  if (custompmsIds.length === 0) return false;
  const result = await db.query(
    'SELECT 1 FROM waiting_changes WHERE waits_for_flow = $1 AND waits_for_id = ANY($2) LIMIT 1',
    [flow, custompmsIds],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Removes and returns the changes that waited for this record. */
/** Whether a Salesforce write of this record waits in the outbox (or is in a batch on its way). */
export async function inOutbox(db: Queryable, flow: FlowName, custompmsId: string): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM outbox WHERE flow = $1 AND custompms_id = $2', [
    flow,
    custompmsId,
  ]);
  return (result.rowCount ?? 0) > 0;
}

export async function releaseWaitingChanges(
  db: Queryable,
  flow: FlowName,
  custompmsIds: readonly string[],
): Promise<{ flow: FlowName; custompmsId: string }[]> {
  const result = await db.query<{ flow: FlowName; custompms_id: string }>(
    'DELETE FROM waiting_changes WHERE waits_for_flow = $1 AND waits_for_id = ANY($2) RETURNING flow, custompms_id',
    [flow, custompmsIds],
  );
  return result.rows.map((row) => ({ flow: row.flow, custompmsId: row.custompms_id }));
}

/**
 * Task items whose record was deleted on either side since the batch was cut
 * (`task:<custompmsId>`): written now, an upsert on `Custompms_Id__c` would create the Task again.
 */
export async function deletedTaskItems(db: Queryable, items: readonly OutboxItem[]): Promise<Set<string>> {
  const gone = new Set<string>();
  for (const flow of ['tasks', 'projects'] as const) {
    const ids = items
      .filter((item) => item.kind === 'task' && item.flow === flow)
      .map((item) => item.custompmsId);
    for (const link of await linksByCustompmsIds(db, flow, ids)) {
      if (link.custompmsId && (link.custompms.deleted || link.salesforce.deleted))
        gone.add(`task:${link.custompmsId}`);
    }
  }
  return gone;
}
