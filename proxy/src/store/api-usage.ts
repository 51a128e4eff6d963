/**
 * The org's daily API usage as last reported (`Sforce-Limit-Info`), migration 0005: written by
 * the pollers, read by the admin API's status. With it, the API budget share the writing worker
 * applies (`SALESFORCE_API_BUDGET_PERCENT`), so the web process's status shows the state the
 * pollers act on: one `watermarks` row (a name/value table; no column of its own, no migration).
 */
import type { Queryable } from './transaction';
import { getWatermark, setWatermark } from './watermarks';

const BUDGET_PERCENT = 'salesforce.api_budget_percent';

export interface ApiUsage {
  used: number;
  limit: number;
  /** When it was reported, UTC ISO-8601. */
  at: string;
}

/** Stores the usage; `budgetPercent`, when given, is the budget share the writer applies. */
export async function saveApiUsage(db: Queryable, usage: ApiUsage, budgetPercent?: number): Promise<void> {
  await db.query(
    `INSERT INTO salesforce_api_usage (used, api_limit, reported_at) VALUES ($1, $2, $3)
     ON CONFLICT (singleton) DO UPDATE SET used = EXCLUDED.used, api_limit = EXCLUDED.api_limit,
       reported_at = EXCLUDED.reported_at, updated_at = now()`,
    [usage.used, usage.limit, usage.at],
  );
  if (budgetPercent !== undefined) await setWatermark(db, BUDGET_PERCENT, String(budgetPercent));
}

/** The last reported usage; `undefined` before the first report. */
export async function getApiUsage(db: Queryable): Promise<ApiUsage | undefined> {
  const result = await db.query<{ used: number; api_limit: number; reported_at: Date }>(
    'SELECT used, api_limit, reported_at FROM salesforce_api_usage',
  );
  const row = result.rows[0];
  return row && { used: row.used, limit: row.api_limit, at: row.reported_at.toISOString() };
}

/** The API budget share last stored with the usage; `undefined` before it was. */
export async function getApiBudgetPercent(db: Queryable): Promise<number | undefined> {
  const value = Number(await getWatermark(db, BUDGET_PERCENT));
  return Number.isInteger(value) && value >= 1 && value <= 100 ? value : undefined;
}
