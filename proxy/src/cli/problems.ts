/**
 * `custompms-sync replay <problem-id>` and `custompms-sync resolve <problem-id>`: the admin API's
 * replay and resolve, for an operator on a one-off dyno (`heroku run`). Written to the audit log
 * like the API's (actor `cli`, label from --actor).
 */
import { replayProblem, resolveProblemAudited } from '../http/operations';
import {
  commandLogger,
  EXIT,
  loadCommandConfig,
  parseCommand,
  positiveInteger,
  UsageError,
  withDatabase,
  writeResult,
  type CliIo,
} from './common';

const OPTIONS = {
  json: { type: 'boolean', default: false },
  actor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const REPLAY_USAGE = `Usage: custompms-sync replay <problem-id> [--actor NAME] [--json]

Queues a dead letter's work again (an unanswered batch becomes a fresh sync of each of its
records) and resolves the problem; the same as POST /admin/v1/problems/{id}/replay. Exit 1 when
the problem does not exist, is already resolved or is not a replayable dead letter.

  --actor NAME   who you are, for the audit log (e.g. your e-mail)
  --json         print {"id", "outcome"} on stdout
  -h, --help`;

export const RESOLVE_USAGE = `Usage: custompms-sync resolve <problem-id> [--actor NAME] [--json]

Dismisses a problem; the same as POST /admin/v1/problems/{id}/resolve. Exit 1 when it does not
exist or is already resolved.

  --actor NAME   who you are, for the audit log
  --json         print {"id", "outcome"} on stdout
  -h, --help`;

function problemIdOf(positionals: string[]): number {
  if (positionals.length !== 1) throw new UsageError('expected exactly one <problem-id>');
  return positiveInteger('<problem-id>', positionals[0])!;
}

async function run(
  args: string[],
  io: CliIo,
  usage: string,
  action: 'problem.replay' | 'problem.resolve',
): Promise<number> {
  const { values, positionals } = parseCommand(args, { options: OPTIONS, allowPositionals: true });
  if (values.help) {
    io.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  const id = problemIdOf(positionals);
  const config = loadCommandConfig(io);
  const logger = commandLogger(config.logLevel, action === 'problem.replay' ? 'replay' : 'resolve');
  const actor = { actor: 'cli', actorLabel: values.actor ?? null };
  const outcome = await withDatabase(config, logger, (database) => {
    const deps = { pool: database.pool, logger };
    return action === 'problem.replay'
      ? replayProblem(deps, actor, id)
      : resolveProblemAudited(deps, actor, id);
  });
  const ok = outcome === 'replayed' || outcome === 'resolved';
  writeResult(io, values.json, { id, outcome }, () => `problem ${id}: ${outcome}\n`);
  return ok ? EXIT.ok : EXIT.failed;
}

export const replayCommand = (args: string[], io: CliIo) => run(args, io, REPLAY_USAGE, 'problem.replay');
export const resolveCommand = (args: string[], io: CliIo) => run(args, io, RESOLVE_USAGE, 'problem.resolve');
