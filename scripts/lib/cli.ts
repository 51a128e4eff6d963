/**
 * Command lines of the scripts, one way: `node:util` `parseArgs` (strict), `--help` prints the
 * usage on stdout and exits 0, anything it does not know prints a message and the usage on stderr
 * and exits 2. Call it first thing, before any server or database starts.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Prints `message` and the usage on stderr, then exits 2 (a bad command line). */
export function exitWithUsageError(usage: string, message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

type Parsed<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T & { args: string[]; strict: true }>>;

/**
 * Parses `process.argv` (or `args`) against `config`; the options must include
 * `help: { type: 'boolean', short: 'h' }` (handled here: usage on stdout, exit 0).
 */
export function parseCommandLine<const T extends Omit<ParseArgsConfig, 'args' | 'strict'>>(
  usage: string,
  config: T,
  args: string[] = process.argv.slice(2),
): Parsed<T> {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({ ...config, args, strict: true });
  } catch (error) {
    exitWithUsageError(usage, error instanceof Error ? error.message : String(error));
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}

/** The positional arguments, refusing more than `max` of them. */
export function atMost(usage: string, positionals: string[], max: number): string[] {
  if (positionals.length > max) exitWithUsageError(usage, `Unexpected argument '${positionals[max]}'`);
  return positionals;
}

/** A positional or option value that must be a positive integer; `fallback` when absent. */
export function positiveInteger(
  usage: string,
  name: string,
  raw: string | undefined,
  fallback: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    exitWithUsageError(usage, `${name} must be a positive integer, not "${raw}"`);
  }
  return value;
}

/** An option value that must be an integer ≥ 0; `fallback` when absent. */
export function nonNegative(usage: string, name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    exitWithUsageError(usage, `${name} must be an integer of 0 or more, not "${raw}"`);
  }
  return value;
}
