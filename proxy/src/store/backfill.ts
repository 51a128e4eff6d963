/**
 * Backfill state (migration 0004): runs with their paging cursor and counters, the Salesforce
 * writes a run decided and has not recorded yet, and the Bulk API 2.0 jobs it submitted. Enough
 * to resume a crashed run where it stopped without writing any record twice.
 */
import type pg from 'pg';
import type { FlowName } from '../sync';
import { parsePendingWrite, type PendingWrite } from './pending-write';
import type { Queryable } from './transaction';

/** What a run counts, per flow. */
export interface BackfillCounters {
  /** Existing records paired with their counterpart (some of them also updated). */
  linked: number;
  created: number;
  updated: number;
  /** Already linked and equal on both sides. */
  unchanged: number;
  /** Left to the incremental sync (a change of the record is in flight in the outbox). */
  skipped: number;
  failed: number;
}

export const ZERO_COUNTERS: Readonly<BackfillCounters> = Object.freeze({
  linked: 0,
  created: 0,
  updated: 0,
  unchanged: 0,
  skipped: 0,
  failed: 0,
});

export interface BackfillRun {
  id: number;
  flow: FlowName;
  status: 'running' | 'completed';
  cursor: string | null;
  listed: boolean;
  pages: number;
  counters: BackfillCounters;
  startedAt: Date;
  finishedAt: Date | null;
}

interface RunRow {
  id: string;
  flow: FlowName;
  status: BackfillRun['status'];
  cursor: string | null;
  listed: boolean;
  pages: number;
  counters: Partial<BackfillCounters>;
  started_at: Date;
  finished_at: Date | null;
}

function runFromRow(row: RunRow): BackfillRun {
  return {
    id: Number(row.id),
    flow: row.flow,
    status: row.status,
    cursor: row.cursor,
    listed: row.listed,
    pages: row.pages,
    counters: { ...ZERO_COUNTERS, ...row.counters },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** The unfinished run of a flow (to resume), or a new one. */
export async function openBackfillRun(
  db: Queryable,
  flow: FlowName,
): Promise<{ run: BackfillRun; resumed: boolean }> {
  const existing = await db.query<RunRow>(
    `SELECT * FROM backfill_runs WHERE flow = $1 AND status = 'running'`,
    [flow],
  );
  if (existing.rows[0]) return { run: runFromRow(existing.rows[0]), resumed: true };
  const created = await db.query<RunRow>(
    `INSERT INTO backfill_runs (flow, status) VALUES ($1, 'running') RETURNING *`,
    [flow],
  );
  return { run: runFromRow(created.rows[0]!), resumed: false };
}

export async function getBackfillRun(db: Queryable, id: number): Promise<BackfillRun | undefined> {
  const result = await db.query<RunRow>('SELECT * FROM backfill_runs WHERE id = $1', [id]);
  return result.rows[0] && runFromRow(result.rows[0]);
}

/** Stores the run's position and counters (call in the transaction that stored the page's work). */
export async function saveBackfillProgress(
  db: Queryable,
  run: Pick<BackfillRun, 'id' | 'cursor' | 'listed' | 'pages' | 'counters'>,
): Promise<void> {
  await db.query(
    `UPDATE backfill_runs SET cursor = $2, listed = $3, pages = $4, counters = $5, updated_at = now()
     WHERE id = $1`,
    [run.id, run.cursor, run.listed, run.pages, JSON.stringify(run.counters)],
  );
}

export async function completeBackfillRun(
  db: Queryable,
  id: number,
  counters: BackfillCounters,
): Promise<void> {
  await db.query(
    `UPDATE backfill_runs SET status = 'completed', counters = $2, finished_at = now(), updated_at = now()
     WHERE id = $1`,
    [id, JSON.stringify(counters)],
  );
}

/** A Salesforce write decided by a run, waiting for its result. */
export interface BackfillItem {
  custompmsId: string;
  action: 'create' | 'update';
  /** Salesforce field values to write (already mapped). */
  record: Record<string, unknown>;
  /** What recording the result needs (the planned link and write, and whether it pairs). */
  plan: PendingWrite;
  bulkJobId: string | null;
}

interface ItemRow {
  custompms_id: string;
  action: BackfillItem['action'];
  record: Record<string, unknown>;
  plan: unknown;
  bulk_job_id: string | null;
}

function itemFromRow(row: ItemRow): BackfillItem {
  return {
    custompmsId: row.custompms_id,
    action: row.action,
    record: row.record,
    plan: parsePendingWrite(row.plan, 'backfill_items'),
    bulkJobId: row.bulk_job_id,
  };
}

/**
 * Adds pending writes (one statement). A newer plan for a record still waiting replaces it; a
 * record already handed to a Bulk job keeps its row (the job's result decides it). Returns how
 * many rows were added or replaced.
 */
export async function putBackfillItems(
  db: Queryable,
  runId: number,
  items: readonly Omit<BackfillItem, 'bulkJobId'>[],
): Promise<number> {
  if (items.length === 0) return 0;
  const result = await db.query(
    `INSERT INTO backfill_items (run_id, custompms_id, action, record, plan)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::jsonb[])
     ON CONFLICT (run_id, custompms_id) DO UPDATE SET action = EXCLUDED.action, record = EXCLUDED.record,
       plan = EXCLUDED.plan
     WHERE backfill_items.bulk_job_id IS NULL`,
    [
      runId,
      items.map((item) => item.custompmsId),
      items.map((item) => item.action),
      items.map((item) => JSON.stringify(item.record)),
      items.map((item) => JSON.stringify(item.plan)),
    ],
  );
  return result.rowCount ?? 0;
}

/** Pending writes not yet in a Bulk job (of one action, or all). */
export async function countUnassignedItems(
  db: Queryable,
  runId: number,
  action?: BackfillItem['action'],
): Promise<number> {
  const result = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM backfill_items WHERE run_id = $1 AND bulk_job_id IS NULL
     AND ($2::text IS NULL OR action = $2)`,
    [runId, action ?? null],
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** The Salesforce fields the pending writes of a Bulk job carry (its CSV header). */
export async function bulkJobColumns(db: Queryable, runId: number, jobId: string): Promise<string[]> {
  const result = await db.query<{ name: string }>(
    `SELECT DISTINCT jsonb_object_keys(record) AS name FROM backfill_items
     WHERE run_id = $1 AND bulk_job_id = $2 ORDER BY 1`,
    [runId, jobId],
  );
  return result.rows.map((row) => row.name);
}

/**
 * Pending writes in Custompms id order, `limit` at a time after `after` (keyset paging, so a
 * caller streams any number of them): those of one Bulk job, or the unassigned ones (`null`).
 */
export async function listBackfillItems(
  db: Queryable,
  runId: number,
  options: { bulkJobId: string | null; action?: BackfillItem['action']; after?: string; limit: number },
): Promise<BackfillItem[]> {
  const result = await db.query<ItemRow>(
    `SELECT custompms_id, action, record, plan, bulk_job_id FROM backfill_items
     WHERE run_id = $1 AND bulk_job_id IS NOT DISTINCT FROM $2 AND custompms_id > $3
       AND ($5::text IS NULL OR action = $5)
     ORDER BY custompms_id LIMIT $4`,
    [runId, options.bulkJobId, options.after ?? '', options.limit, options.action ?? null],
  );
  return result.rows.map(itemFromRow);
}

/**
 * The field values of a Bulk job's pending writes, in Custompms id order, `limit` at a time after
 * `after`: what its CSV needs, without reading (and validating) the stored plans.
 */
export async function listBulkJobRecords(
  db: Queryable,
  runId: number,
  jobId: string,
  options: { after?: string; limit: number },
): Promise<{ custompmsId: string; record: Record<string, unknown> }[]> {
  const result = await db.query<{ custompms_id: string; record: Record<string, unknown> }>(
    `SELECT custompms_id, record FROM backfill_items
     WHERE run_id = $1 AND bulk_job_id = $2 AND custompms_id > $3
     ORDER BY custompms_id LIMIT $4`,
    [runId, jobId, options.after ?? '', options.limit],
  );
  return result.rows.map((row) => ({ custompmsId: row.custompms_id, record: row.record }));
}

/** The pending writes of these records in a run (to record results for). */
export async function backfillItemsByIds(
  db: Queryable,
  runId: number,
  custompmsIds: readonly string[],
): Promise<Map<string, BackfillItem>> {
  if (custompmsIds.length === 0) return new Map();
  const result = await db.query<ItemRow>(
    `SELECT custompms_id, action, record, plan, bulk_job_id FROM backfill_items
     WHERE run_id = $1 AND custompms_id = ANY($2)`,
    [runId, custompmsIds],
  );
  return new Map(result.rows.map((row) => [row.custompms_id, itemFromRow(row)]));
}

export async function deleteBackfillItems(
  db: Queryable,
  runId: number,
  custompmsIds: readonly string[],
): Promise<void> {
  if (custompmsIds.length === 0) return;
  await db.query('DELETE FROM backfill_items WHERE run_id = $1 AND custompms_id = ANY($2)', [
    runId,
    custompmsIds,
  ]);
}

export type BulkJobState = 'created' | 'submitted' | 'recorded' | 'abandoned';

export interface BackfillBulkJob {
  id: string;
  runId: number;
  state: BulkJobState;
  records: number;
}

/**
 * Records a Bulk job the moment Salesforce created it and hands it every unassigned pending write
 * of the run with that action, in one transaction: from then on a crash leads to this job, never to a second one.
 */
export async function assignBulkJob(
  client: pg.PoolClient,
  runId: number,
  jobId: string,
  action: BackfillItem['action'],
): Promise<number> {
  const assigned = await client.query(
    'UPDATE backfill_items SET bulk_job_id = $2 WHERE run_id = $1 AND bulk_job_id IS NULL AND action = $3',
    [runId, jobId, action],
  );
  const records = assigned.rowCount ?? 0;
  await client.query(
    `INSERT INTO backfill_bulk_jobs (id, run_id, state, records) VALUES ($1, $2, 'created', $3)`,
    [jobId, runId, records],
  );
  return records;
}

export async function setBulkJobState(db: Queryable, jobId: string, state: BulkJobState): Promise<void> {
  await db.query('UPDATE backfill_bulk_jobs SET state = $2, updated_at = now() WHERE id = $1', [
    jobId,
    state,
  ]);
}

/** Gives a job up before Salesforce processed it: its writes go back to the unassigned ones. */
export async function releaseBulkJob(db: Queryable, runId: number, jobId: string): Promise<void> {
  await db.query('UPDATE backfill_items SET bulk_job_id = NULL WHERE run_id = $1 AND bulk_job_id = $2', [
    runId,
    jobId,
  ]);
  await setBulkJobState(db, jobId, 'abandoned');
}

/** Jobs of a run whose results are not recorded yet (resume fetches them again). */
export async function openBulkJobs(db: Queryable, runId: number): Promise<BackfillBulkJob[]> {
  const result = await db.query<{ id: string; run_id: string; state: BulkJobState; records: number }>(
    `SELECT id, run_id, state, records FROM backfill_bulk_jobs
     WHERE run_id = $1 AND state IN ('created', 'submitted') ORDER BY created_at`,
    [runId],
  );
  return result.rows.map((row) => ({
    id: row.id,
    runId: Number(row.run_id),
    state: row.state,
    records: row.records,
  }));
}

/** The `task` of the problems a run records (`sync_problems.task`); `payload.runId` names the run. */
export const BACKFILL_PROBLEM_TASK = 'backfill';

/** Failure reasons a run recorded (`sync_problems` rows tagged with the run), most frequent first. */
export async function backfillFailureReasons(
  db: Queryable,
  runId: number,
  limit = 10,
): Promise<{ code: string; count: number; example: string }[]> {
  const result = await db.query<{ code: string; n: string; example: string }>(
    `SELECT code, count(*) AS n, min(message) AS example FROM sync_problems
     WHERE task = $3 AND payload->>'runId' = $1::text AND kind = 'error'
     GROUP BY code ORDER BY count(*) DESC, code LIMIT $2`,
    [String(runId), limit, BACKFILL_PROBLEM_TASK],
  );
  return result.rows.map((row) => ({ code: row.code, count: Number(row.n), example: row.example }));
}

// Arbitrary constant, distinct from the migration lock: one backfill at a time per database.
const BACKFILL_LOCK_KEY = 724_101_938;

/**
 * Holds a session-level advisory lock on a dedicated connection while `work` runs; `undefined`
 * when another backfill holds it.
 */
export async function withBackfillLock<T>(
  pool: pg.Pool,
  work: () => Promise<T>,
): Promise<{ result: T } | undefined> {
  const client = await pool.connect();
  try {
    const got = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      BACKFILL_LOCK_KEY,
    ]);
    if (!got.rows[0]?.locked) return undefined;
    try {
      return { result: await work() };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [BACKFILL_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/**
 * Refreshes the planner's statistics of `links`. A backfill grows the table from nothing to
 * thousands of rows within seconds, faster than autovacuum analyzes it; with the stale estimate
 * ("empty") the link lookups scan the whole table and every save gets slower as it grows.
 */
export async function analyzeLinks(db: Queryable): Promise<void> {
  await db.query('ANALYZE links');
}
