/**
 * Turning plans into writes. The sync core decides; this module performs: Custompms writes now
 * (create with the Salesforce Id as idempotency key, update with If-Match, 409 → re-plan with the
 * current record as counterpart), Salesforce creates/updates through the outbox (a batch the
 * org pulls, or a direct Collections upsert), Salesforce deletes directly. The link is stored
 * only after every write succeeded.
 */
import {
  applyWriteResult,
  isOwnCustompmsWrite,
  planChange,
  type Change,
  type FlowDefinition,
  type Link,
  type Plan,
  type RawRecord,
  type SyncContext,
  type Write,
} from '../sync';
import {
  CustompmsConflictError,
  CustompmsNotFoundError,
  CustompmsValidationError,
} from '../custompms/errors';
import { addWaitingChange, inOutbox, putOutboxItem, type OutboxItem } from '../store/batches';
import {
  findLink,
  findLinkBySalesforceId,
  journalBasis,
  journalCustompmsWrite,
  linksByCustompmsIds,
  saveLink,
  setSalesforceStatus,
  type StoredLink,
} from '../store/links';
import { withAdvisoryLock } from '../store/locks';
import { recordProblem } from '../store/problems';
import { countDelete } from './delete-safety';
import type { SyncDeps } from './deps';
import { enqueueCustompmsSync, recordLockKey, releaseWaiting, scheduleFlush } from './enqueue';
import { refreshOrgMapping } from './org-mapping';
import { observeWrite } from './observe';
import { recordPlanFindings } from './plan-findings';
import { buildSyncContext } from './sync-context';
import { ERROR, SYNCED, writeTaskStatus } from './task-status';
import { writeCustompms } from './write/custompms';
import { outboxItem } from './write/salesforce';

export function flowOfType(deps: SyncDeps, type: string): FlowDefinition | undefined {
  return Object.values(deps.definition).find(
    (flow) => flow.custompmsType === type || flow.salesforceType === type,
  );
}

export interface ApplyOutcome {
  plan: Plan;
  link: Link | null;
}

/**
 * Plans a change and performs it. `counterpart` is the other side's state when known. Returns
 * the final plan (after any 409 re-plan) and the link stored.
 *
 * Planning and writing hold a lock on the record: a plan made from a link that the recording of
 * a batch's results is about to change would write again what was just written (a second
 * Division: Division has no external id to upsert on).
 */
export async function planAndApply(
  deps: SyncDeps,
  flow: FlowDefinition,
  change: Change,
  options: {
    counterpart?: Change | null;
    /** A Salesforce change's link, when the caller has just read it (saves reading it again). */
    linked?: StoredLink | null;
  } = {},
): Promise<ApplyOutcome> {
  await refreshOrgMapping(deps);
  let custompmsId = change.side === 'custompms' ? change.id : null;
  if (custompmsId === null) {
    const stored =
      options.linked !== undefined ? options.linked : await findLinkBySalesforceId(deps.pool, change.id);
    custompmsId = stored?.link.custompmsId ?? null;
  }
  const key =
    custompmsId === null ? `sync:${flow.name}:sf:${change.id}` : recordLockKey(flow.name, custompmsId);
  return withAdvisoryLock(deps.pool, key, () => planAndApplyLocked(deps, flow, change, options));
}

async function planAndApplyLocked(
  deps: SyncDeps,
  flow: FlowDefinition,
  change: Change,
  options: { counterpart?: Change | null; attempt?: number } = {},
): Promise<ApplyOutcome> {
  const salesforce = await deps.salesforce();
  let stored: StoredLink | undefined = await findLink(deps.pool, {
    flow: flow.name,
    custompmsId: change.side === 'custompms' ? change.id : null,
    salesforceId: change.side === 'salesforce' ? change.id : null,
  });
  const records = [change.record, options.counterpart?.record].filter(
    (record): record is RawRecord => !!record,
  );
  const context = await buildSyncContext(deps.pool, salesforce, records, {
    ...(flow.name === 'customers' && change.side === 'custompms' ? { customerIds: [change.id] } : {}),
    ...(flow.name === 'customers' && change.side === 'salesforce' ? { divisionIds: [change.id] } : {}),
  });
  const custompmsRecord = change.side === 'custompms' ? change.record : options.counterpart?.record;
  const folded = await foldOwnCustompmsWrite(deps, flow, context, stored, custompmsRecord);
  // Stored now: a write made from here is journalled on the folded link's versions.
  if (folded && stored) stored = { ...stored, link: folded, custompmsWrites: [] };
  const link = stored?.link ?? null;
  const plan = planChange({ flow, context, link, change, counterpart: options.counterpart ?? null });
  const ids = {
    custompmsId: change.side === 'custompms' ? change.id : (link?.custompmsId ?? null),
    salesforceId: change.side === 'salesforce' ? change.id : (link?.salesforceId ?? null),
  };
  deps.logger.debug({ flow: flow.name, side: change.side, id: change.id, kind: plan.kind }, 'planned');

  if (plan.kind === 'skip') {
    if (plan.link) await saveLink(deps.pool, plan.link);
    return { plan, link: plan.link };
  }
  await recordPlanFindings(deps.pool, plan, ids);
  if (plan.kind === 'invalid') {
    deps.logger.warn({ flow: flow.name, id: change.id, problems: plan.problems }, 'change not applied');
    if (ids.salesforceId && flow.salesforceObject === 'Task') {
      await writeTaskStatus(
        deps,
        ids.salesforceId,
        ERROR,
        plan.problems.map((problem) => problem.message).join('; '),
      );
    }
    return { plan, link };
  }
  if (plan.kind === 'wait_for_dependency') {
    await waitForDependencies(deps, flow, change, plan);
    return { plan, link };
  }
  if (!plan.link) return { plan, link };

  try {
    const next = await performWrites(deps, flow, context, plan, plan.link, stored);
    return { plan, link: next };
  } catch (error) {
    // The other side moved on since we planned: merge with its current state and try again.
    if (error instanceof CustompmsConflictError && (options.attempt ?? 0) < 3) {
      const current = error.current as unknown as RawRecord & {
        id: string;
        version: number;
        updated_at: string;
      };
      return planAndApplyLocked(deps, flow, change, {
        attempt: (options.attempt ?? 0) + 1,
        counterpart: {
          side: 'custompms',
          operation: 'upsert',
          id: current.id,
          version: current.version,
          modifiedAt: current.updated_at,
          record: current,
        },
      });
    }
    // The Custompms record was deleted since we planned (an update answered 404): the record's own
    // sync decides, confirming the delete first, instead of this change retrying for hours.
    if (error instanceof CustompmsNotFoundError && change.side === 'salesforce' && ids.custompmsId) {
      await enqueueCustompmsSync(deps, flow.custompmsType, ids.custompmsId);
      deps.logger.info(
        { flow: flow.name, custompmsId: ids.custompmsId },
        'the Custompms record is gone; its own sync decides',
      );
      return { plan, link };
    }
    if (error instanceof CustompmsValidationError) {
      // Custompms refused the values: retrying cannot help. The admin sees why (problem list,
      // and the Task's sync status); the record's next edit tries again.
      const details = error.errors.map((entry) => `${entry.pointer}: ${entry.detail}`).join('; ');
      const message = `Custompms refused the record: ${details || error.message}`;
      await recordProblem(deps.pool, { flow: flow.name, ...ids, kind: 'error', code: error.code, message });
      await observeWrite(deps, deps.pool, {
        side: 'custompms',
        flow: flow.name,
        outcome: 'refused',
        custompmsId: ids.custompmsId ?? null,
        salesforceId: ids.salesforceId ?? null,
        code: error.code,
        detail: message,
      });
      if (ids.salesforceId && flow.salesforceObject === 'Task')
        await writeTaskStatus(deps, ids.salesforceId, ERROR, message);
      return { plan, link };
    }
    throw error;
  }
}

async function waitForDependencies(
  deps: SyncDeps,
  flow: FlowDefinition,
  change: Change,
  plan: Extract<Plan, { kind: 'wait_for_dependency' }>,
) {
  const custompmsId = change.side === 'custompms' ? change.id : null;
  const dependencies = plan.missing.flatMap((missing): { flow: 'customers' | 'projects'; id: string }[] =>
    missing.kind === 'customer_division'
      ? [{ flow: 'customers', id: missing.customerId }]
      : missing.kind === 'project'
        ? [{ flow: 'projects', id: missing.projectId }]
        : [],
  );
  for (const dependency of dependencies) {
    if (custompmsId) {
      await addWaitingChange(deps.pool, {
        flow: flow.name,
        custompmsId,
        waitsForFlow: dependency.flow,
        waitsForId: dependency.id,
      });
    }
    // The dependency may simply never have been synced yet: sync it now — unless its write is in
    // the outbox already (a burst's tasks all wait for their project's one pending write).
    if (!(await inOutbox(deps.pool, dependency.flow, dependency.id)))
      await enqueueCustompmsSync(deps, deps.definition[dependency.flow].custompmsType, dependency.id);
  }
  // The dependency may have been linked between our plan and our waiting row (its release ran
  // before the row existed): check again, so no change waits for something already there.
  for (const dependency of dependencies) {
    const [linked] = await linksByCustompmsIds(deps.pool, dependency.flow, [dependency.id]);
    if (linked?.salesforceId && linked.status === 'active') {
      await releaseWaiting(deps, deps.definition[dependency.flow], dependency.id);
    }
  }
  deps.logger.info({ flow: flow.name, id: change.id, missing: plan.missing }, 'waiting for a dependency');
}

/**
 * A Custompms update this sync sent but never stored the answer of (the process died, the answer
 * was lost), met again as `record`: folded into the link the writer would have stored, and stored.
 * Without this, the write looks like a newer Custompms edit, and a conflict rule could let it
 * undo the user's later Salesforce edit.
 */
async function foldOwnCustompmsWrite(
  deps: SyncDeps,
  flow: FlowDefinition,
  context: SyncContext,
  stored: StoredLink | undefined,
  record: RawRecord | null | undefined,
): Promise<Link | null> {
  if (!stored || !record || stored.custompmsWrites.length === 0) return null;
  const basis = journalBasis(stored.link);
  const entry = stored.custompmsWrites.find(
    (candidate) =>
      candidate.basis.custompms === basis.custompms &&
      candidate.basis.salesforce === basis.salesforce &&
      isOwnCustompmsWrite(flow, candidate.write, record),
  );
  if (!entry) return null;
  const { link } = applyWriteResult(flow, context, entry.link, entry.write, {
    version: record['version'] as number,
    record,
    conditional: true,
  });
  await saveLink(deps.pool, link);
  deps.logger.info(
    { flow: flow.name, custompmsId: link.custompmsId, version: link.custompms.version },
    'a Custompms write whose answer was lost is recorded as the sync’s own',
  );
  return link;
}

async function performWrites(
  deps: SyncDeps,
  flow: FlowDefinition,
  context: SyncContext,
  plan: Plan,
  initial: Link,
  stored: StoredLink | undefined,
): Promise<Link> {
  const salesforceStatus = stored?.salesforceStatus ?? null;
  let link = initial;
  const queue: Write[] = [...plan.writes];
  const deferred: OutboxItem[] = [];
  let statusToWrite: Record<string, unknown> | null = null;
  // The link with the Custompms writes folded in, before the Salesforce follow-ups.
  let recorded: Link | null = null;
  while (queue.length > 0) {
    const write = queue.shift()!;
    if (write.side === 'custompms') {
      if (write.action === 'delete') await countDelete(deps, 'custompms', flow, write.id!);
      // Journalled first: if its answer is lost, the write is still known as ours when met again.
      if (write.action === 'update' && stored)
        await journalCustompmsWrite(deps.pool, stored, { basis: journalBasis(stored.link), link, write });
      const result = await writeCustompms(deps, flow, write, link);
      // Creates and If-Match updates cannot mix with edits the sync has not seen: the version
      // they produced is ours, and its webhook a duplicate.
      const folded = applyWriteResult(flow, context, link, write, { ...result, conditional: true });
      link = folded.link;
      await observeWrite(deps, deps.pool, {
        side: 'custompms',
        flow: flow.name,
        outcome: 'ok',
        custompmsId: link.custompmsId,
        salesforceId: link.salesforceId,
        link,
        fields: write.fields ? Object.keys(write.fields) : undefined,
        detail: write.action === 'update' ? undefined : write.action,
      });
      queue.push(...folded.followUps);
      continue;
    }
    // Salesforce side.
    if (write.action === 'delete') {
      await countDelete(deps, 'salesforce', flow, write.id!);
      const salesforce = await deps.salesforce();
      const [result] = await salesforce.operations.destroy(flow.salesforceObject, [write.id!]);
      const gone =
        result?.success || result?.errors.some((error) => error.statusCode === 'ENTITY_IS_DELETED');
      if (!gone)
        throw new Error(`Salesforce delete of ${write.id} failed: ${JSON.stringify(result?.errors)}`);
      link = applyWriteResult(flow, context, link, write, {}).link;
      continue;
    }
    if (write.id !== null && plan.source === 'salesforce') {
      // A follow-up on the record that just changed in Salesforce (e.g. Custompms_Id__c after a
      // create): write it directly, with the sync status, in one call.
      recorded ??= link;
      statusToWrite = { ...(statusToWrite ?? {}), ...write.fields };
      link = applyWriteResult(flow, context, link, write, {}).link;
      continue;
    }
    deferred.push(outboxItem(flow, write, link, plan));
  }

  if (deferred.length > 0) {
    // Salesforce writes from Custompms changes go out in batches; the link is stored when the
    // batch's results come back (jobs/batches.ts), so nothing is recorded as synced early.
    for (const item of deferred) await putOutboxItem(deps.pool, item);
    await scheduleFlush(deps);
    return link;
  }

  const salesforceId = link.salesforceId;
  const isTask = flow.salesforceObject === 'Task' && salesforceId !== null;
  if (isTask && statusToWrite !== null) {
    // The Custompms writes are recorded before the Salesforce call that may fail: a retry would
    // otherwise take our own Custompms write for someone else's edit. Not after a create: the
    // Task's Custompms id must be written before anything is stored, so a failure retries it.
    const idField = flow.fields.find((field) => field.enabled && field.kind === 'id');
    if (recorded && !(idField && Object.hasOwn(statusToWrite, idField.salesforce)))
      await saveLink(deps.pool, recorded);
    await writeTaskStatus(deps, salesforceId, SYNCED, null, statusToWrite);
    await saveLink(deps.pool, link, SYNCED);
  } else {
    // The writes that matter are done: the link is stored first. A failure of the status write
    // after them must not leave them unrecorded — a retry would take our own Custompms write
    // for someone else's edit, and a conflict could undo the change it carried.
    await saveLink(deps.pool, link);
    if (isTask && salesforceStatus !== SYNCED) {
      await writeTaskStatus(deps, salesforceId, SYNCED, null).then(
        () => setSalesforceStatus(deps.pool, salesforceId, SYNCED),
        (error: unknown) =>
          deps.logger.warn(
            { err: error, salesforceId },
            'sync status not written on the Task; the next sync writes it',
          ),
      );
    }
  }
  if (link.custompmsId) await releaseWaiting(deps, flow, link.custompmsId);
  return link;
}
