/**
 * Jest global setup: one embedded PostgreSQL for the whole run (suites each get their own
 * database from `test/support/database.ts`), and a throwaway HOME so `@salesforce/core` and the
 * sf CLI never touch the developer's real auth files.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../proxy/src/store/embedded-postgres';

declare global {
  var __EMBEDDED_PG__: { stop(): Promise<void> } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const home = mkdtempSync(path.join(tmpdir(), 'cps-test-home-'));
  mkdirSync(path.join(home, '.sfdx'), { recursive: true });
  writeFileSync(path.join(home, '.sfdx', 'alias.json'), JSON.stringify({ orgs: {} }));
  process.env.HOME = home;
  process.env.SF_DISABLE_TELEMETRY = 'true';
  process.env.SF_SKIP_NEW_VERSION_CHECK = 'true';
  process.env.SF_USE_GENERIC_UNIX_KEYCHAIN = 'true';

  const dataRoot = mkdtempSync(path.join(tmpdir(), 'cps-test-pg-'));
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, 'db'), port: 0 });
  process.env.TEST_DATABASE_URL = pg.connectionString;
  globalThis.__EMBEDDED_PG__ = pg;
}
