/**
 * What every `custompms-sync` subcommand shares: one way to parse a command line (node:util
 * parseArgs, strict), the exit codes, where output goes, and opening the proxy's configuration
 * and database.
 *
 * Output: the result on stdout (`--json`: one JSON document; otherwise text for people), progress
 * on stderr and only when stderr is a terminal, logs on stderr at warn and above unless LOG_LEVEL
 * asks for more.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import { ConfigError, loadConfig, loadDatabaseConfig, type Config, type DatabaseConfig } from '../config';
import { createLogger, type Logger } from '../logger';
import { openDatabase, type Database } from '../store/database';

/** Exit codes of every subcommand (README "Operations", docs/operations.md). */
export const EXIT = {
  /** Done, nothing failed. */
  ok: 0,
  /** Done, but something failed: a doctor check, a backfill record, a refused replay. */
  failed: 1,
  /** Bad command line: unknown flag or subcommand, missing or malformed argument. */
  usage: 2,
  /** The configuration (environment variables) is invalid. */
  config: 3,
  /** Could not run: database unreachable, another backfill running, an unexpected error. */
  error: 4,
} as const;

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

/** The real process: the CLI's one boundary with the environment, handed to loadConfig. */
export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  // eslint-disable-next-line no-restricted-syntax -- the entry point hands the environment to config.ts
  env: process.env,
});

/** A bad command line: the message and the usage go to stderr, exit 2. */
export class UsageError extends Error {}

type Parsed<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T & { args: string[]; strict: true }>>;

/** Parses `args` against `config` (which must declare `help`); `undefined` when --help was asked. */
export function parseCommand<const T extends Omit<ParseArgsConfig, 'args' | 'strict'>>(
  args: string[],
  config: T,
): Parsed<T> {
  try {
    return parseArgs({ ...config, args, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function positiveInteger(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new UsageError(`${name} must be a positive integer, not "${raw}"`);
  return value;
}

/** Logs for a command: stderr, and quieter than the proxy (info lines would drown the result). */
export function commandLogger(level: Config['logLevel'], name: string): Logger {
  return createLogger({ level: level === 'info' ? 'warn' : level, name }, pino.destination(2));
}

export function loadCommandConfig(io: CliIo): Config {
  return loadConfig(io.env);
}

export function loadCommandDatabaseConfig(io: CliIo): DatabaseConfig {
  return loadDatabaseConfig(io.env);
}

/** Opens the database for a command and always closes it. */
export async function withDatabase<T>(
  config: Pick<Config, 'database'>,
  logger: Logger,
  work: (database: Database) => Promise<T>,
): Promise<T> {
  const database = await openDatabase(config.database, logger);
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}

/** Writes the result: JSON (one document, newline-terminated) or text. */
export function writeResult(io: CliIo, json: boolean, value: unknown, text: () => string): void {
  io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : text());
}

/** Progress lines, on stderr and only on a terminal. */
export function progressWriter(io: CliIo): (line: string) => void {
  return io.stderr.isTTY ? (line) => io.stderr.write(`${line}\n`) : () => undefined;
}

export { ConfigError };
