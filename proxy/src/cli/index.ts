#!/usr/bin/env node
/**
 * `custompms-sync <command>`: every operator command, from the compiled build (dist/), so it runs
 * on a Heroku one-off dyno where devDependencies are pruned: `heroku run custompms-sync doctor`
 * (npm scripts: `npm run migrate`, `npm run backfill -- …`, `npm run doctor -- …`).
 */
import { backfillCommand, BACKFILL_USAGE } from './backfill';
import { EXIT, ConfigError, processIo, UsageError, type CliIo } from './common';
import { doctorCommand, DOCTOR_USAGE } from './doctor';
import { migrateCommand, MIGRATE_USAGE } from './migrate';
import { replayCommand, REPLAY_USAGE, resolveCommand, RESOLVE_USAGE } from './problems';
import { resyncCommand, RESYNC_USAGE } from './resync';

interface Command {
  summary: string;
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  migrate: { summary: 'apply pending database migrations', usage: MIGRATE_USAGE, run: migrateCommand },
  doctor: { summary: 'check a live configuration end to end', usage: DOCTOR_USAGE, run: doctorCommand },
  backfill: {
    summary: 'link and load the records both systems already hold',
    usage: BACKFILL_USAGE,
    run: backfillCommand,
  },
  resync: { summary: 'sync records again from their current state', usage: RESYNC_USAGE, run: resyncCommand },
  replay: { summary: "queue a dead letter's work again", usage: REPLAY_USAGE, run: replayCommand },
  resolve: { summary: 'dismiss a problem', usage: RESOLVE_USAGE, run: resolveCommand },
};

export const USAGE = `Usage: custompms-sync <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(9)} ${command.summary}`)
  .join('\n')}

Run \`custompms-sync <command> --help\` for a command's options. Every command reads the proxy's
environment variables, prints its result on stdout (--json: one JSON document) and progress on
stderr when that is a terminal.

Exit codes: ${EXIT.ok} done; ${EXIT.failed} done but something failed (a check, a record, a refused replay);
${EXIT.usage} bad command line; ${EXIT.config} invalid configuration; ${EXIT.error} could not run (e.g. database unreachable).`;

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`unknown command '${name}'\n${USAGE}\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n${command.usage}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.config;
    }
    io.stderr.write(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.error;
  }
}

/** Exits once stdout is flushed (a pipe is written asynchronously; idle sockets must not hold us). */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

if (require.main === module) {
  main(process.argv.slice(2)).then(exit, (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    exit(EXIT.error);
  });
}
