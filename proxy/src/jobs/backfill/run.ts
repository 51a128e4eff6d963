/**
 * Running the backfill: flows in dependency order, each read from Custompms page by page; a page
 * is matched to what Salesforce holds (match.ts), decided with the sync's planner (decide.ts) and
 * handed to the sink — the stored run (stored-run.ts) or the dry run (sink.ts).
 */
import type { FlowDefinition, FlowName, SyncContext } from '../../sync';
import type { CustompmsRecord } from '../../custompms/types';
import { withBackfillLock, ZERO_COUNTERS } from '../../store/backfill';
import { inOutboxMany } from '../../store/batches';
import { linksByCustompmsIds } from '../../store/links';
import type { SyncDeps } from '../deps';
import { refreshOrgMapping } from '../org-mapping';
import { buildSyncContext } from '../sync-context';
import { decide, type Decision } from './decide';
import { divisionCounterparts, taskCounterparts } from './match';
import { DryRunSink, type BackfillSink, type PageSeen, type PlannedLinks } from './sink';
import { DEFAULTS, progress, type CustompmsRow, type FlowRun } from './state';
import { StoredRunSink } from './stored-run';
import { BackfillLockedError, type BackfillOptions, type BackfillReport, type FlowReport } from './types';

/** Flows in dependency order: a project needs its customer's Division, a task its project. */
export const BACKFILL_ORDER: readonly FlowName[] = ['customers', 'projects', 'tasks'];

/** Runs the backfill of the given flows (in dependency order). */
export async function runBackfill(deps: SyncDeps, options: BackfillOptions): Promise<BackfillReport> {
  await refreshOrgMapping(deps);
  const flows = BACKFILL_ORDER.filter((flow) => options.flows.includes(flow));
  // What earlier flows of a dry run would have linked, for the later flows to plan against.
  const planned: PlannedLinks = { customers: new Set(), projects: new Map() };
  const run = async (): Promise<BackfillReport> => {
    const reports: FlowReport[] = [];
    for (const flow of flows) {
      const sink = options.dryRun ? new DryRunSink(planned) : new StoredRunSink();
      reports.push(await backfillFlow(deps, deps.definition[flow], options, sink));
    }
    return {
      dryRun: options.dryRun ?? false,
      flows: reports,
      failed: reports.reduce((sum, report) => sum + report.counters.failed, 0),
    };
  };
  // A dry run writes nothing, so it needs no lock (and never waits for a real run).
  if (options.dryRun) return run();
  const locked = await withBackfillLock(deps.pool, run);
  if (!locked) throw new BackfillLockedError();
  return locked.result;
}

async function backfillFlow(
  deps: SyncDeps,
  flow: FlowDefinition,
  options: BackfillOptions,
  sink: BackfillSink,
): Promise<FlowReport> {
  const salesforce = await deps.salesforce();
  const state: FlowRun = {
    deps,
    flow,
    options,
    salesforce,
    sink,
    counters: { ...ZERO_COUNTERS },
    read: 0,
    pending: 0,
    more: true,
    examples: [],
    bulkJobs: [],
  };
  let resumed = false;
  const report = (note?: string): FlowReport => ({
    flow: flow.name,
    dryRun: sink.dryRun,
    runId: sink.runId,
    resumed,
    read: state.read,
    counters: { ...state.counters },
    reasons: [],
    examples: state.examples,
    bulkJobs: state.bulkJobs,
    ...(note ? { note } : {}),
  });
  if (flow.salesforceObject === 'Division' && !(await salesforce.org.hasDivisions())) {
    return report('the org has no divisions (User.DefaultDivision is missing): nothing to backfill');
  }

  const start = await sink.open(state);
  resumed = start.resumed;
  // The page being stored while the next one is decided (Task flows).
  let storing: Promise<void> | undefined;
  try {
    if (!start.listed) {
      const pageSize = options.pageSize ?? DEFAULTS.pageSize;
      const client = deps.custompms();
      for await (const page of client.listPages(flow.custompmsCollection, {
        limit: pageSize,
        ...(start.cursor ? { cursor: start.cursor } : {}),
      })) {
        state.more = page.next_cursor !== null;
        if (flow.salesforceObject === 'Division') {
          await handlePage(state, page.data, page.next_cursor);
          progress(state, 'reading');
          await sink.flushIfFull(state);
          continue;
        }
        // Task flows look one page ahead: this page is read, matched and decided while the one
        // before it is stored (pages are still stored one by one, in order, each with its cursor).
        const records = page.data as unknown as CustompmsRow[];
        const nextCursor = page.next_cursor;
        const decided = decidePage(state, records);
        decided.catch(() => undefined);
        await storing;
        await sink.flushIfFull(state);
        storing = decided.then(async ({ context, decisions, seen }) => {
          await sink.finishPage(state, context, records, decisions, nextCursor, seen);
          progress(state, 'reading');
        });
        storing.catch(() => undefined);
      }
      await storing;
      await sink.flushIfFull(state);
    }
    await sink.finish(state);
  } catch (error) {
    // Nothing of this run keeps working once it stops (a page being stored, a Bulk job's results
    // being recorded).
    await storing?.catch(() => undefined);
    await sink.settle?.().catch(() => undefined);
    throw error;
  }
  state.more = false;
  progress(state, 'done');
  const result = report();
  result.reasons = await sink.reasons(state);
  return result;
}

async function handlePage(
  state: FlowRun,
  page: readonly CustompmsRecord[],
  nextCursor: string | null,
): Promise<void> {
  const records = page as unknown as CustompmsRow[];
  await state.sink.lockPage(state, records, async () => {
    const { context, decisions, seen } = await decidePage(state, records);
    await state.sink.finishPage(state, context, records, decisions, nextCursor, seen);
  });
}

/** Matches a page to what Salesforce holds and decides each record (writes nothing). */
async function decidePage(
  state: FlowRun,
  records: CustompmsRow[],
): Promise<{ context: SyncContext; decisions: Decision[]; seen: PageSeen }> {
  const { deps, flow, sink } = state;
  state.read += records.length;
  const ids = records.map((record) => record.id);
  const links = new Map(
    (await linksByCustompmsIds(deps.pool, flow.name, ids)).map((link) => [link.custompmsId!, link]),
  );
  const busy = await inOutboxMany(deps.pool, flow.name, ids);
  const counterparts =
    flow.salesforceObject === 'Division'
      ? await divisionCounterparts(state, records, links)
      : await taskCounterparts(state, records, links);
  const counterpartRecords = [...counterparts.values()].flatMap((entry) =>
    'record' in entry ? [entry.record] : [],
  );
  const context = sink.context(
    await buildSyncContext(deps.pool, state.salesforce, [...records, ...counterpartRecords], {
      ...(flow.name === 'customers' ? { customerIds: ids } : {}),
    }),
  );
  const decisions: Decision[] = records.map((record) =>
    decide(
      flow,
      context,
      record,
      links.get(record.id) ?? null,
      counterparts.get(record.id),
      busy.has(record.id),
    ),
  );
  return { context, decisions, seen: { links, busy } };
}
