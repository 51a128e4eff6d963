/**
 * What an operator can see and do, once: the console's pages and the admin API's JSON call these
 * same functions, so a script can do everything the console does. Reads come from the store;
 * actions (replay, resolve, resync, apply a conflict's other value) are written to the audit log
 * with who did them.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { enqueueCustompmsSync } from '../jobs/enqueue';
import { replayDeadLetter, type ReplayOutcome } from '../jobs/replay';
import { histogramQuantile, LAG_BUCKETS, SERIES, parseLabels } from '../metrics';
import { apiBudget, DEFAULT_API_BUDGET_PERCENT, type ApiBudget } from '../jobs/api-budget';
import { getApiBudgetPercent, getApiUsage, type ApiUsage } from '../store/api-usage';
import { recordAudit } from '../store/audit';
import { getEffectiveMapping } from '../store/effective-mapping';
import {
  conflictById,
  linkById,
  markConflictOtherApplied,
  openProblemCounts,
  queueHealth,
  type ConflictRow,
  type QueueHealth,
} from '../store/console-queries';
import { recordHistory } from '../store/link-history';
import { linkSummary } from '../store/links';
import { listPollerHealth, readCounterMinutes, type PollerHealth } from '../store/metric-rollup';
import { getProblem, resolveProblem } from '../store/problems';
import { FLOW_NAMES, FLOWS, type FlowName, type SyncDefinition } from '../sync';

export interface OperationsDeps {
  pool: pg.Pool;
  logger: Logger;
  /** The effective mapping (with the org's Setup overrides, when the caller has them). */
  definition?: () => SyncDefinition;
  /** Flushes this process's pending counters before a read (see metrics-flush.ts). */
  flushMetrics?: () => Promise<void>;
  /** SALESFORCE_API_BUDGET_PERCENT, for the status before a worker stored the one it applies. */
  apiBudgetPercent?: number;
}

/** Who acted, for the audit log: a console user or an admin key. */
export interface Actor {
  /** `console:<username>` or `key:<fingerprint>`. */
  actor: string;
  actorLabel?: string | null;
  ip?: string | null;
}

const definitionOf = (deps: OperationsDeps): SyncDefinition => deps.definition?.() ?? FLOWS;

/** Per-minute series of one chart: timestamps (seconds) and one array per line. */
export interface ChartSeries {
  /** Unix seconds, one per minute, oldest first. */
  minutes: number[];
  lines: Record<string, (number | null)[]>;
}

export interface FlowOverview {
  flow: FlowName;
  links: { active: number; deleted: number; unlinked: number };
  openProblems: Record<string, number>;
  changes: ChartSeries;
  lag: ChartSeries;
  totals: { changesIn: number; changesOut: number; lagP50: number | null; lagP95: number | null };
}

export interface Overview {
  generatedAt: string;
  rangeMinutes: number;
  flows: FlowOverview[];
  problemsByCode: { code: string; count: number }[];
  apiUsage: ApiUsage | null;
  /**
   * The API budget the pollers act on (SALESFORCE_API_BUDGET_PERCENT, as the worker last stored
   * it with the usage; the default before that): ok, tight (pollers slowed) or spent (deferred).
   */
  apiBudget: ApiBudget;
  pollers: PollerHealth[];
  queue: QueueHealth;
}

function minuteRange(rangeMinutes: number, now: Date): number[] {
  const end = Math.floor(now.getTime() / 60_000) * 60;
  const minutes: number[] = [];
  for (let m = end - (rangeMinutes - 1) * 60; m <= end; m += 60) minutes.push(m);
  return minutes;
}

/** The overview: per flow, links, problems and the last `rangeMinutes` of changes and lag. */
export async function overview(
  deps: OperationsDeps,
  rangeMinutes = 24 * 60,
  now = new Date(),
): Promise<Overview> {
  await deps.flushMetrics?.();
  const { pool } = deps;
  const minutes = minuteRange(rangeMinutes, now);
  const since = new Date(minutes[0]! * 1000);
  const rows = await readCounterMinutes(
    pool,
    [SERIES.changesReceived, SERIES.writes, SERIES.lagBucket],
    since,
  );
  const index = new Map(minutes.map((m, i) => [m, i]));
  const zeros = () => minutes.map(() => 0);
  const perFlow = new Map<
    string,
    { in: number[]; out: number[]; buckets: Map<number, Map<number, number>> }
  >();
  for (const flow of FLOW_NAMES) perFlow.set(flow, { in: zeros(), out: zeros(), buckets: new Map() });
  for (const row of rows) {
    const labels = parseLabels(row.labels);
    const entry = perFlow.get(labels.flow ?? '');
    const i = index.get(Math.floor(row.minute.getTime() / 1000));
    if (!entry || i === undefined) continue;
    if (row.series === SERIES.changesReceived) entry.in[i]! += row.value;
    else if (row.series === SERIES.writes && labels.outcome === 'ok') entry.out[i]! += row.value;
    else if (row.series === SERIES.lagBucket) {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      let buckets = entry.buckets.get(i);
      if (!buckets) entry.buckets.set(i, (buckets = new Map<number, number>()));
      buckets.set(le, (buckets.get(le) ?? 0) + row.value);
    }
  }
  const links = await linkSummary(pool);
  const problems = await openProblemCounts(pool);
  const usage = await getApiUsage(pool);
  const flows: FlowOverview[] = FLOW_NAMES.map((flow) => {
    const entry = perFlow.get(flow)!;
    const p50 = minutes.map((_m, i) => {
      const buckets = entry.buckets.get(i);
      return buckets ? (histogramQuantile(0.5, buckets) ?? null) : null;
    });
    const p95 = minutes.map((_m, i) => {
      const buckets = entry.buckets.get(i);
      return buckets ? (histogramQuantile(0.95, buckets) ?? null) : null;
    });
    const all = new Map<number, number>();
    for (const buckets of entry.buckets.values()) {
      for (const [le, count] of buckets) all.set(le, (all.get(le) ?? 0) + count);
    }
    const openProblems: Record<string, number> = {};
    for (const row of problems.byFlowKind) if (row.flow === flow) openProblems[row.kind] = row.count;
    return {
      flow,
      links: links[flow],
      openProblems,
      changes: { minutes, lines: { in: entry.in, out: entry.out } },
      lag: { minutes, lines: { p50, p95 } },
      totals: {
        changesIn: entry.in.reduce((a, b) => a + b, 0),
        changesOut: entry.out.reduce((a, b) => a + b, 0),
        lagP50: histogramQuantile(0.5, all) ?? null,
        lagP95: histogramQuantile(0.95, all) ?? null,
      },
    };
  });
  return {
    generatedAt: now.toISOString(),
    rangeMinutes,
    flows,
    problemsByCode: problems.byCode,
    apiUsage: usage ?? null,
    apiBudget: apiBudget(
      usage,
      (await getApiBudgetPercent(pool)) ?? deps.apiBudgetPercent ?? DEFAULT_API_BUDGET_PERCENT,
    ),
    pollers: await listPollerHealth(pool),
    queue: await queueHealth(pool),
  };
}

export interface BulkResult {
  id: number;
  outcome: ReplayOutcome | 'resolved' | 'not_found' | 'already_resolved';
}

/**
 * Replays a dead letter (resolved once queued again) and audits it; `bulk` is the size of the
 * selection it was part of. The admin API, the console and the CLI all go through here.
 */
export async function replayProblem(
  deps: OperationsDeps,
  actor: Actor,
  id: number,
  bulk = 1,
): Promise<BulkResult['outcome']> {
  const outcome = await replayDeadLetter(
    { pool: deps.pool, logger: deps.logger, definition: definitionOf(deps) },
    id,
  );
  await auditProblemAction(deps, actor, 'problem.replay', id, outcome, bulk);
  return outcome;
}

/** One audit entry for an admin's action on a problem (`bulk`: how many the request named). */
async function auditProblemAction(
  deps: OperationsDeps,
  actor: Actor,
  action: 'problem.replay' | 'problem.resolve',
  id: number,
  outcome: BulkResult['outcome'],
  bulk: number,
): Promise<void> {
  await recordAudit(deps.pool, {
    ...actor,
    action,
    target: `problem:${id}`,
    outcome,
    details: bulk > 1 ? { bulk } : {},
  });
}

/** Dismisses a problem and audits it (see `replayProblem`). */
export async function resolveProblemAudited(
  deps: OperationsDeps,
  actor: Actor,
  id: number,
  bulk = 1,
): Promise<BulkResult['outcome']> {
  const outcome: BulkResult['outcome'] = !(await getProblem(deps.pool, id))
    ? 'not_found'
    : (await resolveProblem(deps.pool, id))
      ? 'resolved'
      : 'already_resolved';
  await auditProblemAction(deps, actor, 'problem.resolve', id, outcome, bulk);
  return outcome;
}

/** Replays dead letters, one audit entry per problem. */
export async function replayProblems(
  deps: OperationsDeps,
  actor: Actor,
  ids: readonly number[],
): Promise<BulkResult[]> {
  const results: BulkResult[] = [];
  for (const id of ids) results.push({ id, outcome: await replayProblem(deps, actor, id, ids.length) });
  return results;
}

/** Dismisses problems, one audit entry per problem. */
export async function resolveProblems(
  deps: OperationsDeps,
  actor: Actor,
  ids: readonly number[],
): Promise<BulkResult[]> {
  const results: BulkResult[] = [];
  for (const id of ids) {
    results.push({ id, outcome: await resolveProblemAudited(deps, actor, id, ids.length) });
  }
  return results;
}

export type ResyncOutcome = 'queued' | 'not_found' | 'no_custompms_record';

/**
 * Syncs a linked record again now: its Custompms side is read afresh and planned against the
 * link (what differs from the last synced snapshot is written). Audited, and in its history.
 */
export async function resyncLink(deps: OperationsDeps, actor: Actor, linkId: number): Promise<ResyncOutcome> {
  const link = await linkById(deps.pool, linkId);
  const outcome: ResyncOutcome = !link
    ? 'not_found'
    : link.custompmsId === null
      ? 'no_custompms_record'
      : 'queued';
  if (link && outcome === 'queued') {
    const flow = definitionOf(deps)[link.flow as FlowName];
    await enqueueCustompmsSync({ pool: deps.pool }, flow.custompmsType, link.custompmsId!);
    await recordHistory(deps.pool, [
      {
        flow: link.flow,
        custompmsId: link.custompmsId,
        salesforceId: link.salesforceId,
        direction: 'resync',
        outcome: 'requested',
        detail: `by ${actor.actor}`,
      },
    ]);
  }
  await recordAudit(deps.pool, { ...actor, action: 'link.resync', target: `link:${linkId}`, outcome });
  return outcome;
}

export type ApplyOtherOutcome = 'applied' | 'not_found' | 'already_applied' | 'not_applicable' | 'failed';

/** Writes a conflict's value to the side; injected so tests and the console share one path. */
export type ConflictWriter = (conflict: ConflictRow, value: unknown) => Promise<void>;

/**
 * "Apply the other value": the value the policy did not choose is written back so that it wins
 * after all. Custompms is written (the field's Custompms value that lost, or — when Custompms
 * won — Salesforce's losing value in Custompms form), then the record is synced again, which
 * carries the value to Salesforce. Audited; a conflict is applied once.
 */
export async function applyConflictOtherValue(
  deps: OperationsDeps,
  actor: Actor,
  conflictId: number,
  write: ConflictWriter,
): Promise<ApplyOtherOutcome> {
  const conflict = await conflictById(deps.pool, conflictId);
  let outcome: ApplyOtherOutcome;
  let error: string | undefined;
  if (!conflict) outcome = 'not_found';
  else if (conflict.otherAppliedAt) outcome = 'already_applied';
  else if (
    !conflict.custompmsId ||
    conflict.recordState !== 'active' ||
    !['custompms', 'salesforce'].includes(conflict.winner)
  )
    outcome = 'not_applicable';
  else {
    const other = conflict.winner === 'custompms' ? conflict.salesforceValue : conflict.custompmsValue;
    try {
      await write(conflict, other);
      await markConflictOtherApplied(deps.pool, conflict.id, actor.actor);
      const flow = definitionOf(deps)[conflict.flow as FlowName];
      await enqueueCustompmsSync({ pool: deps.pool }, flow.custompmsType, conflict.custompmsId);
      await recordHistory(deps.pool, [
        {
          flow: conflict.flow,
          custompmsId: conflict.custompmsId,
          salesforceId: conflict.salesforceId,
          direction: 'to_custompms',
          outcome: 'other_value_applied',
          fields: [conflict.field],
          detail: `conflict ${conflict.id} by ${actor.actor}`,
        },
      ]);
      outcome = 'applied';
    } catch (caught) {
      outcome = 'failed';
      error = caught instanceof Error ? caught.message : String(caught);
      deps.logger.warn({ err: caught, conflictId }, 'applying a conflict’s other value failed');
    }
  }
  await recordAudit(deps.pool, {
    ...actor,
    action: 'conflict.apply_other',
    target: `conflict:${conflictId}`,
    outcome,
    details: error ? { error } : {},
  });
  return outcome;
}

/**
 * The settings an operator may read (never a secret): the mapping in force is the one the jobs
 * last applied (with the org's Setup records), else the shipped one.
 */
export async function effectiveSettings(deps: OperationsDeps, config: Config) {
  const stored = await getEffectiveMapping(deps.pool);
  const definition = stored?.definition ?? definitionOf(deps);
  return {
    mappingAppliedAt: stored?.appliedAt ?? null,
    writePath: config.salesforce.writePath,
    salesforce: {
      loginUrl: config.salesforce.loginUrl,
      instanceUrl: config.salesforce.instanceUrl ?? null,
      apiVersion: config.salesforce.apiVersion,
      auth: config.salesforce.auth,
      orgId: config.salesforce.orgId ?? null,
    },
    custompms: { baseUrl: config.custompms.baseUrl ?? null },
    policies: {
      conflict: config.sync.conflictPolicy,
      delete: config.sync.deletePolicy,
      createCustomersFromDivisions: config.sync.createCustomersFromDivisions,
      pollIntervalSeconds: config.sync.pollIntervalSeconds,
    },
    flows: FLOW_NAMES.map((name) => {
      const flow = definition[name];
      const shipped = FLOWS[name];
      return {
        name,
        salesforceObject: flow.salesforceObject,
        salesforceType: flow.salesforceType,
        conflictPolicy: flow.conflictPolicy,
        deletePolicy: flow.deletePolicy,
        createFromSalesforce: flow.createFromSalesforce,
        fields: flow.fields.map((field) => {
          const original = shipped.fields.find((candidate) => candidate.key === field.key);
          return {
            key: field.key,
            label: field.label,
            custompms: field.custompms,
            salesforce: field.salesforce,
            direction: field.direction,
            kind: field.kind,
            enabled: field.enabled,
            overridden: JSON.stringify(original) !== JSON.stringify(field),
          };
        }),
      };
    }),
    lagBuckets: LAG_BUCKETS,
  };
}
