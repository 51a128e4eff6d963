/**
 * `custompms-sync resync --type <customer|project|task> <id>...`: syncs Custompms records again
 * from their current state (the worker re-reads each record and plans it against its link, as a
 * webhook would). For a record an admin fixed by hand, or after a mapping change.
 */
import { enqueueCustompmsSync } from '../jobs/enqueue';
import { FLOWS } from '../sync';
import {
  commandLogger,
  EXIT,
  loadCommandConfig,
  parseCommand,
  UsageError,
  withDatabase,
  writeResult,
  type CliIo,
} from './common';

const TYPES = Object.values(FLOWS).map((flow) => flow.custompmsType);

export const RESYNC_USAGE = `Usage: custompms-sync resync --type <${TYPES.join('|')}> <custompms-id>... [--json]

Queues a fresh sync of each Custompms record from its current state; a running worker (web dyno
with RUN_WORKER=true, or the worker dyno) does it within seconds. A record queued twice syncs once.

  --type TYPE   ${TYPES.join(', ')}
  --json        print {"queued": [{type, id}]} on stdout
  -h, --help`;

export async function resyncCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    options: {
      type: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(`${RESYNC_USAGE}\n`);
    return EXIT.ok;
  }
  const type = TYPES.find((candidate) => candidate === values.type);
  if (type === undefined) throw new UsageError(`--type must be one of ${TYPES.join(', ')}`);
  if (positionals.length === 0) throw new UsageError('name at least one Custompms id');
  const config = loadCommandConfig(io);
  const logger = commandLogger(config.logLevel, 'resync');
  await withDatabase(config, logger, async (database) => {
    for (const id of positionals) await enqueueCustompmsSync({ pool: database.pool }, type, id);
  });
  const queued = positionals.map((id) => ({ type, id }));
  writeResult(
    io,
    values.json,
    { queued },
    () => `queued ${queued.length} ${type} record(s) for a fresh sync\n`,
  );
  return EXIT.ok;
}
