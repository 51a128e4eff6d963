/**
 * Console sessions (migration 0007). The cookie carries a random session id; only its SHA-256
 * is stored, with the user, the session's CSRF token and its expiry.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from './transaction';

export interface ConsoleSession {
  userId: string;
  username: string;
  displayName: string;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

const hash = (id: string): string => createHash('sha256').update(id).digest('hex');

export async function createConsoleSession(
  db: Queryable,
  id: string,
  session: Omit<ConsoleSession, 'createdAt'>,
): Promise<void> {
  await db.query(
    `INSERT INTO console_sessions (id_hash, user_id, username, display_name, csrf_token, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [hash(id), session.userId, session.username, session.displayName, session.csrfToken, session.expiresAt],
  );
  // Expired sessions go as new ones come.
  await db.query('DELETE FROM console_sessions WHERE expires_at < now()');
}

/**
 * The live session of a cookie's id, or undefined. `idleTimeoutMs` ends a session nobody used
 * for that long; each use moves `last_seen_at`.
 */
export async function touchConsoleSession(
  db: Queryable,
  id: string,
  idleTimeoutMs: number,
): Promise<ConsoleSession | undefined> {
  const result = await db.query<{
    user_id: string;
    username: string;
    display_name: string;
    csrf_token: string;
    created_at: Date;
    expires_at: Date;
  }>(
    `UPDATE console_sessions SET last_seen_at = now()
      WHERE id_hash = $1 AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $2)
      RETURNING user_id, username, display_name, csrf_token, created_at, expires_at`,
    [hash(id), idleTimeoutMs / 1000],
  );
  const row = result.rows[0];
  return (
    row && {
      userId: row.user_id,
      username: row.username,
      displayName: row.display_name,
      csrfToken: row.csrf_token,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    }
  );
}

export async function deleteConsoleSession(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM console_sessions WHERE id_hash = $1', [hash(id)]);
}
