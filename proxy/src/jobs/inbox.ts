/**
 * `process_inbox_message`: the one entry from the durable inbox into the sync. Enqueued by a
 * database trigger in the transaction that stored the message.
 */
import { metrics } from '../metrics';
import type { RawRecord } from '../sync';
import { getInboxMessage, markInboxMessageProcessed } from '../store/inbox';
import { recordBatchResults } from './batches';
import type { SyncDeps } from './deps';
import { enqueueCustompmsSync } from './enqueue';
import type { BatchResult } from './write/salesforce';
import { applySalesforceTask, applyTaskDeletion, type DeletionEvent } from './salesforce-changes';

interface WebhookEvent {
  id: string;
  type: string;
  data: { id: string };
}

export async function processInboxMessage(deps: SyncDeps, id: number): Promise<void> {
  const message = await getInboxMessage(deps.pool, id);
  if (!message || message.processedAt) return;
  switch (message.source) {
    case 'custompms.webhook': {
      const event = message.payload as WebhookEvent;
      const type = event.type.split('.')[0] ?? '';
      metrics.changeReceived(message.source, `${type}s`);
      if (['customer', 'project', 'task'].includes(type)) {
        await enqueueCustompmsSync(deps, type as 'customer' | 'project' | 'task', event.data.id);
      }
      break;
    }
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
  }
  await markInboxMessageProcessed(deps.pool, id);
}
