/**
 * `npm run migrate` and Heroku's release phase: apply pending migrations, then exit.
 */
import { loadConfig, ConfigError } from '../config';
import { createLogger } from '../logger';
import { openDatabase } from './database';
import { migrate } from './migrate';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'migrate' });
  const database = await openDatabase(config.database, logger);
  try {
    const applied = await migrate(database.pool);
    logger.info({ applied }, applied.length > 0 ? 'migrations applied' : 'database up to date');
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});
