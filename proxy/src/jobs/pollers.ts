/**
 * Safety-net pollers (graphile-worker cron, one runner at a time across processes via the
 * `pollers` queue). Each keeps a watermark and re-reads an overlap window behind it, so a change
 * committed late at a window edge is still seen; the planner drops what was already applied.
 */
import type { RawRecord } from '../sync';
import { insertInboxMessages } from '../store/inbox';
import { findLinkBySalesforceId } from '../store/links';
import { getApiUsage, saveApiUsage } from '../store/api-usage';
import { getWatermark, setWatermark } from '../store/watermarks';
import { soqlDateTime, soqlString } from '../salesforce/operations';
import { apiBudget, pollerDue, SALESFORCE_POLLERS } from './api-budget';
import { planAndApply } from './apply';
import type { SyncDeps } from './deps';
import { enqueueCustompmsSync, POLLED_PRIORITY } from './enqueue';
import { applySalesforceTask, TASK_FIELDS } from './salesforce-changes';
import { salesforceChange } from './salesforce-changes';
import { hiddenTaskFields, refreshTaskFieldAccess } from './task-field-access';
import type { TaskName } from './task-names';

const EPOCH = '1970-01-01T00:00:00.000Z';

function behind(iso: string, ms: number): Date {
  return new Date(Math.max(0, new Date(iso).getTime() - ms));
}

/**
 * Custompms `updated_since` and tombstones: catches every webhook that was lost. Every record
 * listed is synced again (the planner drops what was already applied; a link's version alone does
 * not prove its write reached Salesforce), in the background (`POLLED_PRIORITY`): after a burst
 * the window lists every record of it, and a job each must not hold back the live changes.
 */
export async function pollCustompms(deps: SyncDeps): Promise<number> {
  const client = deps.custompms();
  let seen = 0;
  for (const flow of Object.values(deps.definition)) {
    const name = `custompms.${flow.custompmsCollection}.updated_at`;
    const watermark = (await getWatermark(deps.pool, name)) ?? EPOCH;
    let latest = watermark;
    for await (const record of client.list(flow.custompmsCollection, {
      updatedSince: behind(watermark, deps.settings.pollOverlapMs),
    })) {
      const updatedAt = (record as { updated_at: string }).updated_at;
      await enqueueCustompmsSync(deps, flow.custompmsType, record.id, 0, POLLED_PRIORITY);
      if (updatedAt > latest) latest = updatedAt;
      seen++;
    }
    if (latest !== watermark) await setWatermark(deps.pool, name, latest);
  }
  const tombstoneMark = (await getWatermark(deps.pool, 'custompms.deleted_at')) ?? EPOCH;
  let latestTombstone = tombstoneMark;
  for await (const tombstone of client.listDeleted({
    since: behind(tombstoneMark, deps.settings.pollOverlapMs),
  })) {
    const flow = Object.values(deps.definition).find(
      (candidate) => candidate.custompmsType === tombstone.type,
    );
    if (flow) await enqueueCustompmsSync(deps, flow.custompmsType, tombstone.id, 0, POLLED_PRIORITY);
    if (tombstone.deleted_at > latestTombstone) latestTombstone = tombstone.deleted_at;
    seen++;
  }
  if (latestTombstone !== tombstoneMark)
    await setWatermark(deps.pool, 'custompms.deleted_at', latestTombstone);
  return seen;
}

/** Divisions have no triggers or outbound messages: poll them on SystemModstamp. */
export async function pollDivisions(deps: SyncDeps): Promise<number> {
  const salesforce = await deps.salesforce();
  if (!(await salesforce.org.hasDivisions())) return 0;
  const name = 'salesforce.divisions.modstamp';
  const watermark = (await getWatermark(deps.pool, name)) ?? EPOCH;
  const since = behind(watermark, deps.settings.pollOverlapMs);
  const flow = deps.definition.customers;
  let latest = watermark;
  let seen = 0;
  for await (const division of salesforce.operations.query<RawRecord & { SystemModstamp: string }>(
    // Not the proxy's own writes, as for Tasks: read before their results are recorded, our own
    // Division rename would look like a user's and go back over a newer Custompms rename.
    `SELECT Id, Name, IsActive, SystemModstamp, LastModifiedDate, LastModifiedById FROM Division ` +
      `WHERE SystemModstamp > ${soqlDateTime(since)} ` +
      `AND LastModifiedById != ${soqlString(salesforce.integrationUserId)} ORDER BY SystemModstamp, Id`,
  )) {
    await planAndApply(deps, flow, salesforceChange(division));
    const stamp = new Date(division.SystemModstamp).toISOString();
    if (stamp > latest) latest = stamp;
    seen++;
  }
  if (latest !== watermark) await setWatermark(deps.pool, name, latest);
  await recordApiUsage(deps);
  return seen;
}

/**
 * Task edits on SystemModstamp (`queryAll`, so deletes in the window are seen too): the safety net
 * for outbound messages Salesforce gave up on (its retries end after 24 h: a proxy outage, an
 * inactive Flow, a 413). One query when nothing changed; each Task found goes through the same
 * path as its outbound message, and the planner drops what was already applied.
 */
export async function pollTasks(deps: SyncDeps): Promise<number> {
  const salesforce = await deps.salesforce();
  await refreshTaskFieldAccess(deps);
  const hidden = hiddenTaskFields(deps);
  const name = 'salesforce.tasks.modstamp';
  const stored = await getWatermark(deps.pool, name);
  // First run: from an overlap window back (the backfill links what existed before).
  const since = behind(stored ?? deps.now().toISOString(), deps.settings.pollOverlapMs);
  let latest = stored ?? deps.now().toISOString();
  let seen = 0;
  const fields = [...TASK_FIELDS.filter((field) => !hidden.has(field)), 'IsDeleted'];
  for await (const row of salesforce.operations.query<
    RawRecord & { SystemModstamp: string; IsDeleted: boolean }
  >(
    // Edits, not the proxy's own writes (the integration user's): like the outbound message, which
    // the bypass permission suppresses for them. Their effect is recorded from the write's results;
    // read here before those are recorded, our own write would look like a user's edit. Deleted
    // rows all count (a delete keeps the last editor).
    `SELECT ${fields.join(', ')} FROM Task WHERE SystemModstamp > ${soqlDateTime(since)} ` +
      `AND Custompms_Type__c != null ` +
      `AND (IsDeleted = true OR LastModifiedById != ${soqlString(salesforce.integrationUserId)}) ` +
      `ORDER BY SystemModstamp, Id`,
    { includeDeleted: true },
  )) {
    const stamp = new Date(row.SystemModstamp).toISOString();
    if (stamp > latest) latest = stamp;
    seen++;
    if (row.IsDeleted) {
      const linked = await findLinkBySalesforceId(deps.pool, String(row.Id));
      if (!linked || linked.link.salesforce.deleted) continue;
      await insertInboxMessages(deps.pool, [
        {
          source: 'salesforce.deletion',
          dedupeKey: `poll:${String(row.Id)}:${stamp}`,
          recordKey: `sf:${String(row.Id)}`,
          // Read from the configured org as deleted: confirmed.
          payload: {
            taskId: row.Id,
            custompmsId: linked.link.custompmsId,
            operation: 'delete',
            confirmed: true,
          },
        },
      ]);
      continue;
    }
    const { IsDeleted: _deleted, ...task } = row;
    await applySalesforceTask(deps, task);
  }
  if (latest !== stored) await setWatermark(deps.pool, name, latest);
  await recordApiUsage(deps);
  return seen;
}

/** Deleted Tasks the Apex trigger path did not report (`/sobjects/Task/deleted`, ≤30 days back). */
export async function pollDeletedTasks(deps: SyncDeps): Promise<number> {
  const salesforce = await deps.salesforce();
  const name = 'salesforce.tasks.deleted';
  const now = deps.now();
  const floor = new Date(now.getTime() - 29 * 24 * 3600_000);
  const stored = await getWatermark(deps.pool, name);
  const start = stored
    ? new Date(Math.max(floor.getTime(), behind(stored, deps.settings.pollOverlapMs).getTime()))
    : floor;
  const { records, latestDateCovered } = await salesforce.operations.deleted('Task', start, now);
  let seen = 0;
  for (const record of records) {
    const linked = await findLinkBySalesforceId(deps.pool, record.id);
    if (!linked || linked.link.salesforce.deleted) continue;
    await insertInboxMessages(deps.pool, [
      {
        source: 'salesforce.deletion',
        dedupeKey: `poll:${record.id}:${record.deletedDate}`,
        recordKey: `sf:${record.id}`,
        // The configured org's own `/deleted` answer: a confirmed delete.
        payload: {
          taskId: record.id,
          custompmsId: linked.link.custompmsId,
          operation: 'delete',
          confirmed: true,
        },
      },
    ]);
    seen++;
  }
  if (latestDateCovered) await setWatermark(deps.pool, name, new Date(latestDateCovered).toISOString());
  await recordApiUsage(deps);
  return seen;
}

/** Share of the daily allowance above which every poll warns. */
const API_USAGE_WARNING = 0.8;

/**
 * Stores the daily API usage from the last `Sforce-Limit-Info` header this process saw, so every
 * process (and the admin API) can see it; warns when the org's allowance is running out.
 */
export async function recordApiUsage(deps: SyncDeps): Promise<void> {
  const salesforce = await deps.salesforce();
  const usage = salesforce.client.apiUsage();
  if (!usage) return;
  await saveApiUsage(
    deps.pool,
    { used: usage.used, limit: usage.limit, at: deps.now().toISOString() },
    deps.settings.apiBudgetPercent,
  );
  if (usage.limit > 0 && usage.used / usage.limit >= API_USAGE_WARNING) {
    deps.logger.warn(usage, 'the org has used most of its daily API allowance');
  }
}

/**
 * Whether a poller runs now under the API budget (jobs/api-budget.ts): only the Salesforce pollers
 * are held back (tight: every 5th slot, spent: every 30 min), counted from their last run in
 * `poller_health`. A run held back is logged at debug and recorded nowhere: it is no failure.
 */
export async function apiBudgetAllows(
  deps: Pick<SyncDeps, 'pool' | 'logger' | 'settings' | 'now'>,
  poller: TaskName,
): Promise<boolean> {
  if (!SALESFORCE_POLLERS.has(poller)) return true;
  const budget = apiBudget(await getApiUsage(deps.pool), deps.settings.apiBudgetPercent);
  if (budget.state === 'ok') return true;
  const last = await deps.pool.query<{ last_run_at: Date | null }>(
    'SELECT last_run_at FROM poller_health WHERE poller = $1',
    [poller],
  );
  if (pollerDue(budget.state, last.rows[0]?.last_run_at, deps.now(), deps.settings.pollIntervalMs))
    return true;
  deps.logger.debug(
    { poller, state: budget.state, used: budget.used, share: budget.share },
    'poll deferred: the API budget is running out',
  );
  return false;
}
