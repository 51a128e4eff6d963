/** The admin audit log (migration 0006): who did what to which problem, when, and how it ended. */
import type { Queryable } from './transaction';

export interface AuditEntry {
  /** Fingerprint of the admin key used (`key:1a2b3c4d`), never the key. */
  actor: string;
  /** What the caller says it is (`X-Admin-Actor`), unverified. */
  actorLabel?: string | null;
  ip?: string | null;
  /** e.g. `problem.replay`, `problem.resolve`. */
  action: string;
  /** e.g. `problem:42`. */
  target?: string | null;
  /** e.g. `replayed`, `resolved`, `not_found`, `already_resolved`. */
  outcome: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'details'>> {
  id: number;
  at: string;
  details: Record<string, unknown>;
}

export async function recordAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO admin_audit (actor, actor_label, ip, action, target, outcome, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      entry.actor,
      entry.actorLabel ?? null,
      entry.ip ?? null,
      entry.action,
      entry.target ?? null,
      entry.outcome,
      JSON.stringify(entry.details ?? {}),
    ],
  );
}

/** Newest first; `before` pages back (an id from the previous page). */
export async function listAudit(
  db: Queryable,
  options: { limit: number; before?: number; action?: string },
): Promise<AuditRecord[]> {
  const result = await db.query<{
    id: string;
    at: Date;
    actor: string;
    actor_label: string | null;
    ip: string | null;
    action: string;
    target: string | null;
    outcome: string;
    details: Record<string, unknown>;
  }>(
    `SELECT id, at, actor, actor_label, ip, action, target, outcome, details FROM admin_audit
     WHERE ($2::bigint IS NULL OR id < $2) AND ($3::text IS NULL OR action = $3)
     ORDER BY id DESC LIMIT $1`,
    [options.limit, options.before ?? null, options.action ?? null],
  );
  return result.rows.map((row) => ({
    id: Number(row.id),
    at: row.at.toISOString(),
    actor: row.actor,
    actorLabel: row.actor_label,
    ip: row.ip,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    details: row.details,
  }));
}
