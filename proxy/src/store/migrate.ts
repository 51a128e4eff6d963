/**
 * Numbered, append-only SQL migrations (`migrations/NNNN_name.sql`), each applied once in its
 * own transaction and recorded in `schema_migrations`, after graphile-worker's own migrations. A session-level advisory lock makes two
 * processes starting at once (web + worker + release) take turns instead of racing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { Logger as WorkerLogger, runMigrations as runWorkerMigrations } from 'graphile-worker';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
// An arbitrary constant shared by every process of this app.
const MIGRATION_LOCK_KEY = 724_101_937;
const silentWorkerLogger = new WorkerLogger(() => () => undefined);

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(path.join(dir, file), 'utf8'),
    }));
  migrations.forEach((migration, index) => {
    if (migration.id !== index + 1) {
      throw new Error(`migration numbering has a gap or duplicate at ${migration.id}_${migration.name}`);
    }
  });
  return migrations;
}

export function latestMigrationId(migrations = loadMigrations()): number {
  return migrations.at(-1)?.id ?? 0;
}

/** Applies pending migrations (ours, then graphile-worker's); returns the ids applied. */
export async function migrate(pool: pg.Pool, migrations = loadMigrations()): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    // graphile-worker's schema first: our triggers enqueue jobs with graphile_worker.add_job.
    await runWorkerMigrations({ pgPool: pool, logger: silentWorkerLogger });
    const done = new Set(
      (await client.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((row) => row.id),
    );
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [
          migration.id,
          migration.name,
        ]);
        await client.query('COMMIT');
        applied.push(migration.id);
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${migration.id}_${migration.name} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/** The highest migration recorded in the database, or 0 before the first run. */
export async function appliedMigrationId(pool: pg.Pool): Promise<number> {
  const result = await pool.query<{ id: number | null }>(
    "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 END AS id",
  );
  if (result.rows[0]?.id === 0) return 0;
  const max = await pool.query<{ id: number | null }>('SELECT max(id) AS id FROM schema_migrations');
  return max.rows[0]?.id ?? 0;
}
