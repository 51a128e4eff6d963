/**
 * `npm run backfill -- --flow <customers|projects|tasks|all> [--dry-run]`: links the records both
 * systems already hold and loads the rest into Salesforce (proxy/src/jobs/backfill/). Uses the
 * proxy's own configuration (the same environment variables). Progress goes to stderr (a bar on
 * a terminal, plain lines otherwise), the summary to stdout. Exit code: 0 all good, 1 some
 * records failed, 2 the backfill could not run.
 */
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import pino from 'pino';
import { loadConfig } from '../proxy/src/config';
import {
  BACKFILL_ORDER,
  BackfillLockedError,
  runBackfill,
  type BackfillProgress,
} from '../proxy/src/jobs/backfill';
import { formatBackfillReport, formatProgressLine } from '../proxy/src/jobs/backfill/report';
import { createSyncDeps } from '../proxy/src/jobs/deps';
import { createLogger } from '../proxy/src/logger';
import { openDatabase } from '../proxy/src/store/database';
import { migrate } from '../proxy/src/store/migrate';
import type { FlowName } from '../proxy/src/sync';

const USAGE =
  'usage: npm run backfill -- --flow <customers|projects|tasks|all> [--dry-run] [--bulk-threshold N] [--page-size N]';

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      flow: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'bulk-threshold': { type: 'string' },
      'page-size': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const flow = values.flow;
  if (flow !== 'all' && !BACKFILL_ORDER.includes(flow as FlowName)) throw new Error(USAGE);
  const number = (raw: string | undefined, name: string) => {
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    flows: flow === 'all' ? BACKFILL_ORDER : [flow as FlowName],
    dryRun: values['dry-run'],
    bulkThreshold: number(values['bulk-threshold'], 'bulk-threshold'),
    pageSize: number(values['page-size'], 'page-size'),
  };
}

/** A bar per flow on a terminal; otherwise a line at most every 5 s (and at each flow's end). */
function progressReporter(): { onProgress: (progress: BackfillProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    let bar: SingleBar | undefined;
    let flow: string | undefined;
    return {
      onProgress(progress) {
        if (progress.flow !== flow) {
          bar?.stop();
          flow = progress.flow;
          bar = new SingleBar(
            {
              format: `${progress.flow.padEnd(9)} [{bar}] {value} read | {phase} | linked {linked} created {created} updated {updated} failed {failed} pending {pending}`,
              stream: process.stderr,
              hideCursor: true,
            },
            Presets.shades_classic,
          );
          bar.start(1, 0, {});
        }
        // The Custompms API gives no total: the bar runs one page ahead while pages remain.
        const total = progress.more ? progress.read + 1 : Math.max(progress.read, 1);
        bar!.setTotal(total);
        bar!.update(progress.read, {
          phase: progress.phase,
          pending: progress.pending,
          ...progress.counters,
        });
      },
      stop: () => bar?.stop(),
    };
  }
  let last = 0;
  return {
    onProgress(progress) {
      const now = Date.now();
      if (progress.phase !== 'done' && now - last < 5_000) return;
      last = now;
      process.stderr.write(formatProgressLine(progress));
    },
    stop: () => undefined,
  };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig(process.env);
  // Logs to stderr (stdout carries the summary only); info lines would tear the progress bar, so
  // the default level is lowered to warn (LOG_LEVEL=debug still shows everything).
  const logger = createLogger(
    { level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'backfill' },
    pino.destination(2),
  );
  const database = await openDatabase(config.database, logger);
  const progress = progressReporter();
  try {
    await migrate(database.pool);
    const deps = createSyncDeps(config, database.pool, logger);
    const report = await runBackfill(deps, {
      flows: args.flows,
      dryRun: args.dryRun,
      ...(args.bulkThreshold ? { bulkThreshold: args.bulkThreshold } : {}),
      ...(args.pageSize ? { pageSize: args.pageSize } : {}),
      onProgress: progress.onProgress,
    });
    progress.stop();
    process.stdout.write(formatBackfillReport(report));
    return report.failed > 0 ? 1 : 0;
  } catch (error) {
    progress.stop();
    if (error instanceof BackfillLockedError) process.stderr.write(`${error.message}\n`);
    else
      process.stderr.write(
        `backfill stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n` +
          'run the same command again to resume where it stopped\n',
      );
    return 2;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`backfill failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
