/**
 * Each test suite gets its own database on the run's embedded PostgreSQL (started once by
 * global-setup), so suites never see each other's rows, jobs or schema changes.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool } from '../../proxy/src/store/database';
import { migrate } from '../../proxy/src/store/migrate';

export interface TestDatabase {
  connectionString: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url)
    throw new Error('TEST_DATABASE_URL is not set: run tests through jest (global-setup starts PostgreSQL)');
  return url;
}

/** A fresh, empty database; `migrated: true` also applies every migration. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(serverUrl());
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const connectionString = url.toString();
  const pool = createPool(connectionString, { max: 10 });
  if (options.migrated) await migrate(pool);
  return {
    connectionString,
    pool,
    async drop() {
      await pool.end();
      const client = new pg.Client(serverUrl());
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
