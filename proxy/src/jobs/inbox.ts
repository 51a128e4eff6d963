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
import { getInboxMessages, markInboxMessageProcessed, type InboxMessage } from '../store/inbox';
import { recordBatchResults } from './batches';
import { syncCustompmsRecord } from './custompms-changes';
import type { SyncDeps } from './deps';
import { settle } from './settle';
import { enqueueCustompmsSync } from './enqueue';
import type { BatchResult } from './write/salesforce';
import { applySalesforceTask, applyTaskDeletion, type DeletionEvent } from './salesforce-changes';

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
}

/** Processes the messages; one settled outcome per id, in order. */
export async function processInboxMessages(
  deps: SyncDeps,
  ids: readonly number[],
): Promise<PromiseSettledResult<void>[]> {
  const messages = await getInboxMessages(deps.pool, ids);
  const units: Unit[] = [];
  const webhookUnits = new Map<string, Unit>();
  for (const message of messages) {
    if (message.processedAt) continue;
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
      };
      webhookUnits.set(key, unit);
      units.push(unit);
      continue;
    }
    units.push({ ids: [message.id], run: () => applyMessage(deps, message) });
  }
  // One at a time: a sync holds two database connections (its record lock's and its queries'),
  // and the jobs running side by side (WORKER_CONCURRENCY) share the pool.
  const outcomes = new Map<number, PromiseSettledResult<void>>();
  for (const unit of units) {
    const outcome = await settle(unit.run().then(() => markInboxMessageProcessed(deps.pool, unit.ids)));
    for (const id of unit.ids) outcomes.set(id, outcome);
  }
  return ids.map((id) => outcomes.get(id) ?? { status: 'fulfilled', value: undefined });
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
