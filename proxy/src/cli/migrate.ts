/**
 * `custompms-sync migrate`: applies pending migrations and exits. Heroku's release phase runs it
 * (Procfile); it reads only the database settings, so a fresh app with no Salesforce or Custompms
 * credentials releases.
 */
import { latestMigrationId, migrate } from '../store/migrate';
import {
  commandLogger,
  EXIT,
  loadCommandDatabaseConfig,
  parseCommand,
  withDatabase,
  writeResult,
  type CliIo,
} from './common';

export const MIGRATE_USAGE = `Usage: custompms-sync migrate [--json]

Applies the pending database migrations (ours, then graphile-worker's) and exits. Reads only
NODE_ENV, LOG_LEVEL and the DATABASE_* / EMBEDDED_POSTGRES_* variables. Safe to run while the
proxy runs and from several processes at once (they take turns).

  --json   print {"applied": [ids], "latest": id} on stdout
  -h, --help`;

export async function migrateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(args, {
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.stdout.write(`${MIGRATE_USAGE}\n`);
    return EXIT.ok;
  }
  const config = loadCommandDatabaseConfig(io);
  const logger = commandLogger(config.logLevel, 'migrate');
  const applied = await withDatabase(config, logger, (database) => migrate(database.pool));
  writeResult(io, values.json, { applied, latest: latestMigrationId() }, () =>
    applied.length > 0
      ? `migrations applied: ${applied.join(', ')}\n`
      : `database up to date (migration ${latestMigrationId()})\n`,
  );
  return EXIT.ok;
}
