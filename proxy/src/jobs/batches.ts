/**
 * Salesforce-bound batches. `flushOutbox` cuts the outbox into batches and either announces them
 * to the org (apex path: one `Custompms_Change__e` per batch, up to 200 events per API call) or
 * writes them itself (api path: one Composite call per batch, its sObject Collections writes and
 * the read-back of the written Tasks' SystemModstamp). Both paths record
 * results through `recordBatchResults`, so links, statuses and problems are kept the same way.
 */
import {
  completeBatch,
  countSendable,
  getBatch,
  markBatchPublished,
  overdueBatches,
  abandonBatch,
  nextDeferredAt,
  outboxAttempts,
  reclaimStaleOpenBatches,
  releaseOrphanedOutboxRows,
  replaceBatchItems,
  retryOutboxItemLater,
  supersedeBatch,
  setBatchDeadline,
  takeBatch,
  type ChangeBatch,
  deletedTaskItems,
  type OutboxItem,
} from '../store/batches';
import { insertInboxMessages } from '../store/inbox';
import { withAdvisoryLocks } from '../store/locks';
import { recordProblem } from '../store/problems';
import { withTransaction } from '../store/transaction';
import { chunk, soqlDateTime, soqlString, type SalesforceOperations } from '../salesforce/operations';
import type { SyncContext } from '../sync';
import type { SyncDeps } from './deps';
import { enqueueCustompmsSync, recordLockKey, releaseWaiting, scheduleDeferredFlush } from './enqueue';
import { PROCESS_ID } from './heartbeat';
import { refreshOrgMapping } from './org-mapping';
import { buildSyncContext } from './sync-context';
import { TASK } from './task-names';
import { recordWriteResult, recordWriteResults } from './write/record-result';
import { writeBatchInOneCall, type BatchResult } from './write/salesforce';

export const CHANGE_EVENT = 'Custompms_Change__e';
/** How long the api path's own write of a batch may take before the sweep writes it again. */
export const API_WRITE_DEADLINE_MS = 90_000;
const EVENTS_PER_CALL = 200;

/**
 * Cuts what the outbox holds now into batches and sends them; returns the batches handled. A
 * batch that comes back short means the outbox was drained: rows written since then wait for
 * the next flush (every put schedules one within a second) instead of leaving one by one in a
 * stream of tiny batches while syncs keep committing.
 */
export async function flushOutbox(
  deps: SyncDeps,
  /** Full batches only: a remainder waits for more changes (a burst's flush sends it later). */
  options: { fullBatchesOnly?: boolean } = {},
): Promise<number> {
  let handled = 0;
  let drained = false;
  while (!drained) {
    const batches: ChangeBatch[] = [];
    while (batches.length < EVENTS_PER_CALL && !drained) {
      if (options.fullBatchesOnly && (await countSendable(deps.pool)) < deps.settings.batchSize) {
        drained = true;
        break;
      }
      const batch = await withTransaction(deps.pool, (client) => takeBatch(client, deps.settings.batchSize));
      if (batch) batches.push(batch);
      // A batch cut short by its character budget (CHANGE_BATCH_MAX_CHARACTERS) left rows behind.
      drained = !batch || (batch.items.length < deps.settings.batchSize && !batch.more);
    }
    if (batches.length === 0) break;
    try {
      if (deps.settings.writePath === 'apex') await announce(deps, batches);
      else for (const batch of batches) await writeDirectly(deps, batch);
    } catch (error) {
      // Taken but not sent (auth failed, the call threw): back to the outbox at once, so the
      // job's retry sends them again. A crash here instead is caught by the overdue sweep
      // (`reclaimStaleOpenBatches`).
      for (const batch of batches) await releaseUnsent(deps, batch.id);
      throw error;
    }
    handled += batches.length;
  }
  await scheduleDeferred(deps);
  return handled;
}

/** Schedules the flush of the earliest write held back by a transient refusal, if any. */
async function scheduleDeferred(deps: SyncDeps): Promise<void> {
  const due = await nextDeferredAt(deps.pool);
  if (due) await scheduleDeferredFlush(deps, new Date(Math.max(due.getTime(), Date.now() + 1_000)));
}

/** A batch still `open` (never published) goes back to the outbox; a published one waits for its deadline. */
async function releaseUnsent(deps: SyncDeps, batchId: string): Promise<void> {
  await withTransaction(deps.pool, async (client) => {
    const batch = await getBatch(client, batchId, true);
    if (batch?.status === 'open') await supersedeBatch(client, batchId);
    else if (batch?.status === 'published') await setBatchDeadline(client, batchId, deps.now());
  });
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

/**
 * The api write path: what the org's Apex does, done through the REST API. The batch is marked
 * published before the first write, so a crash part-way leaves it to the overdue sweep, which
 * writes it again: Task upserts on `Custompms_Id__c` repeat harmlessly, and a Division create
 * first looks for the Division an earlier attempt may have created (`reconcileDivisionCreates`).
 */
async function writeDirectly(deps: SyncDeps, batch: ChangeBatch): Promise<void> {
  const salesforce = await deps.salesforce();
  // The write is this job's own: if it has not finished within API_WRITE_DEADLINE_MS its process
  // died (every call times out well before), and the sweep writes the batch again — at once if
  // this process, which the batch names, stops beating.
  await markBatchPublished(
    deps.pool,
    batch.id,
    new Date(deps.now().getTime() + Math.min(deps.settings.batchDeadlineMs, API_WRITE_DEADLINE_MS)),
    PROCESS_ID,
  );
  // A batch written again (after a crash) may carry a Task deleted since: an upsert would bring it
  // back. Such items are dropped, not written.
  const gone = await deletedTaskItems(deps.pool, batch.items);
  const items = batch.items.filter((item) => !gone.has(`${item.kind}:${item.custompmsId}`));
  const divisions = items.filter((item) => item.kind === 'division');
  const creates = divisions.filter((item) => !item.record.Id);
  // Only a batch written before can have created them (an answer lost, a writer died): the first
  // attempt makes no call to look.
  const existing =
    batch.publishCount > 0
      ? await reconcileDivisionCreates(deps, salesforce, creates)
      : new Map<string, string>();
  const toCreate = creates.filter((item) => !existing.has(item.custompmsId));
  const found = creates
    .filter((item) => existing.has(item.custompmsId))
    .map((item) => ({ ...item, record: { ...item.record, Id: existing.get(item.custompmsId) } }));
  // Written before (a writer died): a Task the first attempt created is not written again — the
  // upsert would put this batch's values over a user's edits since, or create it again if the
  // user deleted it. Its first result stands (and a deletion since is synced).
  // Records deleted since are looked up too: a Task an earlier attempt created for one is deleted.
  const createdBefore =
    batch.publishCount > 0
      ? await createdByEarlierAttempt(
          deps,
          salesforce,
          batch.items.filter((item) => item.kind === 'task' && !item.plan.write.id),
        )
      : new Map<string, { id: string; deleted: boolean }>();
  await deleteOrphanedCreates(deps, salesforce, batch, createdBefore, gone);
  // One Composite call: the four Collections writes, then the read-back of the written Tasks'
  // SystemModstamp (so `withModstamps` makes no call of its own).
  const results = await writeBatchInOneCall(
    salesforce.operations,
    [
      { object: 'Division', operation: 'create', items: toCreate },
      {
        object: 'Division',
        operation: 'update',
        items: [...divisions.filter((item) => item.record.Id), ...found],
      },
      // A Task already linked is updated by its Id: if a user deleted it meanwhile, the update fails
      // (ENTITY_IS_DELETED) instead of an upsert on Custompms_Id__c creating it again.
      {
        object: 'Task',
        operation: 'update',
        items: items
          .filter((item) => item.kind === 'task' && item.plan.write.id)
          .map((item) => ({ ...item, record: { ...item.record, Id: item.plan.write.id } })),
      },
      {
        object: 'Task',
        operation: 'upsert',
        items: items.filter(
          (item) => item.kind === 'task' && !item.plan.write.id && !createdBefore.has(item.custompmsId),
        ),
      },
    ],
    {
      onStampsUnread: (error) =>
        deps.logger.warn(
          { batchId: batch.id, errorCode: error.errorCode, error: error.message },
          'SystemModstamps not read back with the batch write; read separately',
        ),
      onRefused: (error, call) =>
        deps.logger.warn(
          {
            batchId: batch.id,
            object: call.object,
            operation: call.operation,
            records: call.items.length,
            errorCode: error.errorCode,
            error: error.message,
          },
          'Salesforce refused a write of the batch as a whole; its records failed, the rest stand',
        ),
    },
  );
  for (const [custompmsId, task] of createdBefore) {
    results.push({ kind: 'task', key: custompmsId, success: true, salesforceId: task.id, created: true });
  }
  for (const result of results) {
    // Deleted in Salesforce while this write was on its way: its deletion is synced on its own.
    if (!result.success && result.errors?.some((error) => error.statusCode === 'ENTITY_IS_DELETED'))
      gone.add(`${result.kind}:${result.key}`);
  }
  await recordBatchResults(deps, batch.id, results, gone);
  // Linked now: their deletion is synced like any other (read from the org: confirmed).
  const deleted = [...createdBefore].filter(([, task]) => task.deleted);
  if (deleted.length > 0) {
    await insertInboxMessages(
      deps.pool,
      deleted.map(([custompmsId, task]) => ({
        source: 'salesforce.deletion' as const,
        dedupeKey: `rewrite:${task.id}`,
        recordKey: `sf:${task.id}`,
        payload: { taskId: task.id, custompmsId, operation: 'delete', confirmed: true },
      })),
    );
  }
}

/**
 * A batch written again after its writer died: a Task its first attempt created for a record
 * deleted since (the link never learnt its Id, so the record's deletion could not delete it) is
 * deleted now and dropped from `createdBefore` — it would otherwise stay in the org for good.
 */
async function deleteOrphanedCreates(
  deps: SyncDeps,
  salesforce: Awaited<ReturnType<SyncDeps['salesforce']>>,
  batch: ChangeBatch,
  createdBefore: Map<string, { id: string; deleted: boolean }>,
  gone: ReadonlySet<string>,
): Promise<void> {
  const orphans: OrphanTask[] = [];
  for (const item of batch.items) {
    const task = item.kind === 'task' ? createdBefore.get(item.custompmsId) : undefined;
    if (!task || !gone.has(`task:${item.custompmsId}`)) continue;
    createdBefore.delete(item.custompmsId);
    if (!task.deleted)
      orphans.push({ flow: item.flow, custompmsId: item.custompmsId, salesforceId: task.id });
  }
  await deleteOrphanTasks(deps, salesforce, batch.id, orphans);
}

/** A Task this sync created for a Custompms record deleted since (its write raced the delete). */
interface OrphanTask {
  flow: OutboxItem['flow'];
  custompmsId: string;
  salesforceId: string;
}

/**
 * Deletes orphan Tasks (either write path). One already deleted is fine. A refusal that may pass
 * (isTransientRefusal) throws: the caller's retry (the sweep's rewrite, the results job's
 * retry) deletes it. Any other refusal is an error problem naming the Task for an admin to delete
 * — never left in the org silently, and never holding up the rest of its batch for good.
 */
async function deleteOrphanTasks(
  deps: SyncDeps,
  salesforce: Awaited<ReturnType<SyncDeps['salesforce']>>,
  batchId: string,
  orphans: readonly OrphanTask[],
): Promise<void> {
  if (orphans.length === 0) return;
  const results = await salesforce.operations.destroy(
    'Task',
    orphans.map((orphan) => orphan.salesforceId),
  );
  const refused = orphans.flatMap((orphan, index) => {
    const result = results[index];
    const codes = (result?.errors ?? []).map((error) => error.statusCode);
    return result?.success || codes.includes('ENTITY_IS_DELETED') ? [] : [{ orphan, codes }];
  });
  const forNow = refused.filter(({ codes }) => isTransientRefusal(codes));
  if (forNow.length > 0)
    throw new Error(
      `Tasks created for records deleted since were not deleted, for now: ${JSON.stringify(forNow)}`,
    );
  for (const { orphan, codes } of refused)
    await recordProblem(deps.pool, {
      kind: 'error',
      code: 'ORPHAN_TASK_NOT_DELETED',
      flow: orphan.flow,
      custompmsId: orphan.custompmsId,
      salesforceId: orphan.salesforceId,
      message: `the Task ${orphan.salesforceId} was created for ${orphan.custompmsId} as it was being deleted, and could not be deleted (${codes.join(', ') || 'no error given'}): delete it in Salesforce`,
      payload: { batchId },
    });
  deps.logger.warn(
    { batchId, tasks: orphans.map((orphan) => orphan.salesforceId), notDeleted: refused.length },
    'Tasks created for records deleted since were deleted',
  );
}

/**
 * Task creates of a batch written again whose Task an earlier attempt created (by the integration
 * user, since the change was planned; `ALL ROWS`: a user may have deleted it since): Custompms
 * id → that Task, live or deleted (a live one wins).
 */
async function createdByEarlierAttempt(
  deps: SyncDeps,
  salesforce: Awaited<ReturnType<SyncDeps['salesforce']>>,
  creates: readonly OutboxItem[],
): Promise<Map<string, { id: string; deleted: boolean }>> {
  const found = new Map<string, { id: string; deleted: boolean }>();
  if (creates.length === 0) return found;
  const since = await plannedSince(deps, creates);
  for (const part of chunk(creates)) {
    for (const row of await salesforce.operations.queryAll<{
      Id: string;
      Custompms_Id__c: string;
      IsDeleted: boolean;
    }>(
      `SELECT Id, Custompms_Id__c, IsDeleted FROM Task WHERE Custompms_Id__c IN (${part.map((item) => soqlString(item.custompmsId)).join(', ')}) ` +
        `AND CreatedById = ${soqlString(salesforce.integrationUserId)} AND CreatedDate >= ${soqlDateTime(since)}`,
      { includeDeleted: true },
    )) {
      const known = found.get(row.Custompms_Id__c);
      if (!known || (known.deleted && !row.IsDeleted))
        found.set(row.Custompms_Id__c, { id: row.Id, deleted: row.IsDeleted });
    }
  }
  return found;
}

/** When these writes were planned, less a minute of clock skew: no attempt before can have made them. */
async function plannedSince(deps: SyncDeps, items: readonly OutboxItem[]): Promise<Date> {
  const planned = await deps.pool.query<{ created_at: Date | null }>(
    `SELECT min(created_at) AS created_at FROM outbox
     WHERE (flow, custompms_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [items.map((item) => item.flow), items.map((item) => item.custompmsId)],
  );
  return new Date((planned.rows[0]?.created_at ?? deps.now()).getTime() - 60_000);
}

/**
 * Divisions this batch's records may already have created in an earlier attempt whose answer was
 * lost (a Division has no external id, and a create is never retried blindly): Divisions the
 * integration user created with the same name since the batch was cut. Returns Custompms id →
 * Division Id for each one found.
 */
async function reconcileDivisionCreates(
  deps: SyncDeps,
  salesforce: Awaited<ReturnType<SyncDeps['salesforce']>>,
  creates: readonly OutboxItem[],
  /** Who would have created them: the integration user (api path); any user on the apex path. */
  createdBy: string | null = salesforce.integrationUserId,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const named = creates.filter((item) => typeof item.record.Name === 'string');
  if (named.length === 0) return found;
  const since = await plannedSince(deps, named);
  const byName = new Map<string, string>();
  for (const part of chunk(named)) {
    for await (const row of salesforce.operations.query<{ Id: string; Name: string }>(
      `SELECT Id, Name FROM Division WHERE Name IN (${part.map((item) => soqlString(String(item.record.Name))).join(', ')}) ` +
        (createdBy === null ? '' : `AND CreatedById = ${soqlString(createdBy)} `) +
        `AND CreatedDate >= ${soqlDateTime(since)} ORDER BY CreatedDate`,
    )) {
      if (!byName.has(row.Name)) byName.set(row.Name, row.Id);
    }
  }
  const linked = await deps.pool.query<{ salesforce_id: string }>(
    `SELECT salesforce_id FROM links WHERE flow = 'customers' AND salesforce_id = ANY($1)`,
    [[...byName.values()]],
  );
  const taken = new Set(linked.rows.map((row) => row.salesforce_id));
  for (const item of named) {
    const id = byName.get(String(item.record.Name));
    if (id && !taken.has(id)) {
      found.set(item.custompmsId, id);
      taken.add(id);
    }
  }
  if (found.size > 0)
    deps.logger.warn({ divisions: found.size }, 'Divisions an earlier attempt created were found and reused');
  return found;
}

/**
 * Folds per-record results into links (success) or problems (failure), then completes the
 * batch. Idempotent: results for a completed batch change nothing.
 */
export async function recordBatchResults(
  deps: SyncDeps,
  batchId: string,
  results: BatchResult[],
  /** Items deliberately not written (`kind:custompmsId`): nothing to record for them. */
  skipped: ReadonlySet<string> = new Set<string>(),
): Promise<void> {
  const batch = await getBatch(deps.pool, batchId);
  if (!batch || batch.status === 'completed') return;
  await refreshOrgMapping(deps);
  const salesforce = await deps.salesforce();
  const stamped = await withModstamps(salesforce.operations, results);
  const byKey = new Map(stamped.map((result) => [`${result.kind}:${result.key}`, result]));
  // Tasks deleted (either side) since the batch was cut: the fetch left them out, so a missing
  // result is expected. One the org's upsert created anyway (it fetched before the delete was
  // recorded, and a deleted Task does not match Custompms_Id__c) is this batch's own new Task for
  // a record that is gone: it is deleted again, and nothing is recorded for it.
  const keyOf = (item: OutboxItem) => `${item.kind}:${item.custompmsId}`;
  const candidates = batch.items.filter((item) => {
    if (item.kind !== 'task' || skipped.has(keyOf(item))) return false;
    const result = byKey.get(keyOf(item));
    return !result || (result.success && result.created === true);
  });
  const gone = candidates.length > 0 ? await deletedTaskItems(deps.pool, candidates) : new Set<string>();
  await deleteOrphanTasks(
    deps,
    salesforce,
    batch.id,
    candidates.flatMap((item) => {
      const result = byKey.get(keyOf(item));
      return gone.has(keyOf(item)) && result?.success && result.created && result.salesforceId
        ? [{ flow: item.flow, custompmsId: item.custompmsId, salesforceId: result.salesforceId }]
        : [];
    }),
  );
  if (gone.size > 0) skipped = new Set([...skipped, ...gone]);
  const linked: OutboxItem[] = [];
  let deferred = 0;
  // One context for the whole batch (the links its records refer to), read when first needed.
  let context: Promise<SyncContext> | undefined;
  const batchContext = () =>
    (context ??= buildSyncContext(
      deps.pool,
      salesforce,
      batch.items.map((item) => item.record),
    ));
  const succeeded: { item: OutboxItem; result: BatchResult }[] = [];
  for (const item of batch.items) {
    if (skipped.has(`${item.kind}:${item.custompmsId}`)) continue;
    const result = byKey.get(`${item.kind}:${item.custompmsId}`);
    if (result?.success) {
      succeeded.push({ item, result });
      continue;
    }
    if (result && (await deferTransientFailure(deps, batch.id, item, result))) {
      deferred++;
      continue;
    }
    // A failure stores no link: a problem, and the Task's status set to Error.
    await recordWriteResult(deps, deps.pool, item, result, {
      origin: `batch ${batch.id}`,
      context: batchContext,
    });
  }
  // The successes in a set (one link statement, one history insert), under the records' locks:
  // a sync of one of them plans either before its link changes (its outbox write then finds this
  // batch's row in flight and flags it) or after (and sees it).
  await withAdvisoryLocks(
    deps.pool,
    succeeded.map(({ item }) => recordLockKey(item.flow, item.custompmsId)),
    () =>
      recordWriteResults(deps, deps.pool, succeeded, {
        origin: `batch ${batch.id}`,
        context: batchContext,
      }),
  );
  linked.push(...succeeded.map(({ item }) => item));
  // Completed, and the records changed while in flight queued again, in one transaction: a crash
  // between the two would lose their newer change.
  await withTransaction(deps.pool, async (client) => {
    for (const record of await completeBatch(client, batch.id))
      await enqueueCustompmsSync(
        { pool: client },
        deps.definition[record.flow].custompmsType,
        record.custompmsId,
      );
  });
  for (const flow of new Set(linked.map((item) => item.flow))) {
    const ids = linked.filter((item) => item.flow === flow).map((item) => item.custompmsId);
    await releaseWaiting(deps, deps.definition[flow], ids);
  }
  if (deferred > 0) await scheduleDeferred(deps);
  deps.logger.info(
    { batchId, records: batch.items.length, linked: linked.length, deferred },
    'batch results recorded',
  );
}

/**
 * Per-record refusals that say "not now" rather than "never": the record is written again in a
 * later batch, with backoff, instead of ending as an error (SALESFORCE.md, "REST efficiency and
 * errors"). Validation and access errors are permanent and are recorded as they are.
 */
export const TRANSIENT_RECORD_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_LOCK_ROW',
  'SERVER_UNAVAILABLE',
  'REQUEST_LIMIT_EXCEEDED',
  'REQUEST_RUNNING_TOO_LONG',
  'QUERY_TIMEOUT',
]);
/** A refusal given only transient codes (one without any code is not: nothing says it will pass). */
function isTransientRefusal(codes: readonly string[]): boolean {
  return codes.length > 0 && codes.every((code) => TRANSIENT_RECORD_ERRORS.has(code));
}

/** Transient refusals of one record before it is recorded as an error after all. */
export const MAX_TRANSIENT_ATTEMPTS = 10;

async function deferTransientFailure(
  deps: SyncDeps,
  batchId: string,
  item: OutboxItem,
  result: BatchResult,
): Promise<boolean> {
  if (result.success) return false;
  const codes = (result.errors ?? []).map((error) => error.statusCode);
  if (!isTransientRefusal(codes)) return false;
  const attempts = await outboxAttempts(deps.pool, item.flow, item.custompmsId);
  if (attempts + 1 >= MAX_TRANSIENT_ATTEMPTS) return false;
  const delayMs = Math.min(300_000, 1_000 * 2 ** attempts) * (0.5 + Math.random() / 2);
  await retryOutboxItemLater(deps.pool, batchId, item, new Date(Date.now() + delayMs));
  deps.logger.warn(
    { batchId, flow: item.flow, custompmsId: item.custompmsId, codes, attempt: attempts + 1, delayMs },
    'Salesforce refused a record for now; written again later',
  );
  return true;
}

/**
 * Reads back the SystemModstamp of the Tasks just written that their result does not carry (one
 * query per batch; the writer usually reports it): the link then knows which of its fields that
 * version wrote, so an older outbound message, still carrying the values from before, cannot undo
 * them. Read after the write, the stamp may be a later user edit's; the sync core only uses it to
 * ignore those fields in *older* notifications.
 */
async function withModstamps(
  operations: SalesforceOperations,
  results: BatchResult[],
): Promise<BatchResult[]> {
  const ids = results
    .filter(
      (result) => result.kind === 'task' && result.success && result.salesforceId && !result.systemModstamp,
    )
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

/**
 * Apex path, a batch announced again: the org's first run may have created its Divisions and lost
 * only its report. Each Division create whose Division exists now (by name, created since the
 * change was planned, by whichever user the org's job ran as) becomes an update of that Division,
 * so the org does not create a second.
 */
async function adoptCreatedDivisions(deps: SyncDeps, batch: ChangeBatch): Promise<void> {
  const creates = batch.items.filter((item) => item.kind === 'division' && !item.record.Id);
  if (creates.length === 0) return;
  const salesforce = await deps.salesforce();
  const found = await reconcileDivisionCreates(deps, salesforce, creates, null);
  if (found.size === 0) return;
  batch.items = batch.items.map((item) =>
    item.kind === 'division' && found.has(item.custompmsId)
      ? { ...item, record: { ...item.record, Id: found.get(item.custompmsId) } }
      : item,
  );
  await replaceBatchItems(deps.pool, batch.id, batch.items);
}

/** Announces again the batches the org has not answered by their deadline; gives up after a few. */
export async function republishOverdue(deps: SyncDeps): Promise<number> {
  // Batches a dead process took but never published go back to the outbox for a fresh batch.
  const reclaimed = await reclaimStaleOpenBatches(
    deps.pool,
    new Date(deps.now().getTime() - deps.settings.openBatchStaleMs),
  );
  if (reclaimed.length > 0)
    deps.logger.warn({ batches: reclaimed.length }, 'unpublished change batches reclaimed');
  const orphans = await releaseOrphanedOutboxRows(deps.pool, new Date(deps.now().getTime() - 60_000));
  for (const record of orphans)
    await enqueueCustompmsSync(deps, deps.definition[record.flow].custompmsType, record.custompmsId);
  if (orphans.length > 0)
    deps.logger.warn({ records: orphans.length }, 'outbox rows of completed batches removed; synced again');
  // The safety net under the debounced flush: whatever waits unbatched goes out now.
  if (reclaimed.length > 0 || (await countSendable(deps.pool)) > 0) await flushOutbox(deps);
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
    if (deps.settings.writePath === 'apex') {
      for (const batch of part) await adoptCreatedDivisions(deps, batch);
      await announce(deps, part);
    } else for (const batch of part) await writeDirectly(deps, batch);
  }
  if (again.length > 0) deps.logger.warn({ batches: again.length }, 'overdue change batches announced again');
  return again.length;
}
