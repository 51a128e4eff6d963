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

export async function listConflicts(
  db: Queryable,
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
  }>('SELECT * FROM conflicts ORDER BY id');
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

export async function listProblems(
  db: Queryable,
  kind?: ProblemRecord['kind'],
): Promise<(ProblemRecord & { id: number; createdAt: Date })[]> {
  const result = await db.query<{
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
  }>(
    'SELECT * FROM sync_problems WHERE resolved_at IS NULL AND ($1::text IS NULL OR kind = $1) ORDER BY id',
    [kind ?? null],
  );
  return result.rows.map((row) => ({
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
  }));
}
