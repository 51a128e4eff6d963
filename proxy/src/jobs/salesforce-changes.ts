/**
 * Salesforce → Custompms. Outbound-message notifications carry the Task's latest data: apply
 * those values (no re-read per notification); a notification older than what was applied is
 * dropped by the planner as stale. Deletes and undeletes come from the Apex trigger path and the
 * `/deleted` poll, through the same inbox.
 */
import type { Change, FlowDefinition, Link, RawRecord } from '../sync';
import { CustompmsNotFoundError } from '../custompms/errors';
import { inOutbox } from '../store/batches';
import { findLinkBySalesforceId, storedLinksBySalesforceIds } from '../store/links';
import { soqlString } from '../salesforce/operations';
import { flowOfType, planAndApply } from './apply';
import { applySalesforceSet, type SalesforceSetItem } from './apply-set';
import { settle } from './settle';
import { custompmsChange } from './custompms-changes';
import type { SyncDeps } from './deps';
import { salesforceDeleteConfirmed } from './delete-safety';
import { recordProblemOnce } from '../store/problems';
import { hiddenTaskFields, refreshTaskFieldAccess } from './task-field-access';

/** The Task fields the sync reads, the same list the outbound message sends. */
export const TASK_FIELDS = [
  'Id',
  'Subject',
  'Description',
  'Status',
  'Priority',
  'ActivityDate',
  'OwnerId',
  'Custompms_Id__c',
  'Custompms_Type__c',
  'Custompms_Project_Id__c',
  'SystemModstamp',
  'LastModifiedDate',
  'LastModifiedById',
];

export function salesforceChange(record: RawRecord, operation: Change['operation'] = 'upsert'): Change {
  return {
    side: 'salesforce',
    operation,
    id: String(record.Id),
    version: (record.SystemModstamp as string | undefined) ?? null,
    modifiedAt: (record.LastModifiedDate as string | undefined) ?? null,
    record,
    origin: (record.LastModifiedById as string | undefined) ?? null,
  };
}

async function custompmsCounterpart(
  deps: SyncDeps,
  flow: FlowDefinition,
  id: string,
): Promise<Change | null> {
  try {
    const record = (await deps.custompms().get(flow.custompmsCollection, id)) as unknown as RawRecord & {
      id: string;
      version: number;
      updated_at: string;
    };
    return custompmsChange(record);
  } catch (error) {
    if (error instanceof CustompmsNotFoundError) return null;
    throw error;
  }
}

/** A Salesforce change for a Task whose create by the sync has not had its result recorded yet. */
export class TaskCreatePendingError extends Error {
  readonly code = 'TASK_CREATE_PENDING';
  constructor(taskId: string, custompmsId: string) {
    super(`the result of the sync's create of Task ${taskId} (${custompmsId}) is not recorded yet; retried`);
    this.name = 'TaskCreatePendingError';
  }
}

/**
 * The outbound message cannot carry `Task.Division` (the field exists only where divisions are
 * enabled, so naming it would fail the deploy elsewhere), and a missing field would read as
 * cleared. A linked record keeps its last synced Division (a Division change on a Task is not
 * seen: a documented limit); a record new to the sync gets it read once.
 */
async function withDivision(
  deps: SyncDeps,
  flow: FlowDefinition,
  sObject: RawRecord,
  link: Link | null,
): Promise<RawRecord> {
  const divisionFields = flow.fields.filter((field) => field.salesforce === 'Division');
  if (divisionFields.length === 0 || 'Division' in sObject) return sObject;
  if (link) return divisionFromLink(flow, sObject, link);
  if (divisionFields.every((field) => field.direction === 'to_salesforce')) return sObject;
  const salesforce = await deps.salesforce();
  if (!(await salesforce.org.hasDivisions())) return sObject;
  const [row] = await salesforce.operations.queryAll<{ Division: string | null }>(
    `SELECT Division FROM Task WHERE Id = ${soqlString(String(sObject.Id))}`,
  );
  return row ? { ...sObject, Division: row.Division } : sObject;
}

/** A linked Task's Division: the link's last value (see `withDivision`). */
function divisionFromLink(flow: FlowDefinition, sObject: RawRecord, link: Link): RawRecord {
  if ('Division' in sObject || !flow.fields.some((field) => field.salesforce === 'Division')) return sObject;
  // Also when Division only flows to Salesforce: read as cleared, the sync would write it back
  // on every edit of the Task (one more API call, and a new SystemModstamp, per edit).
  const known = link.snapshot.salesforce.Division;
  return known === undefined ? sObject : { ...sObject, Division: known };
}

/** Applies one Task state from Salesforce (outbound message, or a read after undelete). */
export async function applySalesforceTask(deps: SyncDeps, message: RawRecord): Promise<void> {
  // Which Task fields the message's send-as user cannot read, as of now.
  await refreshTaskFieldAccess(deps);
  let sObject = message;
  const type = sObject.Custompms_Type__c;
  if (typeof type !== 'string' || type === '') {
    deps.logger.debug({ id: sObject.Id }, 'Task without Custompms_Type__c ignored');
    return;
  }
  const flow = flowOfType(deps, type);
  if (!flow || flow.salesforceObject !== 'Task') {
    deps.logger.warn({ id: sObject.Id, type }, 'unknown Custompms_Type__c');
    return;
  }
  const linked = await findLinkBySalesforceId(deps.pool, String(sObject.Id));
  sObject = await withDivision(deps, flow, sObject, linked?.link ?? null);
  // A field hidden from the message's send-as user is absent like an empty one: unknown, not cleared.
  const hidden = hiddenTaskFields(deps);
  const change =
    hidden.size > 0
      ? { ...salesforceChange(sObject), unknownWhenAbsent: [...hidden] }
      : salesforceChange(sObject);
  // A Task naming a Custompms record we have no link for (e.g. linked before a restore of the
  // store): plan against that record's current state so the two get linked, not duplicated.
  let counterpart: Change | null = null;
  const named = sObject.Custompms_Id__c;
  if (typeof named === 'string' && named !== '' && !linked) {
    // The sync's own create of this Task, its result not recorded yet: pairing now would compare
    // the user's edit with the Custompms record on times (and a Salesforce time is only to the
    // second). Retried once the result is stored, the edit meets the link instead.
    if (await inOutbox(deps.pool, flow.name, named))
      throw new TaskCreatePendingError(String(sObject.Id), named);
    counterpart = await custompmsCounterpart(deps, flow, named);
  }
  const outcome = await planAndApply(deps, flow, change, { counterpart, linked: linked ?? null });
  if (outcome.plan.kind === 'skip' && outcome.plan.reason === 'reread') {
    // Two edits within one SystemModstamp second, their messages in either order: the Task as it
    // is now decides.
    const current = await readTask(deps, String(sObject.Id));
    if (current?.record) {
      // Division as the message had it (the link's value): the read selects no Division either.
      const record = await withDivision(deps, flow, current.record, linked?.link ?? null);
      await planAndApply(deps, flow, { ...current, record, replay: true });
    }
  }
}

/**
 * `applySalesforceTask` for many Tasks (an outbound message's notifications): the linked ones in
 * sets per flow (jobs/apply-set.ts), the rest — and whatever the set pass leaves — one by one.
 * One settled outcome per message, in order.
 */
export async function applySalesforceTasks(
  deps: SyncDeps,
  messages: readonly RawRecord[],
): Promise<PromiseSettledResult<void>[]> {
  const outcomes: PromiseSettledResult<void>[] = messages.map(() => ({
    status: 'fulfilled',
    value: undefined,
  }));
  await refreshTaskFieldAccess(deps);
  const ids = messages.map((message) => String(message.Id));
  const times = new Map<string, number>();
  for (const id of ids) times.set(id, (times.get(id) ?? 0) + 1);
  const linked = await storedLinksBySalesforceIds(deps.pool, [...times.keys()]);
  const single: number[] = [];
  const sets = new Map<FlowDefinition, SalesforceSetItem<number>[]>();
  for (const [index, message] of messages.entries()) {
    const type = message.Custompms_Type__c;
    const flow = typeof type === 'string' && type !== '' ? flowOfType(deps, type) : undefined;
    const stored = linked.get(ids[index]!);
    // Twice in one message (two edits): in order, one by one.
    if (
      !flow ||
      flow.salesforceObject !== 'Task' ||
      !stored?.link.custompmsId ||
      times.get(ids[index]!)! > 1
    ) {
      single.push(index);
      continue;
    }
    const items = sets.get(flow) ?? [];
    items.push({ key: index, sObject: message, custompmsId: stored.link.custompmsId });
    sets.set(flow, items);
  }
  const hidden = hiddenTaskFields(deps);
  for (const [flow, items] of sets) {
    if (items.length === 1) {
      single.push(items[0]!.key);
      continue;
    }
    const left = await applySalesforceSet(deps, flow, items, (sObject, link) => {
      const withKnownDivision = divisionFromLink(flow, sObject, link);
      return hidden.size > 0
        ? { ...salesforceChange(withKnownDivision), unknownWhenAbsent: [...hidden] }
        : salesforceChange(withKnownDivision);
    }).catch((error: unknown) => {
      deps.logger.warn({ err: error, flow: flow.name, records: items.length }, 'set pass failed; one by one');
      return items.map((item) => item.key);
    });
    single.push(...left);
  }
  for (const index of single.sort((a, b) => a - b))
    outcomes[index] = await settle(applySalesforceTask(deps, messages[index]!));
  return outcomes;
}

/** The Task's current state as a change (`ALL ROWS`: it may be in the recycle bin). */
async function readTask(
  deps: SyncDeps,
  taskId: string,
  operation: Change['operation'] = 'upsert',
): Promise<Change | null> {
  // A field hidden from the integration user cannot be selected: it stays unknown, not cleared.
  await refreshTaskFieldAccess(deps);
  const hidden = hiddenTaskFields(deps);
  const salesforce = await deps.salesforce();
  const [record] = await salesforce.operations.queryAll<RawRecord>(
    `SELECT ${TASK_FIELDS.filter((field) => !hidden.has(field)).join(', ')} FROM Task WHERE Id = ${soqlString(taskId)}`,
    { includeDeleted: true },
  );
  return record ? { ...salesforceChange(record, operation), unknownWhenAbsent: [...hidden] } : null;
}

export interface DeletionEvent {
  taskId: string;
  custompmsId?: string | null;
  operation: 'delete' | 'undelete';
  /** Set by the `/deleted` poller: the configured org's own answer, already a confirmation. */
  confirmed?: boolean;
}

/** A Task deleted or restored in Salesforce. */
export async function applyTaskDeletion(deps: SyncDeps, event: DeletionEvent): Promise<void> {
  const stored = await findLinkBySalesforceId(deps.pool, event.taskId);
  if (!stored) {
    deps.logger.debug({ taskId: event.taskId }, 'delete of an unlinked Task ignored');
    return;
  }
  const flow = deps.definition[stored.link.flow];
  if (event.operation === 'delete') {
    // Posted by an org's Apex: applied only when the configured org has the Task deleted (a
    // refreshed sandbox carries production's Ids, and maybe its API key).
    if (!event.confirmed && !(await salesforceDeleteConfirmed(deps, event.taskId))) {
      deps.logger.warn({ taskId: event.taskId }, 'a Task deletion the configured org does not confirm');
      await recordProblemOnce(deps.pool, {
        flow: flow.name,
        custompmsId: stored.link.custompmsId,
        salesforceId: event.taskId,
        kind: 'warning',
        code: 'SALESFORCE_DELETE_UNCONFIRMED',
        message:
          'a Task deletion was reported, but the configured org has this Task and it is not deleted ' +
          '(a sandbox copy of production posting to this proxy?): not applied',
      });
      return;
    }
    await planAndApply(
      deps,
      flow,
      { side: 'salesforce', operation: 'delete', id: event.taskId },
      { linked: stored },
    );
    return;
  }
  // Undelete: read the restored record.
  const restored = await readTask(deps, event.taskId, 'undelete');
  if (restored) await planAndApply(deps, flow, restored, { linked: stored });
}
