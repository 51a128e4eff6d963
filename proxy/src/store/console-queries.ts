/**
 * Reads for the operator console and the admin API (migration 0007 adds what they need): problems
 * and conflicts filtered and paged with keyset cursors, the link browser's search and a record's
 * history, and the health figures of the overview (queue depth, oldest waiting change).
 */
import type { Queryable } from './transaction';
import { problemOf, type ProblemRow as RawProblemRow, type StoredProblem } from './problems';

/** A page of rows and the cursor of the next page (undefined: this was the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | undefined;
}

/** Cursors are opaque to callers: the last row's id, base64url-encoded. */
export function encodeCursor(id: number): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

/** The id a cursor stands for; undefined when it is not one of ours. */
export function decodeCursor(cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  const match = /^id:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

function pageOf<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)!.id) : undefined };
}

export interface ProblemFilter {
  kind?: 'warning' | 'error' | 'dead_letter';
  flow?: string;
  code?: string;
  /** `open` (default), `resolved` or `all`. */
  status?: 'open' | 'resolved' | 'all';
  from?: Date;
  to?: Date;
  /** Several ids at once (bulk actions read what they act on). */
  ids?: readonly number[];
}

/** A problem as the console lists it (the store's own shape). */
export type ProblemRow = StoredProblem;

/** Problems matching a filter, oldest first, one page after `cursor`. */
export async function searchProblems(
  db: Queryable,
  filter: ProblemFilter,
  page: { cursor?: string; limit: number },
): Promise<Page<ProblemRow>> {
  const status = filter.status ?? 'open';
  const result = await db.query<RawProblemRow>(
    `SELECT * FROM sync_problems
      WHERE ($1::text IS NULL OR kind = $1)
        AND ($2::text IS NULL OR flow = $2)
        AND ($3::text IS NULL OR code = $3)
        AND ($4::text = 'all' OR ($4 = 'open') = (resolved_at IS NULL))
        AND ($5::timestamptz IS NULL OR created_at >= $5)
        AND ($6::timestamptz IS NULL OR created_at < $6)
        AND ($7::bigint[] IS NULL OR id = ANY($7))
        AND id > $8
      ORDER BY id LIMIT $9`,
    [
      filter.kind ?? null,
      filter.flow ?? null,
      filter.code ?? null,
      status,
      filter.from ?? null,
      filter.to ?? null,
      filter.ids ? filter.ids.map(String) : null,
      decodeCursor(page.cursor) ?? 0,
      page.limit + 1,
    ],
  );
  return pageOf(result.rows.map(problemOf), page.limit);
}

/** The codes and flows problems carry, for the filter's choices. */
export async function problemFacets(db: Queryable): Promise<{ codes: string[]; flows: string[] }> {
  const result = await db.query<{ codes: string[] | null; flows: string[] | null }>(
    `SELECT array_agg(DISTINCT code ORDER BY code) AS codes,
            array_agg(DISTINCT flow ORDER BY flow) FILTER (WHERE flow IS NOT NULL) AS flows
       FROM sync_problems`,
  );
  return { codes: result.rows[0]?.codes ?? [], flows: result.rows[0]?.flows ?? [] };
}

/** Open problems per flow and kind, and per code, for the overview. */
export async function openProblemCounts(db: Queryable): Promise<{
  byFlowKind: { flow: string; kind: string; count: number }[];
  byCode: { code: string; count: number }[];
}> {
  const byFlowKind = await db.query<{ flow: string; kind: string; count: string }>(
    `SELECT COALESCE(flow, '') AS flow, kind, count(*) AS count FROM sync_problems
      WHERE resolved_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const byCode = await db.query<{ code: string; count: string }>(
    `SELECT code, count(*) AS count FROM sync_problems WHERE resolved_at IS NULL
      GROUP BY code ORDER BY count(*) DESC, code LIMIT 20`,
  );
  return {
    byFlowKind: byFlowKind.rows.map((row) => ({ ...row, count: Number(row.count) })),
    byCode: byCode.rows.map((row) => ({ ...row, count: Number(row.count) })),
  };
}

export interface ConflictRow {
  id: number;
  flow: string;
  custompmsId: string | null;
  salesforceId: string | null;
  field: string;
  custompmsValue: unknown;
  salesforceValue: unknown;
  winner: string;
  policy: string;
  createdAt: Date;
  otherAppliedAt: Date | null;
  otherAppliedBy: string | null;
  /** The record's link now: `active`, ended by a delete, unlinked, or `missing`. */
  recordState: 'active' | 'deleted' | 'unlinked' | 'missing';
}

interface RawConflict {
  id: string;
  flow: string;
  custompms_id: string | null;
  salesforce_id: string | null;
  field: string;
  custompms_value: unknown;
  salesforce_value: unknown;
  winner: string;
  policy: string;
  created_at: Date;
  other_applied_at: Date | null;
  other_applied_by: string | null;
  record_state: ConflictRow['recordState'];
}

const conflictOf = (row: RawConflict): ConflictRow => ({
  id: Number(row.id),
  flow: row.flow,
  custompmsId: row.custompms_id,
  salesforceId: row.salesforce_id,
  field: row.field,
  custompmsValue: row.custompms_value,
  salesforceValue: row.salesforce_value,
  winner: row.winner,
  policy: row.policy,
  createdAt: row.created_at,
  otherAppliedAt: row.other_applied_at,
  otherAppliedBy: row.other_applied_by,
  recordState: row.record_state,
});

/** A conflict row with the state of its record's link now. */
const CONFLICT_SELECT = `SELECT c.*,
  COALESCE((SELECT CASE WHEN l.link->>'status' = 'unlinked' THEN 'unlinked'
                        WHEN (l.link->'custompms'->>'deleted')::boolean OR (l.link->'salesforce'->>'deleted')::boolean
                          THEN 'deleted'
                        ELSE 'active' END
              FROM links l WHERE l.flow = c.flow AND l.custompms_id = c.custompms_id LIMIT 1), 'missing') AS record_state
  FROM conflicts c`;

/** Conflicts, newest first, one page after `cursor`. */
export async function searchConflicts(
  db: Queryable,
  filter: { flow?: string; custompmsId?: string; salesforceId?: string },
  page: { cursor?: string; limit: number },
): Promise<Page<ConflictRow>> {
  const result = await db.query<RawConflict>(
    `${CONFLICT_SELECT}
      WHERE ($1::text IS NULL OR c.flow = $1)
        AND ($2::text IS NULL OR c.custompms_id = $2)
        AND ($3::text IS NULL OR c.salesforce_id = $3)
        AND ($4::bigint IS NULL OR c.id < $4)
      ORDER BY c.id DESC LIMIT $5`,
    [
      filter.flow ?? null,
      filter.custompmsId ?? null,
      filter.salesforceId ?? null,
      decodeCursor(page.cursor) ?? null,
      page.limit + 1,
    ],
  );
  return pageOf(result.rows.map(conflictOf), page.limit);
}

export async function conflictById(db: Queryable, id: number): Promise<ConflictRow | undefined> {
  const result = await db.query<RawConflict>(`${CONFLICT_SELECT} WHERE c.id = $1`, [id]);
  return result.rows[0] && conflictOf(result.rows[0]);
}

/** Marks a conflict's losing value as applied; false when it already was. */
export async function markConflictOtherApplied(db: Queryable, id: number, by: string): Promise<boolean> {
  const result = await db.query(
    `UPDATE conflicts SET other_applied_at = now(), other_applied_by = $2
      WHERE id = $1 AND other_applied_at IS NULL`,
    [id, by],
  );
  return result.rowCount === 1;
}

export interface LinkRow {
  id: number;
  flow: string;
  custompmsId: string | null;
  salesforceId: string | null;
  name: string | null;
  state: 'active' | 'deleted' | 'unlinked';
  salesforceStatus: string | null;
  /** The link as the sync core keeps it (snapshot of both sides, versions). */
  link: Record<string, unknown>;
  updatedAt: Date;
}

interface RawLink {
  id: string;
  flow: string;
  custompms_id: string | null;
  salesforce_id: string | null;
  name: string | null;
  state: LinkRow['state'];
  salesforce_status: string | null;
  link: Record<string, unknown>;
  updated_at: Date;
}

const LINK_COLUMNS = `id, flow, custompms_id, salesforce_id, salesforce_status, link, updated_at,
  COALESCE(link->'snapshot'->'custompms'->>'name', link->'snapshot'->'custompms'->>'title',
           link->'snapshot'->'salesforce'->>'Subject',
           link->'snapshot'->'salesforce'->>'Name') AS name,
  CASE WHEN link->>'status' = 'unlinked' THEN 'unlinked'
       WHEN (link->'custompms'->>'deleted')::boolean OR (link->'salesforce'->>'deleted')::boolean THEN 'deleted'
       ELSE 'active' END AS state`;

const linkOf = (row: RawLink): LinkRow => ({
  id: Number(row.id),
  flow: row.flow,
  custompmsId: row.custompms_id,
  salesforceId: row.salesforce_id,
  name: row.name,
  state: row.state,
  salesforceStatus: row.salesforce_status,
  link: row.link,
  updatedAt: row.updated_at,
});

/**
 * Links whose Custompms id or Salesforce Id is `q` (a 15-character Id finds its 18-character
 * form), or whose last synced name contains it (any case); newest first.
 */
export async function searchLinks(
  db: Queryable,
  filter: { q?: string; flow?: string },
  page: { cursor?: string; limit: number },
): Promise<Page<LinkRow>> {
  const q = filter.q?.trim() || null;
  const like = q === null ? null : `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const result = await db.query<RawLink>(
    `SELECT ${LINK_COLUMNS} FROM links
      WHERE ($1::text IS NULL OR flow = $1)
        AND ($2::text IS NULL
             OR custompms_id = $2
             OR salesforce_id = $2 OR (length($2) = 15 AND left(salesforce_id, 15) = $2)
             OR link->'snapshot'->'custompms'->>'name' ILIKE $3
             OR link->'snapshot'->'custompms'->>'title' ILIKE $3
             OR link->'snapshot'->'salesforce'->>'Subject' ILIKE $3
             OR link->'snapshot'->'salesforce'->>'Name' ILIKE $3)
        AND ($4::bigint IS NULL OR id < $4)
      ORDER BY id DESC LIMIT $5`,
    [filter.flow ?? null, q, like, decodeCursor(page.cursor) ?? null, page.limit + 1],
  );
  return pageOf(result.rows.map(linkOf), page.limit);
}

export async function linkById(db: Queryable, id: number): Promise<LinkRow | undefined> {
  const result = await db.query<RawLink>(`SELECT ${LINK_COLUMNS} FROM links WHERE id = $1`, [id]);
  return result.rows[0] && linkOf(result.rows[0]);
}

/** Open problems about one record (either of its ids). */
export async function problemsOfRecord(
  db: Queryable,
  ids: { custompmsId: string | null; salesforceId: string | null },
): Promise<ProblemRow[]> {
  const result = await db.query<RawProblemRow>(
    `SELECT * FROM sync_problems
      WHERE resolved_at IS NULL
        AND ((custompms_id IS NOT NULL AND custompms_id = $1) OR (salesforce_id IS NOT NULL AND salesforce_id = $2))
      ORDER BY id DESC LIMIT 100`,
    [ids.custompmsId, ids.salesforceId],
  );
  return result.rows.map(problemOf);
}

export interface QueueHealth {
  /** Jobs waiting to run (not locked, attempts left). */
  jobsWaiting: number;
  /** Age in seconds of the oldest job that is due and waiting; 0 when none. */
  oldestJobAgeSeconds: number;
  /** Jobs that exhausted their attempts. */
  jobsFailed: number;
  /** Planned Salesforce writes not yet in a batch. */
  outboxDepth: number;
  /** Age in seconds of the oldest of them. */
  oldestOutboxAgeSeconds: number;
  /** Received changes not yet processed, and the oldest one's age. */
  inboxWaiting: number;
  oldestInboxAgeSeconds: number;
  /** Changes waiting for a dependency (a task for its project, …). */
  waitingForDependency: number;
}

export async function queueHealth(db: Queryable): Promise<QueueHealth> {
  const result = await db.query<Record<keyof QueueHealth, string | null>>(
    `SELECT
       (SELECT count(*) FROM graphile_worker.jobs WHERE locked_at IS NULL AND attempts < max_attempts) AS "jobsWaiting",
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(run_at)), 0) FROM graphile_worker.jobs
         WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now()) AS "oldestJobAgeSeconds",
       (SELECT count(*) FROM graphile_worker.jobs WHERE attempts >= max_attempts) AS "jobsFailed",
       (SELECT count(*) FROM outbox WHERE batch_id IS NULL) AS "outboxDepth",
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM outbox WHERE batch_id IS NULL) AS "oldestOutboxAgeSeconds",
       (SELECT count(*) FROM inbox_messages WHERE processed_at IS NULL) AS "inboxWaiting",
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(received_at)), 0) FROM inbox_messages WHERE processed_at IS NULL) AS "oldestInboxAgeSeconds",
       (SELECT count(*) FROM waiting_changes) AS "waitingForDependency"`,
  );
  const row = result.rows[0]!;
  const n = (value: string | null) => Math.max(0, Number(value ?? 0));
  return {
    jobsWaiting: n(row.jobsWaiting),
    oldestJobAgeSeconds: n(row.oldestJobAgeSeconds),
    jobsFailed: n(row.jobsFailed),
    outboxDepth: n(row.outboxDepth),
    oldestOutboxAgeSeconds: n(row.oldestOutboxAgeSeconds),
    inboxWaiting: n(row.inboxWaiting),
    oldestInboxAgeSeconds: n(row.oldestInboxAgeSeconds),
    waitingForDependency: n(row.waitingForDependency),
  };
}
