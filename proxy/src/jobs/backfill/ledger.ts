/**
 * The stored run's ledger: the run row (cursor, counters), its pending items, and recording the
 * results of their Salesforce writes (links or problems, counted, the items removed), in the
 * transaction that stores the run's progress. Shared by the Collections and Bulk write-outs.
 */
import type pg from 'pg';
import type { SyncContext } from '../../sync';
import type { Bulk2Ingest } from '../../salesforce/bulk2';
import {
  analyzeLinks,
  deleteBackfillItems,
  saveBackfillProgress,
  type BackfillItem,
  type BackfillRun,
} from '../../store/backfill';
import { saveLinks, type LinkToSave } from '../../store/links-bulk';
import { lockForTransaction } from '../../store/locks';
import { recordProblem } from '../../store/problems';
import { withTransaction, type Queryable } from '../../store/transaction';
import { recordLockKey, releaseWaiting } from '../enqueue';
import { recordPlanFindings } from '../plan-findings';
import { buildSyncContext } from '../sync-context';
import { recordWriteResults } from '../write/record-result';
import { outboxKind, type BatchResult } from '../write/salesforce';
import type { DecisionRecorder } from './settle';
import { example, progress, type FlowRun } from './state';

/** Links saved before the first refresh of the `links` statistics, and the most between two. */
export const FIRST_ANALYZE = 250;
const ANALYZE_EVERY = 20_000;

/** A stored run while it runs. */
export interface Ledger {
  run: BackfillRun;
  /** Marks the run's problems (its failure reasons are read back by it). */
  problemTag: { task: string; payload: unknown };
  bulk: Bulk2Ingest;
  /** Links saved by this flow, and the count at which `links` statistics are refreshed next. */
  saved: number;
  analyzeAt: number;
  /**
   * Runs the run's transactions one at a time: a page's (which moves the cursor) and the results
   * of a Bulk job recorded meanwhile (stored-run.ts pipelines them) never interleave, so the run
   * row a transaction stores never carries the other's uncommitted cursor or counts.
   */
  exclusive: Exclusive;
}

/**
 * Runs work one at a time. `first` work (what feeds the org: a page's items, a job's assignment)
 * goes before waiting work that is not (the results of jobs already processed), else in call order.
 */
export type Exclusive = <T>(work: () => Promise<T>, options?: { first?: boolean }) => Promise<T>;

/** One at a time: `first` work in call order, then the rest in call order. */
export function serial(): Exclusive {
  const queue: { run: () => void; first: boolean }[] = [];
  let busy = false;
  const next = (): void => {
    if (busy) return;
    const index = queue.findIndex((entry) => entry.first);
    const [entry] = queue.splice(index >= 0 ? index : 0, 1);
    if (!entry) return;
    busy = true;
    entry.run();
  };
  return <T>(work: () => Promise<T>, options: { first?: boolean } = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({
        first: options.first === true,
        run: () => {
          // Settled work frees the slot for the next (a failure is the caller's, not the queue's).
          const done = (): void => {
            busy = false;
            next();
          };
          // Through a promise, so work that throws before its first await rejects too.
          Promise.resolve().then(work).then(resolve, reject).finally(done);
        },
      });
      next();
    });
}

/** Records settled decisions in the run's transaction. */
export function ledgerRecorder(state: FlowRun, ledger: Ledger, db: Queryable): DecisionRecorder {
  // Links are held back and saved in one statement when the page is settled (flush).
  const links: LinkToSave[] = [];
  return {
    saveLink: (link, salesforceStatus) => {
      links.push({ link, salesforceStatus });
      return Promise.resolve();
    },
    flush: () => saveLinks(db, links.splice(0)),
    planFindings: (plan, ids) => recordPlanFindings(db, plan, ids, { errors: false }),
    failure: (failure) =>
      recordProblem(db, { flow: state.flow.name, ...failure, kind: 'error', ...ledger.problemTag }),
  };
}

/** A page is stored: the run moves past it. */
export function advance(run: BackfillRun, nextCursor: string | null): void {
  run.pages += 1;
  if (nextCursor === null) run.listed = true;
  else run.cursor = nextCursor;
}

/** Records results of items (links or problems) and counts them; the items' rows are removed. */
export async function recordResults(
  state: FlowRun,
  ledger: Ledger,
  db: pg.PoolClient,
  items: readonly BackfillItem[],
  results: Map<string, BatchResult>,
  origin: string,
  context: () => Promise<SyncContext>,
  options: { locked?: boolean } = {},
): Promise<void> {
  if (!options.locked) {
    await lockForTransaction(
      db,
      items.map((item) => recordLockKey(state.flow.name, item.custompmsId)),
    );
  }
  const kind = outboxKind(state.flow);
  // Recorded in sets: one statement for the chunk's links and one for their history.
  const outcomes = await recordWriteResults(
    state.deps,
    db,
    items.map((item) => ({
      item: {
        flow: state.flow.name,
        custompmsId: item.custompmsId,
        kind,
        record: item.record,
        plan: item.plan,
      },
      result: results.get(item.custompmsId),
    })),
    { origin, context, problemTag: ledger.problemTag },
  );
  for (const [index, item] of items.entries()) {
    const outcome = outcomes[index]!;
    const pairs = item.plan.pairs === true;
    if ('failure' in outcome) {
      state.counters.failed++;
      example(state, {
        outcome: 'fail',
        custompmsId: item.custompmsId,
        salesforceId: (item.record.Id as string | undefined) ?? null,
        detail: `${outcome.failure.code}: ${outcome.failure.message}`,
      });
      continue;
    }
    if (pairs) state.counters.linked++;
    if (item.action === 'create') state.counters.created++;
    else state.counters.updated++;
    example(state, {
      outcome: item.action === 'create' ? 'create' : pairs ? 'link' : 'update',
      custompmsId: item.custompmsId,
      salesforceId: outcome.link.salesforceId,
      detail: `${item.action}d through ${origin}`,
    });
  }
  await deleteBackfillItems(
    db,
    ledger.run.id,
    items.map((item) => item.custompmsId),
  );
  state.pending = Math.max(0, state.pending - items.length);
  ledger.saved += items.length;
  if (ledger.saved >= ledger.analyzeAt) {
    // Early and then doubling: the estimate matters most while the table is still small.
    ledger.analyzeAt = Math.min(ledger.analyzeAt * 2, ledger.saved + ANALYZE_EVERY);
    await analyzeLinks(state.deps.pool);
  }
}

/**
 * Records a written chunk's results in one transaction with the run's progress, then releases
 * the records that waited for those just linked.
 */
export async function recordChunk(
  state: FlowRun,
  ledger: Ledger,
  items: readonly BackfillItem[],
  results: Map<string, BatchResult>,
  origin: string,
): Promise<void> {
  const { deps } = state;
  const context = await buildSyncContext(
    deps.pool,
    state.salesforce,
    items.map((item) => item.record),
  );
  await ledger.exclusive(() =>
    withTransaction(deps.pool, async (client) => {
      await recordResults(state, ledger, client, items, results, origin, () => Promise.resolve(context));
      await saveBackfillProgress(client, { ...ledger.run, counters: state.counters });
    }),
  );
  await releaseLinked(state, items, results);
  progress(state, 'writing');
}

/** Records waiting for a customer or project that just got linked are synced now. */
export async function releaseLinked(
  state: FlowRun,
  items: readonly BackfillItem[],
  results: Map<string, BatchResult>,
): Promise<void> {
  if (state.flow.name === 'tasks') return;
  for (const item of items) {
    if (results.get(item.custompmsId)?.success)
      await releaseWaiting(state.deps, state.flow, item.custompmsId);
  }
}
