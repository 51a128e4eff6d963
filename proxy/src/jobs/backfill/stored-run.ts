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
  openBackfillRun,
  openBulkJobs,
  putBackfillItems,
  releaseBulkJob,
  saveBackfillProgress,
  type BackfillItem,
} from '../../store/backfill';
import { inOutboxMany } from '../../store/batches';
import { linksByCustompmsIds } from '../../store/links';
import { saveLinks } from '../../store/links-bulk';
import { lockForTransaction, withAdvisoryLocks } from '../../store/locks';
import { withTransaction, type Queryable } from '../../store/transaction';
import { recordLockKey } from '../enqueue';
import { SYNCED } from '../task-status';
import { createBulkJob, recordBulkJob, resumeBulkJob, uploadBulkJob } from './bulk';
import { finishDivisionPage, flushCollections } from './collections';
import { pendingItem, writeCustompmsDecision, type Decision, type WriteDecision } from './decide';
import { advance, FIRST_ANALYZE, ledgerRecorder, serial, type Ledger } from './ledger';
import { settleDecisions } from './settle';
import type { BackfillSink, PageSeen } from './sink';
import { DEFAULTS, progress, type CustompmsRow, type FlowRun } from './state';
import type { FailureReason } from './types';

/**
 * Bulk jobs a run has in the org at once (submitted, not yet finished). Salesforce processes an
 * org's jobs in parallel, in internal batches of 10,000 records, with the capacity the org has:
 * more jobs overlap their queue times (the next one waits in the queue while the last is being
 * processed, so the org never runs dry between two) but do not make it ingest faster.
 */
const BULK_JOBS_IN_ORG = 3;
/**
 * Bulk jobs submitted and not yet recorded (in the org, or their results being recorded): reading
 * (what feeds the org) goes on while results are recorded, up to this many jobs behind. Each holds
 * its results in a temporary file and one chunk of them in memory.
 */
const BULK_JOBS_IN_FLIGHT = 6;

/**
 * The size at which the next Bulk job is submitted while reading goes on: the run's first job at
 * a quarter of the full size (an idle org starts on the first records at once), later ones at half
 * while the org holds at most one of the run's jobs, the full size beyond (never below the Bulk
 * threshold). When reading is slower than the org the jobs stay small, so the last one (its queue
 * and processing time, its results recorded after everything is read) is short; when the org is
 * the slower, they grow to the full size. Each job costs at least one batch of the org's daily
 * allocation (15,000, shared with Bulk API 1.0): half-size jobs take at most 20 per 100,000.
 */
export function nextBulkJobSize(
  full: number,
  threshold: number,
  jobsInOrg: number,
  firstJob = false,
): number {
  const share = firstJob ? 4 : jobsInOrg <= 1 ? 2 : 1;
  return Math.min(full, Math.max(threshold, Math.ceil(full / share)));
}

/** A Bulk job of the run from submission until its results are recorded. */
interface JobInFlight {
  /** Settles when the org has finished it (or its submission or wait failed). */
  processed: Promise<void>;
  inOrg: boolean;
  /** Settles when its results are recorded; rejects with the first failure of the job. */
  done: Promise<void>;
}

export class StoredRunSink implements BackfillSink {
  readonly dryRun = false;
  private opened: Ledger | undefined;
  /** Pending items not yet handed to a Bulk job or written (what decides the next flush). */
  private unassigned = 0;
  /**
   * Bulk jobs being uploaded, processed by the org or recorded, while the next pages are read and
   * stored (at most `BULK_JOBS_IN_ORG` in the org and `BULK_JOBS_IN_FLIGHT` in all: a flush
   * beyond waits). A failure is thrown by the flush or the settle that waits for it.
   */
  private inFlight: JobInFlight[] = [];
  /** A Bulk job was started by this run (the first one is the smallest). */
  private submitted = false;
  /** Settles once the last Bulk job created has been handed its items (or failed to be). */
  private assigning: Promise<unknown> = Promise.resolve();

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
    // Division writes go out page by page (collections.ts).
    if (state.flow.salesforceObject === 'Division') return;
    const size = nextBulkJobSize(
      state.options.bulkJobSize ?? DEFAULTS.bulkJobSize,
      state.options.bulkThreshold ?? DEFAULTS.bulkThreshold,
      this.inFlight.filter((job) => job.inOrg).length,
      !this.submitted,
    );
    if (this.unassigned < size) return;
    // The count is exact once the last job holds its items (pages stored while it was being
    // created may have gone into it).
    await this.assigning;
    this.unassigned = await countUnassignedItems(state.deps.pool, this.ledger.run.id);
    if (this.unassigned >= size) await this.flushPending(state);
  }

  async finish(state: FlowRun): Promise<void> {
    await this.flushPending(state);
    await this.settle();
    await completeBackfillRun(state.deps.pool, this.ledger.run.id, state.counters);
  }

  /** Waits for every Bulk job being submitted or recorded (the first failure is thrown). */
  async settle(): Promise<void> {
    const inFlight = this.inFlight.splice(0);
    const outcomes = await Promise.allSettled(inFlight.map((job) => job.done));
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
    // First in line: a page's items are what the next Bulk job (the org's work) is made of;
    // recording the results of jobs already processed waits for it.
    await ledger.exclusive(
      () =>
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
      { first: true },
    );
  }

  /**
   * Writes every pending item of the run: Bulk API 2.0 for large sets, Collections otherwise. A
   * Bulk job is created and handed its items here; its upload, the org's processing and the
   * recording of its results go on while reading does (pipelined: the org processes jobs while
   * the next one's records are read and decided).
   */
  private async flushPending(state: FlowRun): Promise<void> {
    if (state.flow.salesforceObject === 'Division') return;
    const ledger = this.ledger;
    const threshold = state.options.bulkThreshold ?? DEFAULTS.bulkThreshold;
    // The last job's items are assigned first: what is unassigned now is nobody's.
    await this.assigning;
    for (const action of ['create', 'update'] as const) {
      const count = await countUnassignedItems(state.deps.pool, ledger.run.id, action);
      if (count === 0) continue;
      progress(state, 'writing');
      if (count >= threshold) await this.startBulkJob(state, action);
      else await flushCollections(state, ledger, action);
    }
    // Pages stored while the job is created may still go into it: counted as unassigned until
    // the next flush counts again.
    this.unassigned = 0;
  }

  /**
   * Creates a Bulk job holding every unassigned item of the action (once the run has room for
   * one more), then uploads, waits for and records it in the background.
   */
  private async startBulkJob(state: FlowRun, action: BackfillItem['action']): Promise<void> {
    const ledger = this.ledger;
    for (;;) {
      // A job that failed is thrown here (the run stops), as a settle would; recorded ones leave.
      for (const job of this.inFlight.filter((entry) => settled.has(entry))) await job.done;
      this.inFlight = this.inFlight.filter((job) => !settled.has(job));
      const inOrg = this.inFlight.filter((job) => job.inOrg);
      if (inOrg.length < BULK_JOBS_IN_ORG && this.inFlight.length < BULK_JOBS_IN_FLIGHT) break;
      // Whichever comes first: a job the org finished, or one recorded.
      await Promise.race([
        ...inOrg.map((job) => job.processed),
        ...this.inFlight.map((job) => job.done),
      ]).catch(() => undefined);
    }
    // Created and handed its items meanwhile: the next page is read while the job is created.
    this.submitted = true;
    const created = createBulkJob(state, ledger, action);
    this.assigning = created.catch(() => undefined);
    let processed!: () => void;
    const job: JobInFlight = {
      processed: new Promise<void>((resolve) => (processed = resolve)),
      inOrg: true,
      done: Promise.resolve(),
    };
    const outOfOrg = () => {
      job.inOrg = false;
      processed();
    };
    job.done = (async () => {
      try {
        const { jobId, records } = await created;
        if (records === 0) {
          // Its items went into the job before it (stored while that one was created): none left.
          await ledger.bulk.abort(jobId);
          await releaseBulkJob(state.deps.pool, ledger.run.id, jobId);
          return;
        }
        await uploadBulkJob(state, ledger, jobId, action);
        await recordBulkJob(state, ledger, jobId, outOfOrg);
      } finally {
        outOfOrg();
        settled.add(job);
      }
    })();
    // Observed here so a failure is never unhandled; thrown where it is awaited.
    job.done.catch(() => undefined);
    this.inFlight.push(job);
  }
}

/** Jobs whose `done` has settled (fulfilled or rejected). */
const settled = new WeakSet<JobInFlight>();

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
  const busy = await inOutboxMany(db, flow, ids);
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
