/**
 * The entry from the durable inbox into the sync. The inbox's SQL trigger (migration 0011)
 * enqueues `process_inbox_messages` with the ids a statement stored (up to 100 per job: an
 * outbound message's notifications); each message succeeds or fails on its own
 * (graphile-worker batch jobs retry only the failed ones).
 *
 * A webhook names a Custompms record: each record named in a batch is synced once, here, not in a
 * job of its own (the job round trips were most of a burst's cost, #18). A sync that fails here
 * becomes a `sync_custompms_record` job with its own patient retries, and the message is done.
 */
import { metrics } from '../metrics';
import type { RawRecord } from '../sync';
import { randomUUID } from 'node:crypto';
import {
  claimWebhookMessages,
  dropPendingJobsOf,
  getInboxMessages,
  markInboxMessageProcessed,
  releaseClaims,
  type InboxMessage,
} from '../store/inbox';
import { enqueueJob } from '../store/jobs';
import { PROCESS_ID, STALE_BEAT_MS } from './heartbeat';
import { TASK } from './task-names';
import { recordBatchResults } from './batches';
import { syncCustompmsRecords } from './apply-set';
import { syncCustompmsRecord } from './custompms-changes';
import type { SyncDeps } from './deps';
import { settle } from './settle';
import { enqueueCustompmsSync } from './enqueue';
import type { BatchResult } from './write/salesforce';
import {
  applySalesforceTask,
  applySalesforceTasks,
  applyTaskDeletion,
  type DeletionEvent,
} from './salesforce-changes';

interface WebhookEvent {
  id: string;
  type: string;
  data: { id: string };
}

const CUSTOMPMS_TYPES = ['customer', 'project', 'task'] as const;
type CustompmsType = (typeof CUSTOMPMS_TYPES)[number];

/** One piece of work: a message, or every webhook of a batch naming one record. */
interface Unit {
  ids: number[];
  run: () => Promise<void>;
  /** A webhook unit: the record it names (synced with the other webhook units, as a set). */
  record?: { type: CustompmsType; id: string };
  /** An outbound message's Task (applied with the message's other Tasks, as a set). */
  task?: RawRecord;
}

/** Webhook messages one run takes from the inbox to sync as a set (its own and others waiting). */
export const WEBHOOKS_PER_RUN = 100;

/** Processes the messages; one settled outcome per id, in order. */
export async function processInboxMessages(
  deps: SyncDeps,
  ids: readonly number[],
): Promise<PromiseSettledResult<void>[]> {
  const messages = await getInboxMessages(deps.pool, ids);
  const outcomes = new Map<number, PromiseSettledResult<void>>();
  const done: PromiseSettledResult<void> = { status: 'fulfilled', value: undefined };
  const webhooks = messages.filter(
    (message) => !message.processedAt && message.source === 'custompms.webhook',
  );
  // Webhooks are synced in sets (#18): this run claims its own and the others waiting, up to a
  // hundred; one of its own that another live run holds is that run's to finish.
  let claimed: InboxMessage[] = [];
  const claimId = randomUUID();
  if (webhooks.length > 0) {
    claimed = await claimWebhookMessages(deps.pool, {
      own: webhooks.map((message) => message.id),
      processId: PROCESS_ID,
      claimId,
      limit: Math.max(WEBHOOKS_PER_RUN, webhooks.length),
      staleMs: STALE_BEAT_MS,
    });
    for (const message of webhooks) outcomes.set(message.id, done);
    // The jobs of the others taken here have nothing left to do: removed before they run.
    const own = new Set(ids);
    await dropPendingJobsOf(
      deps.pool,
      claimed.filter((message) => !own.has(message.id)).map((message) => message.id),
    ).catch((error: unknown) => deps.logger.warn({ err: error }, 'jobs of claimed webhooks not removed'));
  }
  const others = messages.filter((message) => !message.processedAt && message.source !== 'custompms.webhook');
  const units = buildUnits(deps, [...claimed, ...others]);
  // The webhooks first, as one set (one batch read, one plan pass per hundred records).
  const named = units.filter((unit) => unit.record);
  const unfinished: number[] = [];
  if (named.length > 1) {
    const synced = await syncCustompmsRecords(
      deps,
      named.map((unit) => unit.record!),
    ).catch((error: unknown) =>
      named.map((): PromiseSettledResult<void> => ({ status: 'rejected', reason: error })),
    );
    const finished: Unit[] = [];
    for (const [index, unit] of named.entries()) {
      const outcome = synced[index]!;
      if (outcome.status === 'fulfilled') finished.push(unit);
      else {
        // As syncNamedRecord: the record's own job retries for days.
        deps.logger.warn({ err: outcome.reason, ...unit.record }, 'sync failed; retried as its own job');
        const queued = await settle(enqueueCustompmsSync(deps, unit.record!.type, unit.record!.id));
        if (queued.status === 'fulfilled') finished.push(unit);
        else for (const id of unit.ids) outcomes.set(id, queued);
      }
    }
    const marked = await settle(
      markInboxMessageProcessed(
        deps.pool,
        finished.flatMap((unit) => unit.ids),
      ),
    );
    for (const unit of finished) for (const id of unit.ids) outcomes.set(id, marked);
  }
  // An outbound message's Task notifications, as a set too (jobs/salesforce-changes.ts).
  const tasks = units.filter((unit) => unit.task);
  if (tasks.length > 1) {
    for (const unit of tasks) {
      const payload = unit.task!;
      metrics.changeReceived(
        'salesforce.outbound',
        payload.Custompms_Type__c === 'Project' ? 'projects' : 'tasks',
      );
    }
    const applied = await applySalesforceTasks(
      deps,
      tasks.map((unit) => unit.task!),
    ).catch((error: unknown) =>
      tasks.map((): PromiseSettledResult<void> => ({ status: 'rejected', reason: error })),
    );
    const finished = tasks.filter((_, index) => applied[index]!.status === 'fulfilled');
    for (const [index, unit] of tasks.entries())
      if (applied[index]!.status === 'rejected') for (const id of unit.ids) outcomes.set(id, applied[index]!);
    const marked = await settle(
      markInboxMessageProcessed(
        deps.pool,
        finished.flatMap((unit) => unit.ids),
      ),
    );
    for (const unit of finished) for (const id of unit.ids) outcomes.set(id, marked);
  }
  // One at a time: a sync holds two database connections (its record lock's and its queries'),
  // and the jobs running side by side (WORKER_CONCURRENCY) share the pool.
  for (const unit of units) {
    if (named.length > 1 && unit.record) continue;
    if (tasks.length > 1 && unit.task) continue;
    const outcome = await settle(unit.run().then(() => markInboxMessageProcessed(deps.pool, unit.ids)));
    for (const id of unit.ids) outcomes.set(id, outcome);
  }
  // Claimed here but not finished: given back. This job's own are retried by it; others go to a
  // job of their own (if that fails too, the minute sweep takes them once the claim is stale).
  for (const message of claimed)
    if (outcomes.get(message.id)?.status === 'rejected') unfinished.push(message.id);
  if (unfinished.length > 0) {
    await releaseClaims(deps.pool, unfinished, claimId).catch(() => undefined);
    const own = new Set(ids);
    const orphans = unfinished.filter((id) => !own.has(id));
    if (orphans.length > 0)
      await enqueueJob(deps.pool, TASK.processInboxMessages, orphans, { maxAttempts: 10 }).catch(
        (error: unknown) => deps.logger.warn({ err: error, ids: orphans }, 'claimed webhooks not requeued'),
      );
  }
  return ids.map((id) => outcomes.get(id) ?? done);
}

/** The work of the messages: one unit per message, or per record for the webhooks naming it. */
function buildUnits(deps: SyncDeps, messages: readonly InboxMessage[]): Unit[] {
  const units: Unit[] = [];
  const webhookUnits = new Map<string, Unit>();
  for (const message of messages) {
    if (message.source === 'custompms.webhook') {
      const event = message.payload as WebhookEvent;
      const type = event.type.split('.')[0] ?? '';
      metrics.changeReceived(message.source, `${type}s`);
      if (!(CUSTOMPMS_TYPES as readonly string[]).includes(type)) {
        units.push({ ids: [message.id], run: async () => {} });
        continue;
      }
      const key = `${type}:${event.data.id}`;
      const same = webhookUnits.get(key);
      if (same) {
        same.ids.push(message.id);
        continue;
      }
      const unit = {
        ids: [message.id],
        run: () => syncNamedRecord(deps, type as CustompmsType, event.data.id),
        record: { type: type as CustompmsType, id: event.data.id },
      };
      webhookUnits.set(key, unit);
      units.push(unit);
      continue;
    }
    const payload = message.payload as { sObjectType?: string; sObject?: RawRecord };
    units.push({
      ids: [message.id],
      run: () => applyMessage(deps, message),
      ...(message.source === 'salesforce.outbound' && payload.sObjectType === 'Task' && payload.sObject
        ? { task: payload.sObject }
        : {}),
    });
  }
  return units;
}

/** One stored message (jobs enqueued before migration 0011 name a single message). */
export async function processInboxMessage(deps: SyncDeps, id: number): Promise<void> {
  const [outcome] = await processInboxMessages(deps, [id]);
  if (outcome?.status === 'rejected') throw outcome.reason;
}

async function syncNamedRecord(deps: SyncDeps, type: CustompmsType, id: string): Promise<void> {
  try {
    await syncCustompmsRecord(deps, type, id);
  } catch (error) {
    // Custompms down, Salesforce refusing, a delete not yet confirmed: the record's own job
    // retries for days (and ends as a dead letter), where a message's retries end in hours.
    deps.logger.warn({ err: error, type, id }, 'sync failed; retried as its own job');
    await enqueueCustompmsSync(deps, type, id);
  }
}

async function applyMessage(deps: SyncDeps, message: InboxMessage): Promise<void> {
  switch (message.source) {
    case 'salesforce.outbound': {
      const payload = message.payload as { sObjectType: string; sObject: RawRecord };
      metrics.changeReceived(
        message.source,
        payload.sObject.Custompms_Type__c === 'Project' ? 'projects' : 'tasks',
      );
      if (payload.sObjectType === 'Task') await applySalesforceTask(deps, payload.sObject);
      else
        deps.logger.warn({ sObjectType: payload.sObjectType }, 'outbound message for an unsupported object');
      break;
    }
    case 'salesforce.deletion':
      metrics.changeReceived(message.source, 'tasks');
      await applyTaskDeletion(deps, message.payload as DeletionEvent);
      break;
    case 'salesforce.results': {
      const payload = message.payload as { batchId: string; results: BatchResult[] };
      await recordBatchResults(deps, payload.batchId, payload.results);
      break;
    }
    case 'custompms.webhook':
      break;
  }
}
