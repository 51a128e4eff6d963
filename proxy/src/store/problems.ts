/** What an admin must see: conflicts resolved by policy, per-record problems, dead letters. */
import type { Queryable } from './transaction';

export interface ConflictRecord {
  flow: string;
  custompmsId: string | null;
  salesforceId: string | null;
  field: string;
  custompmsValue: unknown;
  salesforceValue: unknown;
  winner: string;
  policy: string;
}

export async function recordConflicts(db: Queryable, conflicts: ConflictRecord[]): Promise<void> {
  for (const conflict of conflicts) {
    await db.query(
      `INSERT INTO conflicts (flow, custompms_id, salesforce_id, field, custompms_value, salesforce_value, winner, policy)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        conflict.flow,
        conflict.custompmsId,
        conflict.salesforceId,
        conflict.field,
        JSON.stringify(conflict.custompmsValue ?? null),
        JSON.stringify(conflict.salesforceValue ?? null),
        conflict.winner,
        conflict.policy,
      ],
    );
  }
}

export interface ProblemRecord {
  flow?: string | null;
  custompmsId?: string | null;
  salesforceId?: string | null;
  kind: 'warning' | 'error' | 'dead_letter';
  code: string;
  message: string;
  /** For dead letters: the job to replay and its payload. */
  task?: string;
  payload?: unknown;
}

export async function recordProblem(db: Queryable, problem: ProblemRecord): Promise<void> {
  await db.query(
    `INSERT INTO sync_problems (flow, custompms_id, salesforce_id, kind, code, message, task, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      problem.flow ?? null,
      problem.custompmsId ?? null,
      problem.salesforceId ?? null,
      problem.kind,
      problem.code,
      problem.message,
      problem.task ?? null,
      problem.payload === undefined ? null : JSON.stringify(problem.payload),
    ],
  );
}

/**
 * Records a problem unless the same one (kind, code, flow, record ids, message) is already open:
 * for conditions found again on every check (a mapping record, a hidden field, a failing job).
 * Returns whether it was recorded.
 */
export async function recordProblemOnce(db: Queryable, problem: ProblemRecord): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO sync_problems (flow, custompms_id, salesforce_id, kind, code, message, task, payload)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8
     WHERE NOT EXISTS (
       SELECT 1 FROM sync_problems
       WHERE resolved_at IS NULL AND kind = $4 AND code = $5 AND message = $6
         AND flow IS NOT DISTINCT FROM $1 AND custompms_id IS NOT DISTINCT FROM $2
         AND salesforce_id IS NOT DISTINCT FROM $3)`,
    [
      problem.flow ?? null,
      problem.custompmsId ?? null,
      problem.salesforceId ?? null,
      problem.kind,
      problem.code,
      problem.message,
      problem.task ?? null,
      problem.payload === undefined ? null : JSON.stringify(problem.payload),
    ],
  );
  return result.rowCount === 1;
}

export async function listConflicts(
  db: Queryable,
  limit = 1_000,
): Promise<(ConflictRecord & { id: number; createdAt: Date })[]> {
  const result = await db.query<{
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
  }>('SELECT * FROM (SELECT * FROM conflicts ORDER BY id DESC LIMIT $1) latest ORDER BY id', [limit]);
  return result.rows.map((row) => ({
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
  }));
}

/** A `sync_problems` row as PostgreSQL returns it. */
export interface ProblemRow {
  id: string;
  flow: string | null;
  custompms_id: string | null;
  salesforce_id: string | null;
  kind: ProblemRecord['kind'];
  code: string;
  message: string;
  task: string | null;
  payload: unknown;
  created_at: Date;
  resolved_at: Date | null;
}

export type StoredProblem = ProblemRecord & { id: number; createdAt: Date; resolvedAt: Date | null };

/** Open problems (oldest first), optionally of one kind. */
export async function listProblems(
  db: Queryable,
  kind?: ProblemRecord['kind'],
  limit = 1_000,
): Promise<StoredProblem[]> {
  const result = await db.query<ProblemRow>(
    'SELECT * FROM sync_problems WHERE resolved_at IS NULL AND ($1::text IS NULL OR kind = $1) ORDER BY id LIMIT $2',
    [kind ?? null, limit],
  );
  return result.rows.map(problemOf);
}

export async function getProblem(db: Queryable, id: number): Promise<StoredProblem | undefined> {
  const result = await db.query<ProblemRow>('SELECT * FROM sync_problems WHERE id = $1', [id]);
  return result.rows[0] && problemOf(result.rows[0]);
}

/** Marks a problem dealt with (replayed or dismissed); false when it was already resolved. */
export async function resolveProblem(db: Queryable, id: number): Promise<boolean> {
  const result = await db.query(
    'UPDATE sync_problems SET resolved_at = now() WHERE id = $1 AND resolved_at IS NULL',
    [id],
  );
  return result.rowCount === 1;
}

/** Open problems by kind, for the status view. */
export async function countOpenProblems(db: Queryable): Promise<Record<string, number>> {
  const result = await db.query<{ kind: string; count: string }>(
    'SELECT kind, count(*) FROM sync_problems WHERE resolved_at IS NULL GROUP BY kind',
  );
  return Object.fromEntries(result.rows.map((row) => [row.kind, Number(row.count)]));
}

export function problemOf(row: ProblemRow): StoredProblem {
  return {
    id: Number(row.id),
    flow: row.flow,
    custompmsId: row.custompms_id,
    salesforceId: row.salesforce_id,
    kind: row.kind,
    code: row.code,
    message: row.message,
    ...(row.task === null ? {} : { task: row.task }),
    payload: row.payload,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at,
  };
}
