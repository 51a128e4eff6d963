/**
 * The real run's sink: every decision is stored in PostgreSQL (migration 0004) with the paging
 * cursor, in one transaction per page, so a crashed run resumes where it stopped; Task writes
 * wait as pending items and go out in Bulk API 2.0 jobs (large sets) or Collections calls, and
 * Division writes go out page by page (collections.ts).
 */
import type { FlowName, SyncContext } from '../../sync';
import { Bulk2Ingest } from '../../salesforce/bulk2';
import {
  analyzeLinks,
  BACKFILL_PROBLEM_TASK,
  backfillFailureReasons,
  completeBackfillRun,
  countUnassignedItems,
  idsInOutbox,
  openBackfillRun,
  openBulkJobs,
  putBackfillItems,
  saveBackfillProgress,
} from '../../store/backfill';
import { linksByCustompmsIds } from '../../store/links';
import { saveLinks } from '../../store/links-bulk';
import { lockForTransaction, withAdvisoryLocks } from '../../store/locks';
import { withTransaction, type Queryable } from '../../store/transaction';
import { recordLockKey } from '../enqueue';
import { SYNCED } from '../task-status';
import { recordBulkJob, resumeBulkJob, submitBulk } from './bulk';
import { finishDivisionPage, flushCollections } from './collections';
import { pendingItem, writeCustompmsDecision, type Decision, type WriteDecision } from './decide';
import { advance, FIRST_ANALYZE, ledgerRecorder, serial, type Ledger } from './ledger';
import { settleDecisions } from './settle';
import type { BackfillSink, PageSeen } from './sink';
import { DEFAULTS, progress, type CustompmsRow, type FlowRun } from './state';
import type { FailureReason } from './types';

/**
 * Bulk jobs a run has in the org at once. Salesforce processes an org's jobs in parallel (each in
 * internal batches of 10,000 records); a few keep its queue time off the run's critical path
 * without holding much (each job's results are read a chunk at a time).
 */
const BULK_JOBS_IN_FLIGHT = 3;

export class StoredRunSink implements BackfillSink {
  readonly dryRun = false;
  private opened: Ledger | undefined;
  /** Pending items not yet handed to a Bulk job or written (what decides the next flush). */
  private unassigned = 0;
  /**
   * Bulk jobs submitted and being processed by the org, their results recorded while the next
   * pages are read and stored (at most `BULK_JOBS_IN_FLIGHT`: a flush beyond waits for the
   * oldest). A failure is thrown by the flush or the settle that waits for it.
   */
  private inFlight: Promise<void>[] = [];

  get runId(): number | null {
    return this.opened?.run.id ?? null;
  }

  private get ledger(): Ledger {
    if (!this.opened) throw new Error('the backfill run is not open');
    return this.opened;
  }

  /** The unfinished run of the flow (resumed: its Bulk jobs read back or redone), or a new one. */
  async open(state: FlowRun): Promise<{ resumed: boolean; cursor: string | null; listed: boolean }> {
    const { deps, flow } = state;
    await analyzeLinks(deps.pool);
    const { run, resumed } = await openBackfillRun(deps.pool, flow.name);
    const ledger: Ledger = {
      run,
      problemTag: { task: BACKFILL_PROBLEM_TASK, payload: { runId: run.id } },
      bulk: new Bulk2Ingest(state.salesforce.client),
      saved: 0,
      analyzeAt: FIRST_ANALYZE,
      exclusive: serial(),
    };
    this.opened = ledger;
    state.counters = { ...run.counters };
    if (resumed) {
      deps.logger.info({ flow: flow.name, runId: run.id, cursor: run.cursor }, 'resuming backfill');
      for (const job of await openBulkJobs(deps.pool, run.id)) await resumeBulkJob(state, ledger, job.id);
      state.pending = await countUnassignedItems(deps.pool, run.id);
      this.unassigned = state.pending;
    }
    return { resumed, cursor: run.cursor, listed: run.listed };
  }

  context(context: SyncContext): SyncContext {
    return context;
  }

  lockPage(state: FlowRun, records: readonly CustompmsRow[], work: () => Promise<void>): Promise<void> {
    if (state.flow.salesforceObject !== 'Division') return work();
    // Divisions have no external id to upsert on: deciding and writing hold the records' sync
    // locks, so the incremental sync cannot create the same Division meanwhile (apply.ts planAndApply).
    return withAdvisoryLocks(
      state.deps.pool,
      records.map((record) => recordLockKey(state.flow.name, record.id)),
      work,
    );
  }

  async finishPage(
    state: FlowRun,
    context: SyncContext,
    _records: readonly CustompmsRow[],
    decisions: Decision[],
    nextCursor: string | null,
    seen?: PageSeen,
  ): Promise<void> {
    // Custompms writes (a Salesforce value won a conflict) are made now, one by one: they are rare.
    for (const [index, decision] of decisions.entries()) {
      if (decision.kind === 'write' && decision.custompms.length > 0) {
        decisions[index] = await writeCustompmsDecision(state, context, decision);
      }
    }
    if (state.flow.salesforceObject === 'Division') {
      await finishDivisionPage(state, this.ledger, context, decisions, nextCursor);
    } else {
      await this.finishTaskPage(state, decisions, nextCursor, seen);
    }
  }

  async flushIfFull(state: FlowRun): Promise<void> {
    if (this.unassigned >= (state.options.bulkJobSize ?? DEFAULTS.bulkJobSize))
      await this.flushPending(state);
  }

  async finish(state: FlowRun): Promise<void> {
    await this.flushPending(state);
    await this.settle();
    await completeBackfillRun(state.deps.pool, this.ledger.run.id, state.counters);
  }

  /** Waits for every Bulk job whose results are being recorded (the first failure is thrown). */
  async settle(): Promise<void> {
    const inFlight = this.inFlight.splice(0);
    const outcomes = await Promise.allSettled(inFlight);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }

  reasons(state: FlowRun): Promise<FailureReason[]> {
    return backfillFailureReasons(state.deps.pool, this.ledger.run.id);
  }

  /** Task flows: decisions and pending writes stored with the cursor, in one transaction. */
  private async finishTaskPage(
    state: FlowRun,
    decided: Decision[],
    nextCursor: string | null,
    seen: PageSeen | undefined,
  ): Promise<void> {
    const ledger = this.ledger;
    await ledger.exclusive(() =>
      withTransaction(state.deps.pool, async (client) => {
        await lockForTransaction(
          client,
          decided.map((decision) => recordLockKey(state.flow.name, decision.id)),
        );
        // Under the records' locks: a record the incremental sync linked, changed or queued since
        // the page was decided (a page ahead) is left to it, never overwritten with a stale decision.
        const decisions = seen ? await stillCurrent(client, state.flow.name, decided, seen) : decided;
        const writes = decisions.filter((decision): decision is WriteDecision => decision.kind === 'write');
        const items = writes
          .filter((decision) => decision.salesforce)
          .map((decision) => pendingItem(state.flow, decision));
        const pairedOnly = writes.filter((decision) => !decision.salesforce);
        await settleDecisions(state, ledgerRecorder(state, ledger, client), decisions);
        // Only Custompms was written (done above): the pair is complete.
        await saveLinks(
          client,
          pairedOnly.map((decision) => ({ link: decision.plan.link, salesforceStatus: SYNCED })),
        );
        for (const decision of pairedOnly) {
          if (decision.pairs) state.counters.linked++;
          else state.counters.updated++;
        }
        const added = await putBackfillItems(client, ledger.run.id, items);
        state.pending += added;
        this.unassigned += added;
        advance(ledger.run, nextCursor);
        await saveBackfillProgress(client, { ...ledger.run, counters: state.counters });
      }),
    );
  }

  /**
   * Writes every pending item of the run: Bulk API 2.0 for large sets, Collections otherwise. A
   * Bulk job is submitted here and its results recorded while reading goes on (pipelined: the
   * org processes jobs while the next one's records are read and decided).
   */
  private async flushPending(state: FlowRun): Promise<void> {
    if (state.flow.salesforceObject === 'Division') return;
    const ledger = this.ledger;
    const threshold = state.options.bulkThreshold ?? DEFAULTS.bulkThreshold;
    for (const action of ['create', 'update'] as const) {
      const count = await countUnassignedItems(state.deps.pool, ledger.run.id, action);
      if (count === 0) continue;
      progress(state, 'writing');
      if (count >= threshold) {
        while (this.inFlight.length >= BULK_JOBS_IN_FLIGHT) await this.inFlight.shift();
        const jobId = await submitBulk(state, ledger, action);
        const recording = recordBulkJob(state, ledger, jobId);
        // Observed here so a failure is never unhandled; thrown where it is awaited.
        recording.catch(() => undefined);
        this.inFlight.push(recording);
      } else await flushCollections(state, ledger, action);
    }
    this.unassigned = 0;
  }
}

/** The decisions whose records are as they were seen; the others become skips. */
async function stillCurrent(
  db: Queryable,
  flow: FlowName,
  decisions: Decision[],
  seen: PageSeen,
): Promise<Decision[]> {
  const ids = decisions.map((decision) => decision.id);
  const now = new Map(
    (await linksByCustompmsIds(db, flow, ids)).map((link) => [link.custompmsId!, JSON.stringify(link)]),
  );
  const busy = await idsInOutbox(db, flow, ids);
  return decisions.map((decision): Decision => {
    const before = seen.links.get(decision.id);
    const same = (before ? JSON.stringify(before) : undefined) === now.get(decision.id);
    if (same && (seen.busy.has(decision.id) || !busy.has(decision.id))) return decision;
    return {
      kind: 'skipped',
      id: decision.id,
      reason: 'the incremental sync changed this record while the backfill decided it',
    };
  });
}
