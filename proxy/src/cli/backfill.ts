/**
 * `custompms-sync backfill --flow <customers|projects|tasks|all>`: links the records both systems
 * already hold and loads the rest into Salesforce (jobs/backfill/), with the proxy's own
 * configuration. Progress on stderr when it is a terminal (a bar per flow), the summary on stdout
 * (`--json`: the report). Exit 0 all good, 1 some records failed (details in the admin API's
 * problems, task `backfill`), 4 the backfill could not run (run the same command again to resume).
 */
import { SingleBar, Presets } from 'cli-progress';
import {
  BACKFILL_ORDER,
  BackfillLockedError,
  formatBackfillReport,
  runBackfill,
  type BackfillProgress,
} from '../jobs/backfill';
import { createSyncDeps } from '../jobs/deps';
import { migrate } from '../store/migrate';
import type { FlowName } from '../sync';
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

export const BACKFILL_USAGE = `Usage: custompms-sync backfill --flow <customers|projects|tasks|all> [options]

Pairs the records both systems already hold (Tasks on Custompms_Id__c, Divisions by exact name)
and loads the rest into Salesforce. Resumes a stopped run; safe to run twice and beside the worker.

  --flow FLOW            customers, projects, tasks or all (in that order)
  --dry-run              show what would happen, write nothing
  --bulk-threshold N     use Bulk API 2.0 from N pending writes per flow (default 2000)
  --page-size N          Custompms records per page
  --json                 print the report as JSON on stdout
  -h, --help

Exit codes: 0 done; 1 some records failed; 2 bad command line; 3 invalid configuration;
4 could not run (another backfill running, an error: run the same command again to resume).`;

/** A bar per flow on a terminal; nothing otherwise (stdout carries the result). */
function progressBar(io: CliIo): { onProgress: (progress: BackfillProgress) => void; stop: () => void } {
  if (!io.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
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
            stream: io.stderr as NodeJS.WritableStream,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        bar.start(1, 0, {});
      }
      // The Custompms API gives no total: the bar runs one page ahead while pages remain.
      bar!.setTotal(progress.more ? progress.read + 1 : Math.max(progress.read, 1));
      bar!.update(progress.read, { phase: progress.phase, pending: progress.pending, ...progress.counters });
    },
    stop: () => bar?.stop(),
  };
}

export async function backfillCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(args, {
    options: {
      flow: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'bulk-threshold': { type: 'string' },
      'page-size': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${BACKFILL_USAGE}\n`);
    return EXIT.ok;
  }
  const flow = values.flow;
  if (flow !== 'all' && !BACKFILL_ORDER.includes(flow as FlowName)) {
    throw new UsageError(`--flow must be customers, projects, tasks or all${flow ? `, not "${flow}"` : ''}`);
  }
  const bulkThreshold = positiveInteger('--bulk-threshold', values['bulk-threshold']);
  const pageSize = positiveInteger('--page-size', values['page-size']);
  const config = loadCommandConfig(io);
  const logger = commandLogger(config.logLevel, 'backfill');
  const progress = progressBar(io);
  return withDatabase(config, logger, async (database) => {
    try {
      await migrate(database.pool);
      const report = await runBackfill(createSyncDeps(config, database.pool, logger), {
        flows: flow === 'all' ? BACKFILL_ORDER : [flow as FlowName],
        dryRun: values['dry-run'],
        ...(bulkThreshold ? { bulkThreshold } : {}),
        ...(pageSize ? { pageSize } : {}),
        onProgress: progress.onProgress,
      });
      progress.stop();
      writeResult(io, values.json, report, () => formatBackfillReport(report));
      return report.failed > 0 ? EXIT.failed : EXIT.ok;
    } catch (error) {
      progress.stop();
      if (error instanceof BackfillLockedError) {
        io.stderr.write(`${error.message}\n`);
        return EXIT.error;
      }
      io.stderr.write(
        `backfill stopped: ${error instanceof Error ? error.message : String(error)}\n` +
          'run the same command again to resume where it stopped\n',
      );
      return EXIT.error;
    }
  });
}
