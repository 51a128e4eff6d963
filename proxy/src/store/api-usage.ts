/**
 * The org's daily API usage as last reported (`Sforce-Limit-Info`), migration 0005: written by
 * the pollers, read by the admin API's status.
 */
import type { Queryable } from './transaction';

export interface ApiUsage {
  used: number;
  limit: number;
  /** When it was reported, UTC ISO-8601. */
  at: string;
}

export async function saveApiUsage(db: Queryable, usage: ApiUsage): Promise<void> {
  await db.query(
    `INSERT INTO salesforce_api_usage (used, api_limit, reported_at) VALUES ($1, $2, $3)
     ON CONFLICT (singleton) DO UPDATE SET used = EXCLUDED.used, api_limit = EXCLUDED.api_limit,
       reported_at = EXCLUDED.reported_at, updated_at = now()`,
    [usage.used, usage.limit, usage.at],
  );
}

/** The last reported usage; `undefined` before the first report. */
export async function getApiUsage(db: Queryable): Promise<ApiUsage | undefined> {
  const result = await db.query<{ used: number; api_limit: number; reported_at: Date }>(
    'SELECT used, api_limit, reported_at FROM salesforce_api_usage',
  );
  const row = result.rows[0];
  return row && { used: row.used, limit: row.api_limit, at: row.reported_at.toISOString() };
}
