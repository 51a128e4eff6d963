/**
 * The counters behind `/metrics` and the console's charts (migration 0007): per-minute rows kept
 * for two days, and all-time totals. Callers hand in plain deltas; this module does not know
 * which counters exist.
 */
import type { Queryable } from './transaction';

export interface CounterDelta {
  series: string;
  labels: string;
  value: number;
  minute: Date;
}

export interface CounterRow {
  series: string;
  labels: string;
  value: number;
}

export interface MinuteRow extends CounterRow {
  minute: Date;
}

/** How long per-minute rows are kept. */
export const MINUTE_RETENTION_HOURS = 48;

/** Adds deltas to the per-minute rows and the totals, and drops minutes past retention. */
export async function addCounterDeltas(db: Queryable, deltas: readonly CounterDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const series = deltas.map((d) => d.series);
  const labels = deltas.map((d) => d.labels);
  const values = deltas.map((d) => d.value);
  const minutes = deltas.map((d) => d.minute.toISOString());
  await db.query(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::timestamptz[]) AS t(series, labels, value, minute)
     ), minutes AS (
       INSERT INTO metric_minutes (series, labels, minute, value)
       SELECT series, labels, minute, sum(value) FROM input GROUP BY series, labels, minute
       ON CONFLICT (series, labels, minute) DO UPDATE SET value = metric_minutes.value + EXCLUDED.value
     )
     INSERT INTO metric_totals (series, labels, value)
     SELECT series, labels, sum(value) FROM input GROUP BY series, labels
     ON CONFLICT (series, labels) DO UPDATE SET value = metric_totals.value + EXCLUDED.value`,
    [series, labels, values, minutes],
  );
  await db.query(`DELETE FROM metric_minutes WHERE minute < now() - make_interval(hours => $1)`, [
    MINUTE_RETENTION_HOURS,
  ]);
}

/** All-time totals of the given series (all series when none given). */
export async function readCounterTotals(db: Queryable, series?: readonly string[]): Promise<CounterRow[]> {
  const result = await db.query<CounterRow>(
    `SELECT series, labels, value FROM metric_totals
      WHERE $1::text[] IS NULL OR series = ANY($1) ORDER BY series, labels`,
    [series ?? null],
  );
  return result.rows.map((row) => ({ ...row, value: Number(row.value) }));
}

/** Per-minute rows of the given series since `since`, oldest first. */
export async function readCounterMinutes(
  db: Queryable,
  series: readonly string[],
  since: Date,
): Promise<MinuteRow[]> {
  const result = await db.query<MinuteRow>(
    `SELECT minute, series, labels, value FROM metric_minutes
      WHERE series = ANY($1) AND minute >= $2 ORDER BY minute`,
    [series, since],
  );
  return result.rows.map((row) => ({ ...row, value: Number(row.value) }));
}

export interface PollerHealth {
  poller: string;
  lastRunAt: Date | null;
  lastSuccessAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

/** Records one poller run: its time, and its error when it failed. */
export async function recordPollerRun(
  db: Queryable,
  poller: string,
  error?: string,
  at: Date = new Date(),
): Promise<void> {
  await db.query(
    `INSERT INTO poller_health (poller, last_run_at, last_success_at, last_error, last_error_at)
     VALUES ($1, $2::timestamptz, CASE WHEN $3::text IS NULL THEN $2::timestamptz END, $3::text,
             CASE WHEN $3::text IS NOT NULL THEN $2::timestamptz END)
     ON CONFLICT (poller) DO UPDATE SET
       last_run_at = EXCLUDED.last_run_at,
       last_success_at = COALESCE(EXCLUDED.last_success_at, poller_health.last_success_at),
       last_error = COALESCE(EXCLUDED.last_error, poller_health.last_error),
       last_error_at = COALESCE(EXCLUDED.last_error_at, poller_health.last_error_at)`,
    [poller, at, error ?? null],
  );
}

export async function listPollerHealth(db: Queryable): Promise<PollerHealth[]> {
  const result = await db.query<{
    poller: string;
    last_run_at: Date | null;
    last_success_at: Date | null;
    last_error: string | null;
    last_error_at: Date | null;
  }>('SELECT * FROM poller_health ORDER BY poller');
  return result.rows.map((row) => ({
    poller: row.poller,
    lastRunAt: row.last_run_at,
    lastSuccessAt: row.last_success_at,
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
  }));
}
