/**
 * The one database: Heroku Postgres (or any `DATABASE_URL`), else an embedded PostgreSQL in a
 * local data folder. Everything else talks to it through the pool returned here.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres';

export interface Database {
  pool: pg.Pool;
  connectionString: string;
  /** True when this process started the embedded server. */
  embedded: boolean;
  close(): Promise<void>;
}

function sslOption(connectionString: string, mode: Config['database']['ssl']): pg.PoolConfig['ssl'] {
  if (mode === 'off') return false;
  if (mode === 'verify') return { rejectUnauthorized: true };
  if (mode === 'no-verify') return { rejectUnauthorized: false };
  // auto: loopback needs no TLS; Heroku Postgres needs TLS with its self-signed chain.
  const host = new URL(connectionString).hostname;
  const local = host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === '';
  return local ? false : { rejectUnauthorized: false };
}

export function createPool(
  connectionString: string,
  options: { ssl?: Config['database']['ssl']; max?: number } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    ssl: sslOption(connectionString, options.ssl ?? 'auto'),
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export async function openDatabase(config: Config['database'], logger: Logger): Promise<Database> {
  let embedded: EmbeddedPostgresHandle | undefined;
  let connectionString = config.url;
  if (connectionString === undefined) {
    const started = Date.now();
    embedded = await startEmbeddedPostgres({
      dataDir: config.embeddedDir,
      port: config.embeddedPort,
      onLog: (line) => logger.debug({ postgres: line }, 'embedded postgres'),
    });
    connectionString = embedded.connectionString;
    logger.info(
      { dataDir: config.embeddedDir, port: config.embeddedPort, ms: Date.now() - started },
      'embedded PostgreSQL started (no DATABASE_URL)',
    );
  }
  const pool = createPool(connectionString, { ssl: config.ssl, max: config.poolMax });
  return {
    pool,
    connectionString,
    embedded: embedded !== undefined,
    async close() {
      await pool.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}
