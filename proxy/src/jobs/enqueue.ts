/**
 * Per-record work keys and the helpers that queue work: a Custompms record's sync (one queue per
 * record, so its jobs run one at a time), the debounced outbox flush, and the release of changes
 * that waited for a record to be linked. `recordLockKey` names the advisory lock that serialises
 * everything touching one record's link (store/locks.ts).
 */
import type { FlowDefinition } from '../sync';
import { releaseWaitingChanges } from '../store/batches';
import { enqueueJob } from '../store/jobs';
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
  deps: Pick<SyncDeps, 'pool'>,
  type: FlowDefinition['custompmsType'],
  id: string,
  delayMs = 0,
): Promise<void> {
  const key = custompmsRecordKey(type, id);
  await enqueueJob(
    deps.pool,
    TASK.syncCustompmsRecord,
    { type, id },
    { jobKey: `cpms:${key}`, queueName: `record:${key}`, runAt: new Date(Date.now() + delayMs) },
  );
}

export async function scheduleFlush(deps: Pick<SyncDeps, 'pool'>): Promise<void> {
  // Debounced: changes arriving within a second share one batch.
  await enqueueJob(
    deps.pool,
    TASK.flushOutbox,
    {},
    { jobKey: TASK.flushOutbox, jobKeyMode: 'preserve_run_at', runAt: new Date(Date.now() + 1_000) },
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

/** A record just got linked: changes that waited for it are planned again. */
export async function releaseWaiting(
  deps: Pick<SyncDeps, 'pool' | 'definition'>,
  flow: FlowDefinition,
  custompmsId: string,
): Promise<void> {
  const released = await releaseWaitingChanges(deps.pool, flow.name, custompmsId);
  for (const waiting of released) {
    const waitingFlow = deps.definition[waiting.flow];
    await enqueueCustompmsSync(deps, waitingFlow.custompmsType, waiting.custompmsId);
  }
}
