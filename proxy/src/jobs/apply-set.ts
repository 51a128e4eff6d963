/**
 * Custompms → Salesforce in sets (#18): a batch of named Custompms records (a burst's webhooks, the
 * changes released when their project linked) read with one batch GET, then planned and put into
 * the outbox in one pass under one set lock: one link load, one sync context, one multi-row outbox
 * insert, instead of a lock, a read and a dozen queries per record.
 *
 * Only the common case takes the set pass: a record whose plan is a skip, a wait for a dependency,
 * or Salesforce creates/updates (which go to the outbox). Everything else (a journalled Custompms
 * write to fold in, an invalid record, a plan writing Custompms or deleting, a record Custompms no
 * longer has) goes the per-record way (`planAndApply`, `syncCustompmsRecord`), re-planned there
 * under the record's own lock: the set pass only ever shortens the way, never decides differently.
 */
import {
  applyWriteResult,
  planChange,
  type Change,
  type FlowDefinition,
  type Link,
  type Plan,
  type RawRecord,
  type Write,
} from '../sync';
import { MAX_BATCH_READ } from '../custompms/client';
import {
  addWaitingChanges,
  anyWaitingFor,
  countSendable,
  inOutboxMany,
  putOutboxItems,
  type OutboxItem,
} from '../store/batches';
import {
  journalBasis,
  journalCustompmsWrites,
  linksByCustompmsIds,
  setSalesforceStatus,
  storedLinksByCustompmsIds,
  storedLinksBySalesforceIds,
  type StoredLink,
} from '../store/links';
import { saveLinks, type LinkToSave } from '../store/links-bulk';
import { withAdvisoryLocks } from '../store/locks';
import { flowOfType, planAndApply } from './apply';
import { custompmsChange, syncCustompmsRecord } from './custompms-changes';
import type { SyncDeps } from './deps';
import { enqueueCustompmsSync, recordLockKey, releaseWaiting, scheduleFlush } from './enqueue';
import { refreshOrgMapping } from './org-mapping';
import { recordPlanFindings } from './plan-findings';
import { settle } from './settle';
import { buildSyncContext } from './sync-context';
import { observeWrites, type ObservedWrite } from './observe';
import { SYNCED, writeTaskStatus } from './task-status';
import { writeCustompms } from './write/custompms';
import { outboxItem } from './write/salesforce';

/** A Custompms record to sync: its type (`task`, …) and id. */
export interface NamedRecord {
  type: string;
  id: string;
}

/**
 * Syncs the named Custompms records, as `syncCustompmsRecord` does one by one; one settled
 * outcome per input, in order (a record named twice shares its outcome).
 */
export async function syncCustompmsRecords(
  deps: SyncDeps,
  records: readonly NamedRecord[],
): Promise<PromiseSettledResult<void>[]> {
  const outcomes = new Map<string, PromiseSettledResult<void>>();
  const byFlow = new Map<FlowDefinition, string[]>();
  for (const record of records) {
    const flow = flowOfType(deps, record.type);
    if (!flow) {
      deps.logger.warn({ type: record.type, id: record.id }, 'unknown Custompms record type');
      outcomes.set(`${record.type}:${record.id}`, { status: 'fulfilled', value: undefined });
      continue;
    }
    const ids = byFlow.get(flow) ?? [];
    if (!ids.includes(record.id)) ids.push(record.id);
    byFlow.set(flow, ids);
  }
  // Customers before projects before tasks: a task's project may link in the same pass.
  const order = ['customers', 'projects', 'tasks'];
  const flows = [...byFlow.keys()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  for (const flow of flows) {
    const ids = byFlow.get(flow)!;
    for (let start = 0; start < ids.length; start += MAX_BATCH_READ) {
      const part = ids.slice(start, start + MAX_BATCH_READ);
      for (const [id, outcome] of await syncFlowSet(deps, flow, part))
        outcomes.set(`${flow.custompmsType}:${id}`, outcome);
    }
  }
  return records.map((record) => {
    const flow = flowOfType(deps, record.type);
    const key = `${flow?.custompmsType ?? record.type}:${record.id}`;
    return outcomes.get(key) ?? { status: 'fulfilled', value: undefined };
  });
}

async function syncFlowSet(
  deps: SyncDeps,
  flow: FlowDefinition,
  ids: readonly string[],
): Promise<Map<string, PromiseSettledResult<void>>> {
  const outcomes = new Map<string, PromiseSettledResult<void>>();
  const one = async (id: string, change?: Change) =>
    outcomes.set(
      id,
      await settle(
        change
          ? planAndApply(deps, flow, change).then(() => undefined)
          : syncCustompmsRecord(deps, flow.custompmsType, id),
      ),
    );
  if (ids.length === 1) {
    await one(ids[0]!);
    return outcomes;
  }
  let changes: Change[];
  try {
    const records = await deps.custompms().getMany(flow.custompmsCollection, ids);
    changes = records.map((record) => custompmsChange(record));
  } catch (error) {
    // The batch read failed (Custompms down, an older Custompms without it): one by one, each
    // with its own error and retry.
    deps.logger.warn({ err: error, flow: flow.name, records: ids.length }, 'batch read failed; one by one');
    for (const id of ids) await one(id);
    return outcomes;
  }
  const read = new Set(changes.map((change) => change.id));
  let perRecord: Change[];
  try {
    perRecord = await planSet(deps, flow, changes);
    for (const change of changes) outcomes.set(change.id, { status: 'fulfilled', value: undefined });
  } catch (error) {
    // Nothing of the set pass is half-done in a way that matters (every step is idempotent and a
    // re-plan sees what was stored): each record goes its own way, with its own error.
    deps.logger.warn({ err: error, flow: flow.name, records: changes.length }, 'set pass failed; one by one');
    perRecord = changes;
  }
  for (const change of perRecord) await one(change.id, change);
  // Not in the batch read: deleted, or never there. The per-record read decides (its 404 confirms).
  for (const id of ids) if (!read.has(id)) await one(id);
  return outcomes;
}

/**
 * Plans the changes of one flow under one set lock and performs what the set pass covers;
 * returns the changes left for the per-record path (planned again there).
 */
export async function planSet(
  deps: SyncDeps,
  flow: FlowDefinition,
  changes: readonly Change[],
): Promise<Change[]> {
  if (changes.length === 0) return [];
  await refreshOrgMapping(deps);
  const salesforce = await deps.salesforce();
  const ids = changes.map((change) => change.id);
  const perRecord: Change[] = [];
  let queued = 0;
  let queuedIds: string[] = [];
  // The same locks the per-record path takes, all at once (sorted: never a cycle with another set).
  await withAdvisoryLocks(
    deps.pool,
    ids.map((id) => recordLockKey(flow.name, id)),
    async () => {
      const stored = await storedLinksByCustompmsIds(deps.pool, flow.name, ids);
      const context = await buildSyncContext(
        deps.pool,
        salesforce,
        changes.map((change) => change.record!),
        flow.name === 'customers' ? { customerIds: ids } : {},
      );
      const outbox: OutboxItem[] = [];
      const links: LinkToSave[] = [];
      const waits: { change: Change; plan: Extract<Plan, { kind: 'wait_for_dependency' }> }[] = [];
      for (const change of changes) {
        const found = stored.get(change.id);
        // A journalled Custompms write may be met here: the per-record path folds it in first.
        if (found && hasLiveJournal(found)) {
          perRecord.push(change);
          continue;
        }
        const plan = planChange({ flow, context, link: found?.link ?? null, change, counterpart: null });
        if (plan.kind === 'skip') {
          if (plan.link) links.push({ link: plan.link });
          continue;
        }
        if (plan.kind === 'wait_for_dependency') {
          if (plan.conflicts.length > 0 || plan.problems.length > 0)
            await recordPlanFindings(deps.pool, plan, { custompmsId: change.id, salesforceId: null });
          waits.push({ change, plan });
          continue;
        }
        if (plan.kind === 'invalid' || !plan.link) {
          perRecord.push(change);
          continue;
        }
        const toOutbox =
          plan.writes.length > 0 &&
          plan.writes.every((write) => write.side === 'salesforce' && write.action !== 'delete');
        if (!toOutbox) {
          perRecord.push(change);
          continue;
        }
        if (plan.conflicts.length > 0 || plan.problems.length > 0) {
          await recordPlanFindings(deps.pool, plan, {
            custompmsId: change.id,
            salesforceId: plan.link.salesforceId,
          });
        }
        // The link is stored when the batch's results come back (jobs/batches.ts).
        for (const write of plan.writes) outbox.push(outboxItem(flow, write, plan.link, plan));
      }
      await saveLinks(deps.pool, links);
      await putOutboxItems(deps.pool, outbox);
      queued = outbox.length;
      queuedIds = outbox.map((item) => item.custompmsId);
      await waitForDependenciesSet(deps, flow, waits);
    },
  );
  if (queued > 0) {
    // Flushed at once when waiting cannot help or costs the most: a full batch waits, or other
    // changes wait for these records to be linked. Else the adaptive wait lets a burst fill its
    // batches (and ends as soon as nothing more is on its way: gatherBurst).
    await scheduleFlush(deps, {
      changes: queued,
      full: (await countSendable(deps.pool)) >= deps.settings.batchSize,
      awaited: flow.name !== 'tasks' && (await anyWaitingFor(deps.pool, flow.name, queuedIds)),
    });
  }
  deps.logger.debug(
    { flow: flow.name, records: changes.length, queued, perRecord: perRecord.length },
    'planned as a set',
  );
  return perRecord;
}

/** `waitForDependencies` (apply.ts) for a set of changes: the same steps, one statement each. */
async function waitForDependenciesSet(
  deps: SyncDeps,
  flow: FlowDefinition,
  waits: readonly { change: Change; plan: Extract<Plan, { kind: 'wait_for_dependency' }> }[],
): Promise<void> {
  if (waits.length === 0) return;
  const rows: {
    flow: FlowDefinition['name'];
    custompmsId: string;
    waitsForFlow: 'customers' | 'projects';
    waitsForId: string;
  }[] = [];
  const dependencies = new Map<'customers' | 'projects', Set<string>>();
  for (const { change, plan } of waits) {
    for (const missing of plan.missing) {
      const dependency =
        missing.kind === 'customer_division'
          ? { flow: 'customers' as const, id: missing.customerId }
          : missing.kind === 'project'
            ? { flow: 'projects' as const, id: missing.projectId }
            : null;
      if (!dependency) continue;
      rows.push({
        flow: flow.name,
        custompmsId: change.id,
        waitsForFlow: dependency.flow,
        waitsForId: dependency.id,
      });
      const set = dependencies.get(dependency.flow) ?? new Set<string>();
      set.add(dependency.id);
      dependencies.set(dependency.flow, set);
    }
  }
  await addWaitingChanges(deps.pool, rows);
  // A dependency never synced yet is synced now, unless its write is in the outbox already.
  for (const [dependencyFlow, idSet] of dependencies) {
    const ids = [...idSet];
    const pending = await inOutboxMany(deps.pool, dependencyFlow, ids);
    for (const id of ids) {
      if (!pending.has(id))
        await enqueueCustompmsSync(deps, deps.definition[dependencyFlow].custompmsType, id);
    }
  }
  // Linked between our plans and our waiting rows (its release ran before the rows existed):
  // released now, so nothing waits for something already there.
  for (const [dependencyFlow, idSet] of dependencies) {
    const linked = (await linksByCustompmsIds(deps.pool, dependencyFlow, [...idSet]))
      .filter((link) => link.custompmsId && link.salesforceId && link.status === 'active')
      .map((link) => link.custompmsId!);
    if (linked.length > 0) await releaseWaiting(deps, deps.definition[dependencyFlow], linked);
  }
  deps.logger.info({ flow: flow.name, records: waits.length }, 'waiting for a dependency');
}

/** Whether a stored link's journal holds a Custompms write planned on its current versions. */
export function hasLiveJournal(stored: StoredLink): boolean {
  const basis = journalBasis(stored.link);
  return stored.custompmsWrites.some(
    (entry) => entry.basis.custompms === basis.custompms && entry.basis.salesforce === basis.salesforce,
  );
}

/** A linked Task's state from Salesforce, for the set pass. */
export interface SalesforceSetItem<K> {
  key: K;
  /** The Task as the message carries it. */
  sObject: RawRecord;
  /** The Custompms id its link named when read (the lock's key). */
  custompmsId: string;
}

/**
 * Salesforce → Custompms in a set (an outbound message's notifications): one lock, link load and
 * context for all, every Custompms update journalled in one statement before any is sent, the
 * updates sent side by side (the client's concurrency limit), the links and history stored in
 * one statement each. Returns the keys left for the per-record path (`applySalesforceTask`):
 * anything but a plain update of Custompms or a skip, and every write that failed (a 409 is
 * re-planned there against the current record, as it always is).
 */
export async function applySalesforceSet<K>(
  deps: SyncDeps,
  flow: FlowDefinition,
  items: readonly SalesforceSetItem<K>[],
  toChange: (sObject: RawRecord, link: Link) => Change,
): Promise<K[]> {
  if (items.length === 0) return [];
  await refreshOrgMapping(deps);
  const salesforce = await deps.salesforce();
  const perRecord: K[] = [];
  const written: { custompmsId: string; salesforceId: string; status: string | null }[] = [];
  await withAdvisoryLocks(
    deps.pool,
    items.map((item) => recordLockKey(flow.name, item.custompmsId)),
    async () => {
      const stored = await storedLinksBySalesforceIds(
        deps.pool,
        items.map((item) => String(item.sObject.Id)),
      );
      const ready: { item: SalesforceSetItem<K>; stored: StoredLink; change: Change }[] = [];
      for (const item of items) {
        const found = stored.get(String(item.sObject.Id));
        // Relinked meanwhile, or a Custompms write to fold in first: the per-record path.
        if (
          !found ||
          found.link.flow !== flow.name ||
          found.link.custompmsId !== item.custompmsId ||
          hasLiveJournal(found)
        ) {
          perRecord.push(item.key);
          continue;
        }
        ready.push({ item, stored: found, change: toChange(item.sObject, found.link) });
      }
      const context = await buildSyncContext(
        deps.pool,
        salesforce,
        ready.map(({ change }) => change.record!),
      );
      const links: LinkToSave[] = [];
      const writes: { key: K; stored: StoredLink; plan: Plan & { link: Link }; write: Write }[] = [];
      for (const { item, stored: found, change } of ready) {
        const plan = planChange({ flow, context, link: found.link, change, counterpart: null });
        if (plan.kind === 'skip' && plan.reason !== 'reread') {
          if (plan.link) links.push({ link: plan.link });
          continue;
        }
        const write = plan.writes[0];
        if (
          plan.kind === 'skip' ||
          plan.kind === 'invalid' ||
          plan.kind === 'wait_for_dependency' ||
          !plan.link ||
          plan.writes.length !== 1 ||
          write?.side !== 'custompms' ||
          write.action !== 'update'
        ) {
          perRecord.push(item.key);
          continue;
        }
        if (plan.conflicts.length > 0 || plan.problems.length > 0)
          await recordPlanFindings(deps.pool, plan, {
            custompmsId: item.custompmsId,
            salesforceId: String(item.sObject.Id),
          });
        writes.push({ key: item.key, stored: found, plan: plan as Plan & { link: Link }, write });
      }
      // Journalled first, all of them: a write whose answer is lost is still known as ours.
      await journalCustompmsWrites(
        deps.pool,
        writes.map(({ stored: found, plan, write }) => ({
          stored: found,
          entry: { basis: journalBasis(found.link), link: plan.link, write },
        })),
      );
      const results = await Promise.all(
        writes.map(({ plan, write }) => Promise.allSettled([writeCustompms(deps, flow, write, plan.link)])),
      );
      const observed: ObservedWrite[] = [];
      for (const [index, { key, stored: found, plan, write }] of writes.entries()) {
        const [result] = results[index]!;
        if (result.status === 'rejected') {
          perRecord.push(key);
          continue;
        }
        const { link } = applyWriteResult(flow, context, plan.link, write, {
          ...result.value,
          conditional: true,
        });
        links.push({ link });
        observed.push({
          side: 'custompms',
          flow: flow.name,
          outcome: 'ok',
          custompmsId: link.custompmsId,
          salesforceId: link.salesforceId,
          link,
          fields: write.fields ? Object.keys(write.fields) : undefined,
        });
        written.push({
          custompmsId: link.custompmsId!,
          salesforceId: link.salesforceId!,
          status: found.salesforceStatus,
        });
      }
      await saveLinks(deps.pool, links);
      await observeWrites(deps, deps.pool, observed);
    },
  );
  // As the per-record path: the sync status on a Task that did not show Synced (after the links).
  if (flow.salesforceObject === 'Task') {
    for (const { salesforceId, status } of written) {
      if (status === SYNCED) continue;
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
  if (written.length > 0)
    await releaseWaiting(
      deps,
      flow,
      written.map((entry) => entry.custompmsId),
    );
  deps.logger.debug(
    { flow: flow.name, records: items.length, written: written.length, perRecord: perRecord.length },
    'Salesforce changes applied as a set',
  );
  return perRecord;
}
