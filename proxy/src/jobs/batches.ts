/**
 * Salesforce-bound batches. `flushOutbox` cuts the outbox into batches and either announces them
 * to the org (apex path: one `Custompms_Change__e` per batch, up to 200 events per API call) or
 * writes them itself (api path: sObject Collections, 200 records per call). Both paths record
 * results through `recordBatchResults`, so links, statuses and problems are kept the same way.
 */
import {
  completeBatch,
  getBatch,
  markBatchPublished,
  overdueBatches,
  abandonBatch,
  setBatchDeadline,
  takeBatch,
  type ChangeBatch,
  type OutboxItem,
} from '../store/batches';
import { saveLink } from '../store/links';
import { withAdvisoryLock } from '../store/locks';
import { recordProblem } from '../store/problems';
import { withTransaction } from '../store/transaction';
import { chunk, soqlString, type SalesforceOperations } from '../salesforce/operations';
import type { SyncDeps } from './deps';
import { enqueueCustompmsSync, recordLockKey, releaseWaiting } from './enqueue';
import { refreshOrgMapping } from './org-mapping';
import { buildSyncContext } from './sync-context';
import { TASK } from './task-names';
import { recordWriteResult } from './write/record-result';
import { writeCollections, type BatchResult } from './write/salesforce';

export const CHANGE_EVENT = 'Custompms_Change__e';
const EVENTS_PER_CALL = 200;

/**
 * Cuts what the outbox holds now into batches and sends them; returns the batches handled. A
 * batch that comes back short means the outbox was drained: rows written since then wait for
 * the next flush (every put schedules one within a second) instead of leaving one by one in a
 * stream of tiny batches while syncs keep committing.
 */
export async function flushOutbox(deps: SyncDeps): Promise<number> {
  let handled = 0;
  let drained = false;
  while (!drained) {
    const batches: ChangeBatch[] = [];
    while (batches.length < EVENTS_PER_CALL && !drained) {
      const batch = await withTransaction(deps.pool, (client) => takeBatch(client, deps.settings.batchSize));
      if (batch) batches.push(batch);
      // A batch cut short by its character budget (CHANGE_BATCH_MAX_CHARACTERS) left rows behind.
      drained = !batch || (batch.items.length < deps.settings.batchSize && !batch.more);
    }
    if (batches.length === 0) break;
    if (deps.settings.writePath === 'apex') await announce(deps, batches);
    else for (const batch of batches) await writeDirectly(deps, batch);
    handled += batches.length;
  }
  return handled;
}

async function announce(deps: SyncDeps, batches: ChangeBatch[]): Promise<void> {
  const salesforce = await deps.salesforce();
  // Published before the events go out: the org's Apex may fetch a batch the moment its event
  // is delivered, before this call returns.
  const deadline = new Date(deps.now().getTime() + deps.settings.batchDeadlineMs);
  for (const batch of batches) await markBatchPublished(deps.pool, batch.id, deadline);
  const results = await salesforce.operations.publishEvents(
    CHANGE_EVENT,
    batches.map((batch) => ({ Batch_Id__c: batch.id, Record_Count__c: batch.items.length })),
  );
  for (const [index, batch] of batches.entries()) {
    const result = results[index];
    if (result?.success) continue;
    // Not announced: due at once, so the overdue check announces it again.
    await setBatchDeadline(deps.pool, batch.id, deps.now());
    deps.logger.warn({ batchId: batch.id, errors: result?.errors }, 'change event not published');
  }
  deps.logger.info({ batches: batches.length }, 'change batches announced to the org');
}

/** The api write path: what the org's Apex does, done through the REST API. */
async function writeDirectly(deps: SyncDeps, batch: ChangeBatch): Promise<void> {
  const salesforce = await deps.salesforce();
  const divisions = batch.items.filter((item) => item.kind === 'division');
  const results = await writeCollections(salesforce.operations, [
    { object: 'Division', operation: 'create', items: divisions.filter((item) => !item.record.Id) },
    { object: 'Division', operation: 'update', items: divisions.filter((item) => item.record.Id) },
    { object: 'Task', operation: 'upsert', items: batch.items.filter((item) => item.kind === 'task') },
  ]);
  await markBatchPublished(
    deps.pool,
    batch.id,
    new Date(deps.now().getTime() + deps.settings.batchDeadlineMs),
  );
  await recordBatchResults(deps, batch.id, results);
}

/**
 * Folds per-record results into links (success) or problems (failure), then completes the
 * batch. Idempotent: results for a completed batch change nothing.
 */
export async function recordBatchResults(
  deps: SyncDeps,
  batchId: string,
  results: BatchResult[],
): Promise<void> {
  const batch = await getBatch(deps.pool, batchId);
  if (!batch || batch.status === 'completed') return;
  await refreshOrgMapping(deps);
  const salesforce = await deps.salesforce();
  const stamped = await withModstamps(salesforce.operations, results);
  const byKey = new Map(stamped.map((result) => [`${result.kind}:${result.key}`, result]));
  const linked: OutboxItem[] = [];
  for (const item of batch.items) {
    const outcome = await recordWriteResult(
      deps,
      deps.pool,
      item,
      byKey.get(`${item.kind}:${item.custompmsId}`),
      {
        origin: `batch ${batch.id}`,
        context: () => buildSyncContext(deps.pool, salesforce, [item.record]),
        // Under the record's lock: a sync of this record plans either before the link changes (its
        // outbox write then finds this batch's row in flight and flags it) or after (and sees it).
        save: (link, status) =>
          withAdvisoryLock(deps.pool, recordLockKey(item.flow, item.custompmsId), () =>
            saveLink(deps.pool, link, status),
          ),
      },
    );
    if ('link' in outcome) linked.push(item);
  }
  const again = await completeBatch(deps.pool, batch.id);
  for (const item of linked) await releaseWaiting(deps, deps.definition[item.flow], item.custompmsId);
  for (const record of again) {
    await enqueueCustompmsSync(deps, deps.definition[record.flow].custompmsType, record.custompmsId);
  }
  deps.logger.info({ batchId, records: batch.items.length, linked: linked.length }, 'batch results recorded');
}

/**
 * Reads back the SystemModstamp of the Tasks just written (one query per batch): the link then
 * knows which of its fields that version wrote, so an older outbound message, still carrying
 * the values from before, cannot undo them. Read after the write, the stamp may be a later
 * user edit's; the sync core only uses it to ignore those fields in *older* notifications.
 */
async function withModstamps(
  operations: SalesforceOperations,
  results: BatchResult[],
): Promise<BatchResult[]> {
  const ids = results
    .filter((result) => result.kind === 'task' && result.success && result.salesforceId)
    .map((result) => result.salesforceId!);
  if (ids.length === 0) return results;
  const stamps = new Map<string, string>();
  for (const part of chunk(ids)) {
    for await (const row of operations.query<{ Id: string; SystemModstamp: string }>(
      `SELECT Id, SystemModstamp FROM Task WHERE Id IN (${part.map(soqlString).join(', ')})`,
    )) {
      stamps.set(row.Id.slice(0, 15), row.SystemModstamp);
    }
  }
  return results.map((result) => {
    const stamp = result.salesforceId ? stamps.get(result.salesforceId.slice(0, 15)) : undefined;
    return stamp ? { ...result, systemModstamp: stamp } : result;
  });
}

/** Announces again the batches the org has not answered by their deadline; gives up after a few. */
export async function republishOverdue(deps: SyncDeps): Promise<number> {
  const overdue = await overdueBatches(deps.pool, deps.now());
  const again: ChangeBatch[] = [];
  for (const batch of overdue) {
    if (batch.publishCount >= deps.settings.maxPublishes) {
      // Parked: the records are listed for an admin to replay (re-sync) once the org is fixed.
      await abandonBatch(deps.pool, batch.id);
      await recordProblem(deps.pool, {
        kind: 'dead_letter',
        code: 'BATCH_UNANSWERED',
        message: `the org did not report results for batch ${batch.id} after ${batch.publishCount} announcements`,
        task: TASK.flushOutbox,
        payload: {
          batchId: batch.id,
          records: batch.items.map((item) => `${item.flow}:${item.custompmsId}`),
        },
      });
    } else again.push(batch);
  }
  for (const part of chunk(again, EVENTS_PER_CALL)) {
    if (deps.settings.writePath === 'apex') await announce(deps, part);
    else for (const batch of part) await writeDirectly(deps, batch);
  }
  if (again.length > 0) deps.logger.warn({ batches: again.length }, 'overdue change batches announced again');
  return again.length;
}
