/**
 * Per-record work keys and the helpers that queue work: a Custompms record's sync (one pending
 * job per record), the debounced outbox flush, and the release of changes
 * that waited for a record to be linked. `recordLockKey` names the advisory lock that serialises
 * everything touching one record's link (store/locks.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FlowDefinition } from '../sync';
import {
  countSendable,
  oldestSendableAgeMs,
  raiseFlushHorizon,
  releaseWaitingChanges,
  unfetchedBatchesDueNow,
} from '../store/batches';
import { custompmsWebhooksArriving } from '../store/inbox';
import { enqueueJob } from '../store/jobs';
import type { Queryable } from '../store/transaction';
import type { SyncDeps } from './deps';
import { TASK } from './task-names';

export function custompmsRecordKey(type: FlowDefinition['custompmsType'], id: string): string {
  return `${type}:${id}`;
}

/** The lock that serialises everything touching one record's link (see apply.ts planAndApply). */
export function recordLockKey(flow: FlowDefinition['name'], custompmsId: string): string {
  return `sync:${flow}:${custompmsId}`;
}

export async function enqueueCustompmsSync(
  deps: { pool: Queryable },
  type: FlowDefinition['custompmsType'],
  id: string,
  delayMs = 0,
  priority?: number,
): Promise<void> {
  const key = custompmsRecordKey(type, id);
  await enqueueJob(
    deps.pool,
    TASK.syncCustompmsRecord,
    { type, id },
    // No queue per record (graphile-worker's slowest path): the record's advisory lock orders its work.
    {
      jobKey: `cpms:${key}`,
      runAt: new Date(Date.now() + delayMs),
      ...(priority === undefined ? {} : { priority }),
    },
  );
}

/**
 * The priority of what a safety-net poller found (after the default 0 of live changes): a change
 * whose webhook was lost is late already, and must not delay the changes arriving now.
 */
export const POLLED_PRIORITY = 1;

/**
 * The priority of work that unblocks others (graphile-worker runs lower first; default 0): the
 * flush, and the changes released when their dependency linked. A burst's backlog of webhook jobs
 * must not hold them back (a batch's results have it too: migration 0014).
 */
const PRIORITY = -1;

/** Per database: when the pending flush this process last saw is due, and its recent changes. */
const flushStates = new WeakMap<object, { dueAt: number; recent: number[] }>();
/** Clock skew allowed between this process and the database that runs the flush. */
const FLUSH_MARGIN_MS = 100;
/** The window in which changes are counted to tell a burst. */
const RATE_WINDOW_MS = 1_000;
/**
 * How long a burst's flush waits, in its job, for more changes to share its batch (one API call
 * per up to 200 records): short enough for a change's latency to stay well under a second.
 */
export const COALESCE_MS = 500;
/** Changes within RATE_WINDOW_MS that make a burst. Below it a flush runs at once. */
const BURST_CHANGES = 10;
/** How often a burst's flush looks at what it has gathered. */
const GATHER_POLL_MS = 50;
/** No new change in the outbox for this long, and no webhook arriving: the burst is over. */
const QUIET_MS = 150;

/**
 * A burst's flush, before it sends: gathers changes until a batch is full, nothing more is on its
 * way (the outbox did not grow for QUIET_MS and no Custompms webhook is arriving), or `until`; says which. A
 * burst then leaves in a few publish calls of full batches, and its end leaves at once.
 */
export async function gatherBurst(
  deps: Pick<SyncDeps, 'pool' | 'settings'>,
  until: number,
): Promise<'full' | 'quiet' | 'due'> {
  let seen = -1;
  let grewAt = Date.now();
  while (Date.now() < until) {
    const waiting = await countSendable(deps.pool);
    if (waiting >= deps.settings.batchSize) return 'full';
    if (waiting !== seen) {
      seen = waiting;
      grewAt = Date.now();
    } else if (Date.now() - grewAt >= QUIET_MS && !(await custompmsWebhooksArriving(deps.pool, QUIET_MS)))
      return 'quiet';
    await delay(Math.max(1, Math.min(GATHER_POLL_MS, until - Date.now())));
  }
  return 'due';
}

/** The longest a burst's change is held back for its batch to fill (beyond its flush's gathering). */
export const MAX_HOLD_MS = 1_000;

/**
 * At a burst flush's due time, whether the partial batch left may wait for the next gathering
 * flush instead of leaving on its own (one more API call): Custompms webhooks are still arriving
 * (waiting, or received within QUIET_MS), so more changes are on their way, and its oldest change
 * has waited under MAX_HOLD_MS.
 */
export async function holdRemainder(deps: Pick<SyncDeps, 'pool'>): Promise<boolean> {
  if (!(await custompmsWebhooksArriving(deps.pool, QUIET_MS))) return false;
  return (await oldestSendableAgeMs(deps.pool)) < MAX_HOLD_MS;
}

/**
 * Schedules the outbox flush, adaptively: at once for a change or a few; in a burst (BURST_CHANGES
 * within the last second) after a COALESCE_MS wait in the job, so the burst's changes share batches.
 */
export async function scheduleFlush(
  deps: Pick<SyncDeps, 'pool'>,
  options: {
    /** Changes just put into the outbox (a set pass puts many at once). Default 1. */
    changes?: number;
    /**
     * A full batch waits in the outbox: nothing is gained by waiting, flush at once — unless a
     * burst's flush is gathering already (it sends each full batch itself: gatherBurst).
     */
    full?: boolean;
    /** Other changes wait for these to be linked: flush at once. */
    awaited?: boolean;
  } = {},
): Promise<void> {
  const now = Date.now();
  const state = flushStates.get(deps.pool) ?? { dueAt: 0, recent: [] };
  flushStates.set(deps.pool, state);
  state.recent = state.recent.filter((at) => now - at < RATE_WINDOW_MS);
  for (let n = 0; n < (options.changes ?? 1); n++) state.recent.push(now);
  const gathering = now < state.dueAt - FLUSH_MARGIN_MS;
  if (options.awaited || (options.full && !gathering)) {
    state.dueAt = (await flushAtOnce(deps))?.getTime() ?? 0;
    return;
  }
  // A flush due later than now (with a margin) will take what was just committed: no call needed.
  // That is one database round trip less per change in a burst.
  if (gathering) return;
  const wait = state.recent.length >= BURST_CHANGES ? COALESCE_MS : 0;
  // First: whichever flush job runs next (this one, or one that replaces it without a wait)
  // starts after this and gathers until the due time this process counts on (migration 0015).
  if (wait > 0) await raiseFlushHorizon(deps.pool, wait);
  const next = await enqueueJob(
    deps.pool,
    TASK.flushOutbox,
    wait > 0 ? { coalesceMs: wait } : {},
    // At once (the database's own now: a job not yet due when its insert is announced waits for
    // the worker's next poll, a second); a burst's flush does its short wait in the job.
    { jobKey: TASK.flushOutbox, jobKeyMode: 'preserve_run_at', priority: PRIORITY },
  );
  state.dueAt = (next?.getTime() ?? 0) + wait;
}

/**
 * The end of a flush job (also when it failed): changes put after its last look get a flush of
 * their own — a flush never ends leaving changes without one. In a burst that flush gathers like
 * any burst's flush (an immediate one would send whatever the last write's time let in: a burst's
 * batches of 30–150 instead of 200), and a flush this process scheduled that is still gathering
 * takes them itself (it ends after its due time, so it has not ended yet).
 */
export async function flushEnded(deps: Pick<SyncDeps, 'pool'>, options: { again: boolean }): Promise<void> {
  const state = flushStates.get(deps.pool);
  if (state && Date.now() < state.dueAt - FLUSH_MARGIN_MS) return;
  if (state) state.dueAt = 0;
  if (options.again && (await countSendable(deps.pool)) > 0) await scheduleFlush(deps, { changes: 0 });
}

/**
 * At a worker's start: changes a stopped process left unbatched (its flush was gathering, or
 * failed as the pool closed) get a flush now, and batches the org has not fetched are announced
 * again now (their callback may have found the stopped proxy), not at the minute sweep.
 */
export async function flushLeftovers(deps: Pick<SyncDeps, 'pool'>): Promise<void> {
  if ((await unfetchedBatchesDueNow(deps.pool)) > 0)
    await enqueueJob(deps.pool, TASK.republishOverdueBatches, {}, { jobKey: TASK.republishOverdueBatches });
  if ((await countSendable(deps.pool)) > 0) await flushAtOnce(deps);
}

/** The flush, due now (replacing a pending one; a running one keeps running beside it). */
function flushAtOnce(deps: Pick<SyncDeps, 'pool'>): Promise<Date | null> {
  return enqueueJob(
    deps.pool,
    TASK.flushOutbox,
    {},
    { jobKey: TASK.flushOutbox, jobKeyMode: 'replace', priority: PRIORITY },
  );
}

/**
 * A flush for writes held back after a transient refusal, when the earliest is due (its own job
 * key, so it never delays the debounced flush of new changes; each flush schedules the next).
 */
export async function scheduleDeferredFlush(deps: Pick<SyncDeps, 'pool'>, at: Date): Promise<void> {
  await enqueueJob(
    deps.pool,
    TASK.flushOutbox,
    {},
    { jobKey: `${TASK.flushOutbox}:deferred`, jobKeyMode: 'replace', runAt: at },
  );
}

/**
 * Records just got linked: changes that waited for them are planned again, in one batch job
 * (`sync_custompms_records`) per hundred, not a job each — a burst releases a whole project's tasks.
 */
export async function releaseWaiting(
  deps: Pick<SyncDeps, 'pool' | 'definition'>,
  flow: FlowDefinition,
  custompmsIds: string | readonly string[],
): Promise<void> {
  const ids = typeof custompmsIds === 'string' ? [custompmsIds] : custompmsIds;
  if (ids.length === 0) return;
  const released = await releaseWaitingChanges(deps.pool, flow.name, ids);
  const records = released.map((waiting) => ({
    type: deps.definition[waiting.flow].custompmsType,
    id: waiting.custompmsId,
  }));
  for (let start = 0; start < records.length; start += RECORDS_PER_JOB) {
    await enqueueJob(deps.pool, TASK.syncCustompmsRecords, records.slice(start, start + RECORDS_PER_JOB), {
      priority: PRIORITY,
    });
  }
}

const RECORDS_PER_JOB = 100;
