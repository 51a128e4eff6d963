/**
 * The backfill (`npm run backfill`): pairs the records both systems already hold, then loads the
 * rest into Salesforce. Custompms is read page by page; each page is decided with the same planner
 * as the incremental sync (an existing Salesforce record is the plan's counterpart, so the planner
 * decides link or update), and what must be written goes out in chunks: sObject Collections
 * (200 per call) for small sets, Bulk API 2.0 ingest when a flow has `bulkThreshold` or more
 * writes pending. Results are recorded exactly like the batch path's (`recordWriteResult`).
 *
 * Memory holds one page and one chunk of results at a time; everything else (the paging cursor,
 * pending writes, submitted Bulk jobs, counters) is in PostgreSQL (migration 0004), so a crashed
 * run resumes where it stopped and fetches the results of a Bulk job it already submitted instead
 * of submitting it again. A second run finds everything linked and writes nothing.
 *
 * Safe beside a running worker: Tasks are upserted on `Custompms_Id__c` (the unique external id),
 * links are saved through the link store's unique ids, and records with a write in flight in the
 * outbox are left to the incremental sync.
 */
import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';
import {
  applyWriteResult,
  planChange,
  type Change,
  type FlowDefinition,
  type FlowName,
  type Link,
  type Plan,
  type RawRecord,
  type LinkedProject,
  type SyncContext,
  type Write,
} from '../sync';
import type { CustompmsRecord } from '../custompms/types';
import { Bulk2Ingest, parseBulkError, type IngestJobInfo } from '../salesforce/bulk2';
import { SalesforceApiError } from '../salesforce/errors';
import { chunk, soqlString } from '../salesforce/operations';
import {
  analyzeLinks,
  assignBulkJob,
  backfillFailureReasons,
  backfillItemsByIds,
  bulkJobColumns,
  completeBackfillRun,
  countUnassignedItems,
  deleteBackfillItems,
  idsInOutbox,
  listBackfillItems,
  openBackfillRun,
  openBulkJobs,
  putBackfillItems,
  releaseBulkJob,
  saveBackfillProgress,
  setBulkJobState,
  withBackfillLock,
  ZERO_COUNTERS,
  type BackfillCounters,
  type BackfillItem,
  type BackfillRun,
} from '../store/backfill';
import { lockForTransaction, withAdvisoryLocks } from '../store/locks';
import { linksByCustompmsIds, linksBySalesforceIds, saveLink } from '../store/links';
import { recordProblem } from '../store/problems';
import { withTransaction, type Queryable } from '../store/transaction';
import { recordLockKey, recordPlanFindings, releaseWaiting, SYNCED } from './apply';
import { recordWriteResult, type BatchResult, type WrittenItem } from './batches';
import { custompmsChange } from './custompms-changes';
import type { SalesforceServices, SyncDeps } from './deps';
import { salesforceChange, TASK_FIELDS } from './salesforce-changes';
import { buildSyncContext } from './sync-context';

/** Flows in dependency order: a project needs its customer's Division, a task its project. */
export const BACKFILL_ORDER: readonly FlowName[] = ['customers', 'projects', 'tasks'];

export interface BackfillOptions {
  flows: readonly FlowName[];
  /** Read both sides and report what would happen; write nothing anywhere. */
  dryRun?: boolean;
  /** Custompms page size (1–500). Default 200, one Collections call's worth. */
  pageSize?: number;
  /** A set of pending writes this large or larger goes through Bulk API 2.0. Default 2,000. */
  bulkThreshold?: number;
  /** Pending writes that trigger a write-out while reading (and so the largest Bulk job). Default 10,000. */
  bulkJobSize?: number;
  bulkPoll?: { intervalMs?: number; maxIntervalMs?: number; timeoutMs?: number };
  /** Examples kept per flow for the report. Default 5. */
  examples?: number;
  onProgress?: (progress: BackfillProgress) => void;
  /** Called once a Bulk job is closed (submitted) and recorded as such, before its results are read. */
  afterBulkSubmit?: (jobId: string) => Promise<void> | void;
}

export interface BackfillProgress {
  flow: FlowName;
  phase: 'reading' | 'writing' | 'done';
  /** Custompms records read so far in this flow (this invocation). */
  read: number;
  /** Writes decided and not yet confirmed. */
  pending: number;
  counters: BackfillCounters;
  /** More Custompms pages follow. */
  more: boolean;
}

export interface BackfillExample {
  outcome: 'link' | 'create' | 'update' | 'fail' | 'skip';
  custompmsId: string;
  salesforceId: string | null;
  detail: string;
}

export interface FlowReport {
  flow: FlowName;
  dryRun: boolean;
  /** The stored run (`backfill_runs.id`); `null` for a dry run. */
  runId: number | null;
  resumed: boolean;
  read: number;
  counters: BackfillCounters;
  /** Most frequent failure reasons (code, count, one message). */
  reasons: { code: string; count: number; example: string }[];
  examples: BackfillExample[];
  bulkJobs: string[];
  /** Why a flow did nothing at all (e.g. the org has no divisions). */
  note?: string;
}

export interface BackfillReport {
  dryRun: boolean;
  flows: FlowReport[];
  /** Records that failed, all flows. */
  failed: number;
}

export class BackfillLockedError extends Error {
  readonly code = 'BACKFILL_LOCKED';
  constructor() {
    super('another backfill is running against this database; wait for it to finish');
    this.name = 'BackfillLockedError';
  }
}

const DEFAULTS = { pageSize: 200, bulkThreshold: 2_000, bulkJobSize: 10_000, examples: 5 };
/** Rows recorded per transaction when reading Bulk results, and items per CSV chunk. */
const RESULT_CHUNK = 500;
const CSV_CHUNK = 1_000;
/** SOQL `IN` lists stay well below the URI length limit. */
const IN_LIMIT = 200;
/** Links saved before the first refresh of the `links` statistics, and the most between two. */
const FIRST_ANALYZE = 250;
const ANALYZE_EVERY = 20_000;
const DIVISION_FIELDS = ['Id', 'Name', 'IsActive', 'SystemModstamp', 'LastModifiedDate', 'LastModifiedById'];

/** Runs the backfill of the given flows (in dependency order). */
export async function runBackfill(deps: SyncDeps, options: BackfillOptions): Promise<BackfillReport> {
  const flows = BACKFILL_ORDER.filter((flow) => options.flows.includes(flow));
  // A dry run writes no links, so later flows would see their dependencies as missing: it keeps
  // what earlier flows would have linked or created, and later flows plan against that.
  const planned: PlannedLinks | undefined = options.dryRun
    ? { customers: new Set(), projects: new Map() }
    : undefined;
  const run = async (): Promise<BackfillReport> => {
    const reports: FlowReport[] = [];
    for (const flow of flows) reports.push(await backfillFlow(deps, deps.definition[flow], options, planned));
    return {
      dryRun: options.dryRun ?? false,
      flows: reports,
      failed: reports.reduce((sum, report) => sum + report.counters.failed, 0),
    };
  };
  // A dry run writes nothing, so it needs no lock (and never waits for a real run).
  if (options.dryRun) return run();
  const locked = await withBackfillLock(deps.pool, run);
  if (!locked) throw new BackfillLockedError();
  return locked.result;
}

/** One flow's state while it runs. */
interface FlowRun {
  deps: SyncDeps;
  flow: FlowDefinition;
  options: BackfillOptions;
  salesforce: SalesforceServices;
  bulk: Bulk2Ingest;
  dryRun: boolean;
  /** `null` for a dry run. */
  stored: BackfillRun | null;
  counters: BackfillCounters;
  read: number;
  pending: number;
  more: boolean;
  examples: BackfillExample[];
  /** Dry runs only: failure reasons in memory (one entry per code). */
  reasons: Map<string, { count: number; example: string }>;
  bulkJobs: string[];
  problemTag: { task: string; payload: unknown } | undefined;
  /** Links saved by this flow, and the count at which `links` statistics are refreshed next. */
  saved: number;
  analyzeAt: number;
  /** Dry runs only: what earlier flows of this run would have linked. */
  planned: PlannedLinks | undefined;
}

/** Customers and projects a dry run would have linked (projects with their customer). */
interface PlannedLinks {
  customers: Set<string>;
  projects: Map<string, LinkedProject>;
}

/** Stands in for the Division a dry run would have created: never written anywhere. */
const PLANNED_DIVISION = '02d000000000000AAA';

/** The context, plus the links a dry run would have made (looked up only when none exists). */
function withPlanned(context: SyncContext, planned: PlannedLinks | undefined): SyncContext {
  if (!planned) return context;
  return {
    ...context,
    divisionByCustomer: {
      get: (id) =>
        context.divisionByCustomer.get(id) ?? (planned.customers.has(id) ? PLANNED_DIVISION : undefined),
    },
    linkedProjects: { get: (id) => context.linkedProjects.get(id) ?? planned.projects.get(id) },
  };
}

/** Records what a dry run's decisions would link, for the flows after this one. */
function rememberPlanned(
  state: FlowRun,
  records: readonly CustompmsRow[],
  decisions: readonly Decision[],
): void {
  if (!state.planned) return;
  for (const [index, decision] of decisions.entries()) {
    if (decision.kind !== 'write' && decision.kind !== 'linked' && decision.kind !== 'unchanged') continue;
    const record = records[index]!;
    if (state.flow.name === 'customers') state.planned.customers.add(record.id);
    if (state.flow.name === 'projects') {
      const customerId = typeof record.customer_id === 'string' ? record.customer_id : null;
      state.planned.projects.set(record.id, { customerId });
    }
  }
}

async function backfillFlow(
  deps: SyncDeps,
  flow: FlowDefinition,
  options: BackfillOptions,
  planned: PlannedLinks | undefined,
): Promise<FlowReport> {
  const salesforce = await deps.salesforce();
  const dryRun = options.dryRun ?? false;
  const state: FlowRun = {
    deps,
    flow,
    options,
    salesforce,
    bulk: new Bulk2Ingest(salesforce.client),
    dryRun,
    stored: null,
    counters: { ...ZERO_COUNTERS },
    read: 0,
    pending: 0,
    more: true,
    examples: [],
    reasons: new Map(),
    bulkJobs: [],
    problemTag: undefined,
    saved: 0,
    analyzeAt: FIRST_ANALYZE,
    planned,
  };
  const report = (note?: string): FlowReport => ({
    flow: flow.name,
    dryRun,
    runId: state.stored?.id ?? null,
    resumed,
    read: state.read,
    counters: { ...state.counters },
    reasons: [],
    examples: state.examples,
    bulkJobs: state.bulkJobs,
    ...(note ? { note } : {}),
  });
  let resumed = false;
  if (flow.salesforceObject === 'Division' && !(await salesforce.org.hasDivisions())) {
    return report('the org has no divisions (User.DefaultDivision is missing): nothing to backfill');
  }

  if (!dryRun) {
    await analyzeLinks(deps.pool);
    const opened = await openBackfillRun(deps.pool, flow.name);
    state.stored = opened.run;
    resumed = opened.resumed;
    state.counters = { ...opened.run.counters };
    state.problemTag = { task: 'backfill', payload: { runId: opened.run.id } };
    if (resumed) {
      deps.logger.info(
        { flow: flow.name, runId: opened.run.id, cursor: opened.run.cursor },
        'resuming backfill',
      );
      for (const job of await openBulkJobs(deps.pool, opened.run.id)) await resumeBulkJob(state, job.id);
      state.pending = await countUnassignedItems(deps.pool, opened.run.id);
    }
  }

  const stored = state.stored;
  if (!stored?.listed) {
    const pageSize = options.pageSize ?? DEFAULTS.pageSize;
    const client = deps.custompms();
    for await (const page of client.listPages(flow.custompmsCollection, {
      limit: pageSize,
      ...(stored?.cursor ? { cursor: stored.cursor } : {}),
    })) {
      state.more = page.next_cursor !== null;
      await handlePage(state, page.data, page.next_cursor);
      progress(state, 'reading');
      if (!dryRun && state.pending >= (options.bulkJobSize ?? DEFAULTS.bulkJobSize))
        await flushPending(state);
    }
  }
  if (!dryRun) {
    await flushPending(state);
    await completeBackfillRun(deps.pool, state.stored!.id, state.counters);
  }
  state.more = false;
  progress(state, 'done');
  const result = report();
  result.reasons = dryRun
    ? [...state.reasons.entries()]
        .map(([code, entry]) => ({ code, count: entry.count, example: entry.example }))
        .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code))
        .slice(0, 10)
    : await backfillFailureReasons(deps.pool, state.stored!.id);
  return result;
}

function progress(state: FlowRun, phase: BackfillProgress['phase']): void {
  state.options.onProgress?.({
    flow: state.flow.name,
    phase,
    read: state.read,
    pending: state.pending,
    counters: { ...state.counters },
    more: state.more,
  });
}

function example(state: FlowRun, entry: BackfillExample): void {
  if (state.examples.length < (state.options.examples ?? DEFAULTS.examples)) state.examples.push(entry);
}

// ------------------------------------------------------------------ deciding a page

type Decision =
  | { kind: 'unchanged'; id: string; link: Link | null }
  | { kind: 'linked'; id: string; link: Link }
  | { kind: 'skipped'; id: string; reason: string }
  | { kind: 'failed'; id: string; salesforceId: string | null; code: string; message: string }
  | {
      kind: 'write';
      id: string;
      /** No link existed before: the write also pairs the records. */
      pairs: boolean;
      plan: Plan & { link: Link };
      salesforce: Write | undefined;
      custompms: Write[];
    };

type CustompmsRow = RawRecord & { id: string; version: number; updated_at: string };

async function handlePage(state: FlowRun, page: readonly CustompmsRecord[], nextCursor: string | null) {
  const records = page as unknown as CustompmsRow[];
  if (state.flow.salesforceObject !== 'Division' || state.dryRun)
    return decidePage(state, records, nextCursor);
  // Divisions have no external id to upsert on: deciding and writing hold the records' sync locks,
  // so the incremental sync cannot create the same Division meanwhile (jobs/apply.ts planAndApply).
  return withAdvisoryLocks(
    state.deps.pool,
    records.map((record) => recordLockKey(state.flow.name, record.id)),
    () => decidePage(state, records, nextCursor),
  );
}

async function decidePage(state: FlowRun, records: CustompmsRow[], nextCursor: string | null): Promise<void> {
  const { deps, flow } = state;
  state.read += records.length;
  const ids = records.map((record) => record.id);
  const links = new Map(
    (await linksByCustompmsIds<Link>(deps.pool, flow.name, ids)).map((link) => [link.custompmsId!, link]),
  );
  const busy = await idsInOutbox(deps.pool, flow.name, ids);
  const counterparts =
    flow.salesforceObject === 'Division'
      ? await divisionCounterparts(state, records, links)
      : await taskCounterparts(state, records, links);
  const counterpartRecords = [...counterparts.values()].flatMap((entry) =>
    'record' in entry ? [entry.record] : [],
  );
  const context = withPlanned(
    await buildSyncContext(deps.pool, state.salesforce, [...records, ...counterpartRecords], {
      ...(flow.name === 'customers' ? { customerIds: ids } : {}),
    }),
    state.planned,
  );

  const decisions: Decision[] = records.map((record) =>
    decide(
      flow,
      context,
      record,
      links.get(record.id) ?? null,
      counterparts.get(record.id),
      busy.has(record.id),
    ),
  );
  rememberPlanned(state, records, decisions);

  // Custompms writes (a Salesforce value won a conflict) are made now, one by one: they are rare.
  if (!state.dryRun) {
    for (const [index, decision] of decisions.entries()) {
      if (decision.kind === 'write' && decision.custompms.length > 0) {
        decisions[index] = await writeCustompms(state, context, decision);
      }
    }
  }

  if (flow.salesforceObject === 'Division') {
    await finishDivisionPage(state, context, decisions, nextCursor);
  } else {
    await finishTaskPage(state, decisions, nextCursor);
  }
}

type Counterpart = { record: RawRecord } | { failure: { code: string; message: string } };

/** Salesforce Tasks for a page: by `Custompms_Id__c`, and linked ones by Id. */
async function taskCounterparts(
  state: FlowRun,
  records: readonly CustompmsRow[],
  links: Map<string, Link>,
): Promise<Map<string, Counterpart>> {
  const { salesforce, flow, deps } = state;
  const fields = [...TASK_FIELDS, ...((await salesforce.org.hasDivisions()) ? ['Division'] : [])].join(', ');
  const byCustompmsId = new Map<string, RawRecord>();
  const byId = new Map<string, RawRecord>();
  for (const part of chunk(
    records.map((record) => record.id),
    IN_LIMIT,
  )) {
    for await (const task of salesforce.operations.query<RawRecord & { Id: string }>(
      `SELECT ${fields} FROM Task WHERE Custompms_Id__c IN (${part.map(soqlString).join(', ')})`,
    )) {
      byCustompmsId.set(String(task.Custompms_Id__c), task);
      byId.set(task.Id, task);
    }
  }
  const missing = [...links.values()]
    .map((link) => link.salesforceId)
    .filter((id): id is string => id !== null && !byId.has(id));
  for (const part of chunk(missing, IN_LIMIT)) {
    for await (const task of salesforce.operations.query<RawRecord & { Id: string }>(
      `SELECT ${fields} FROM Task WHERE Id IN (${part.map(soqlString).join(', ')})`,
    )) {
      byId.set(canonicalId(task.Id), task);
    }
  }
  // A Task linked to another Custompms record is not this record's counterpart.
  const owners = new Map(
    (
      await linksBySalesforceIds<Link>(
        deps.pool,
        flow.name,
        [...byCustompmsId.values()].map((task) => canonicalId(String(task.Id))),
      )
    ).map((link) => [link.salesforceId!, link.custompmsId]),
  );
  const result = new Map<string, Counterpart>();
  for (const record of records) {
    const link = links.get(record.id);
    const linked = link?.salesforceId ? byId.get(link.salesforceId) : undefined;
    const task = linked ?? byCustompmsId.get(record.id);
    if (!task) continue;
    const owner = owners.get(canonicalId(String(task.Id)));
    if (!link && owner !== undefined && owner !== null && owner !== record.id) {
      result.set(record.id, {
        failure: {
          code: 'salesforce_record_linked_elsewhere',
          message: `Task ${String(task.Id)} carries this Custompms id but is linked to ${owner}`,
        },
      });
      continue;
    }
    result.set(record.id, { record: task });
  }
  return result;
}

/**
 * Divisions for a page: the linked one by Id, else one whose Name equals the customer's name
 * (trimmed, case-insensitive; Division takes no custom fields to match on). Several candidates,
 * or several customers of the page claiming one Division, fail as ambiguous: never a guess.
 */
async function divisionCounterparts(
  state: FlowRun,
  records: readonly CustompmsRow[],
  links: Map<string, Link>,
): Promise<Map<string, Counterpart>> {
  const { salesforce, flow, deps } = state;
  const nameOf = (record: RawRecord) => (typeof record.name === 'string' ? record.name : '');
  const key = (name: string) => name.trim().toLowerCase();
  const unlinked = records.filter((record) => !links.get(record.id)?.salesforceId);
  const byName = new Map<string, RawRecord[]>();
  const byId = new Map<string, RawRecord>();
  // Every Division, read again for each page: an org has few (a setup object), the match must be
  // trimmed and case-insensitive (SOQL cannot trim), and a page re-read after a crash must see a
  // Division created just before it.
  for await (const division of salesforce.operations.query<RawRecord & { Id: string; Name: string }>(
    `SELECT ${DIVISION_FIELDS.join(', ')} FROM Division`,
  )) {
    const id = canonicalId(division.Id);
    byId.set(id, division);
    byName.set(key(division.Name), [...(byName.get(key(division.Name)) ?? []), division]);
  }
  const candidateIds = [...byName.values()].flat().map((division) => canonicalId(String(division.Id)));
  const taken = new Set(
    (await linksBySalesforceIds<Link>(deps.pool, flow.name, candidateIds)).map((link) => link.salesforceId!),
  );
  const claims = new Map<string, number>();
  const matches = new Map<string, RawRecord[]>();
  for (const record of unlinked) {
    const free = (byName.get(key(nameOf(record))) ?? []).filter(
      (division) => !taken.has(canonicalId(String(division.Id))),
    );
    matches.set(record.id, free);
    if (free.length === 1) {
      const id = canonicalId(String(free[0]!.Id));
      claims.set(id, (claims.get(id) ?? 0) + 1);
    }
  }
  const result = new Map<string, Counterpart>();
  for (const record of records) {
    const link = links.get(record.id);
    if (link?.salesforceId) {
      const division = byId.get(link.salesforceId);
      if (division) result.set(record.id, { record: division });
      continue;
    }
    const free = matches.get(record.id) ?? [];
    if (free.length > 1) {
      result.set(record.id, {
        failure: {
          code: 'ambiguous_division_name',
          message: `${free.length} Divisions are named ${JSON.stringify(nameOf(record).trim())}: rename or link one by hand`,
        },
      });
    } else if (free.length === 1) {
      const id = canonicalId(String(free[0]!.Id));
      if ((claims.get(id) ?? 0) > 1) {
        result.set(record.id, {
          failure: {
            code: 'ambiguous_division_name',
            message: `several customers named ${JSON.stringify(nameOf(record).trim())} would pair with Division ${id}`,
          },
        });
      } else result.set(record.id, { record: free[0]! });
    }
  }
  return result;
}

function canonicalId(id: string): string {
  if (id.length !== 15) return id;
  // Salesforce's 18-character form: a checksum of the upper-case letters (SALESFORCE.md ids).
  let suffix = '';
  for (let block = 0; block < 3; block++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const char = id[block * 5 + i]!;
      if (char >= 'A' && char <= 'Z') bits |= 1 << i;
    }
    suffix += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'[bits];
  }
  return id + suffix;
}

/** The planner's verdict for one record, as a backfill decision. */
function decide(
  flow: FlowDefinition,
  context: SyncContext,
  record: CustompmsRow,
  link: Link | null,
  counterpart: Counterpart | undefined,
  busy: boolean,
): Decision {
  const id = record.id;
  if (busy) return { kind: 'skipped', id, reason: 'a change of this record is being written by the sync' };
  if (counterpart && 'failure' in counterpart) {
    return { kind: 'failed', id, salesforceId: null, ...counterpart.failure };
  }
  const change: Change = custompmsChange(record);
  const other = counterpart ? salesforceChange(counterpart.record) : null;
  const plan = planChange({ flow, context, link, change, counterpart: other });
  const salesforceId = plan.link?.salesforceId ?? link?.salesforceId ?? null;
  switch (plan.kind) {
    case 'skip':
      if (!link && plan.link) return { kind: 'linked', id, link: plan.link };
      return { kind: 'unchanged', id, link: plan.link };
    case 'invalid': {
      const errors = plan.problems.filter((problem) => problem.severity === 'error');
      return {
        kind: 'failed',
        id,
        salesforceId,
        code: errors[0]?.code ?? 'invalid',
        message: (errors.length > 0 ? errors : plan.problems).map((problem) => problem.message).join('; '),
      };
    }
    case 'wait_for_dependency': {
      const missing = plan.missing
        .map((dependency) =>
          dependency.kind === 'project'
            ? `project ${dependency.projectId}`
            : dependency.kind === 'customer_division'
              ? `customer ${dependency.customerId}`
              : JSON.stringify(dependency),
        )
        .join(', ');
      return {
        kind: 'failed',
        id,
        salesforceId,
        code: 'dependency_not_linked',
        message: `${missing} is not linked to Salesforce yet (backfill that flow first, or fix its failure)`,
      };
    }
    case 'create':
    case 'update': {
      if (!plan.link) return { kind: 'unchanged', id, link: null };
      const salesforceWrites = plan.writes.filter((write) => write.side === 'salesforce');
      return {
        kind: 'write',
        id,
        pairs: link === null && plan.kind === 'update',
        plan: plan as Plan & { link: Link },
        salesforce: salesforceWrites[0],
        custompms: plan.writes.filter((write) => write.side === 'custompms'),
      };
    }
    default:
      return { kind: 'skipped', id, reason: `the planner chose ${plan.kind}` };
  }
}

/** Performs a decision's Custompms writes (If-Match); the decision then holds only its Salesforce write. */
async function writeCustompms(
  state: FlowRun,
  context: SyncContext,
  decision: Extract<Decision, { kind: 'write' }>,
): Promise<Decision> {
  const { deps, flow } = state;
  let link = decision.plan.link;
  try {
    for (const write of decision.custompms) {
      const updated = (await deps.custompms().update(flow.custompmsCollection, write.id!, write.fields, {
        ifMatch: Number(write.expectedVersion ?? link.custompms.version ?? 0),
      })) as unknown as RawRecord & { version: number };
      link = applyWriteResult(flow, context, link, write, {
        version: updated.version,
        conditional: true,
        record: updated,
      }).link;
    }
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'CUSTOMPMS_WRITE_FAILED';
    return {
      kind: 'failed',
      id: decision.id,
      salesforceId: link.salesforceId,
      code,
      message: `Custompms update failed: ${(error as Error).message}`,
    };
  }
  const written = { ...decision, plan: { ...decision.plan, link }, custompms: [] };
  if (!decision.salesforce)
    return decision.pairs ? { kind: 'linked', id: decision.id, link } : { ...written };
  return written;
}

/** The write to Salesforce as a pending item (fields as the outbox would carry them). */
function pendingItem(
  flow: FlowDefinition,
  decision: Extract<Decision, { kind: 'write' }>,
): Omit<BackfillItem, 'bulkJobId'> {
  const write = decision.salesforce!;
  const record: Record<string, unknown> = { ...write.fields };
  if (flow.salesforceObject === 'Division') {
    if (write.id) record.Id = write.id;
  } else {
    if (write.id) record.Id = write.id;
    // Every Task carries its Custompms id: creates are upserted on it, so a repeat never duplicates.
    record.Custompms_Id__c = decision.id;
    record.Custompms_Sync_Status__c = SYNCED;
    record.Custompms_Sync_Error__c = null;
  }
  return {
    custompmsId: decision.id,
    action: write.action === 'create' ? 'create' : 'update',
    record,
    plan: { link: decision.plan.link, write, source: decision.plan.source, pairs: decision.pairs },
  };
}

/** Counts and stores (or, in a dry run, only counts) what needs no Salesforce write. */
async function settleDecisions(
  state: FlowRun,
  db: Queryable | null,
  decisions: readonly Decision[],
): Promise<void> {
  const { flow } = state;
  for (const decision of decisions) {
    switch (decision.kind) {
      case 'unchanged':
        state.counters.unchanged++;
        if (db && decision.link) await saveLink(db, decision.link);
        break;
      case 'linked':
        state.counters.linked++;
        example(state, {
          outcome: 'link',
          custompmsId: decision.id,
          salesforceId: decision.link.salesforceId,
          detail: 'paired with the existing record',
        });
        if (db) await saveLink(db, decision.link, flow.salesforceObject === 'Task' ? SYNCED : undefined);
        break;
      case 'skipped':
        state.counters.skipped++;
        example(state, {
          outcome: 'skip',
          custompmsId: decision.id,
          salesforceId: null,
          detail: decision.reason,
        });
        break;
      case 'failed':
        await fail(state, db, decision.id, decision.salesforceId, decision.code, decision.message);
        break;
      case 'write':
        if (db) {
          const { link } = decision.plan;
          const ids = { custompmsId: link?.custompmsId ?? null, salesforceId: link?.salesforceId ?? null };
          await recordPlanFindings(db, decision.plan, ids, { errors: false });
        }
        break;
    }
  }
}

async function fail(
  state: FlowRun,
  db: Queryable | null,
  custompmsId: string,
  salesforceId: string | null,
  code: string,
  message: string,
): Promise<void> {
  state.counters.failed++;
  example(state, { outcome: 'fail', custompmsId, salesforceId, detail: `${code}: ${message}` });
  if (db) {
    await recordProblem(db, {
      flow: state.flow.name,
      custompmsId,
      salesforceId,
      kind: 'error',
      code,
      message,
      ...state.problemTag,
    });
  } else {
    const entry = state.reasons.get(code);
    if (entry) entry.count++;
    else state.reasons.set(code, { count: 1, example: message });
  }
}

function countPlannedWrite(state: FlowRun, decision: Extract<Decision, { kind: 'write' }>): void {
  const create = decision.salesforce?.action === 'create';
  if (decision.pairs) state.counters.linked++;
  if (create) state.counters.created++;
  else state.counters.updated++;
  example(state, {
    outcome: create ? 'create' : decision.pairs ? 'link' : 'update',
    custompmsId: decision.id,
    salesforceId: decision.plan.link.salesforceId,
    detail: describeWrite(decision.salesforce),
  });
}

function describeWrite(write: Write | undefined): string {
  if (!write) return 'Custompms updated';
  const fields = Object.keys(write.fields).join(', ');
  return write.action === 'create' ? `create with ${fields}` : `update ${fields}`;
}

/** Task flows: decisions and pending writes stored with the cursor, in one transaction. */
async function finishTaskPage(
  state: FlowRun,
  decisions: Decision[],
  nextCursor: string | null,
): Promise<void> {
  const writes = decisions.filter(
    (decision): decision is Extract<Decision, { kind: 'write' }> => decision.kind === 'write',
  );
  if (state.dryRun) {
    await settleDecisions(state, null, decisions);
    for (const decision of writes) countPlannedWrite(state, decision);
    return;
  }
  const stored = state.stored!;
  const items = writes
    .filter((decision) => decision.salesforce)
    .map((decision) => pendingItem(state.flow, decision));
  const pairedOnly = writes.filter((decision) => !decision.salesforce);
  await withTransaction(state.deps.pool, async (client) => {
    await lockForTransaction(
      client,
      decisions.map((decision) => recordLockKey(state.flow.name, decision.id)),
    );
    await settleDecisions(state, client, decisions);
    for (const decision of pairedOnly) {
      // Only Custompms was written (done above): the pair is complete.
      await saveLink(client, decision.plan.link, SYNCED);
      if (decision.pairs) state.counters.linked++;
      else state.counters.updated++;
    }
    state.pending += await putBackfillItems(client, stored.id, items);
    advance(stored, nextCursor);
    await saveBackfillProgress(client, { ...stored, counters: state.counters });
  });
}

function advance(run: BackfillRun, nextCursor: string | null): void {
  run.pages += 1;
  if (nextCursor === null) run.listed = true;
  else run.cursor = nextCursor;
}

/**
 * Customers: Divisions are written at once, page by page, through Collections (Division is a
 * setup object: Bulk API support for it is not documented — SALESFORCE.md "Division" lists the
 * calls only — and an org has few of them). The cursor advances only after the results are
 * recorded, so a crash in between re-reads the page, and the name match pairs a Division created
 * just before the crash instead of creating it twice.
 */
async function finishDivisionPage(
  state: FlowRun,
  context: SyncContext,
  decisions: Decision[],
  nextCursor: string | null,
): Promise<void> {
  const writes = decisions.filter(
    (decision): decision is Extract<Decision, { kind: 'write' }> =>
      decision.kind === 'write' && !!decision.salesforce,
  );
  if (state.dryRun) {
    await settleDecisions(state, null, decisions);
    for (const decision of decisions) {
      if (decision.kind === 'write') countPlannedWrite(state, decision);
    }
    return;
  }
  // Linked meanwhile by the incremental sync (a webhook): leave it to that link.
  const linkedNow = new Set(
    (
      await linksByCustompmsIds<Link>(
        state.deps.pool,
        state.flow.name,
        writes.filter((decision) => decision.salesforce!.action === 'create').map((decision) => decision.id),
      )
    ).map((link) => link.custompmsId),
  );
  const toWrite = writes.filter((decision) => !linkedNow.has(decision.id));
  const items = toWrite.map((decision) => ({ ...pendingItem(state.flow, decision), bulkJobId: null }));
  const results = await writeCollections(state, items);
  const stored = state.stored!;
  await withTransaction(state.deps.pool, async (client) => {
    const rest = decisions.map((decision): Decision =>
      decision.kind === 'write' && linkedNow.has(decision.id)
        ? { kind: 'skipped', id: decision.id, reason: 'linked by the incremental sync meanwhile' }
        : decision,
    );
    await settleDecisions(state, client, rest);
    for (const decision of rest) {
      if (decision.kind === 'write' && !decision.salesforce) {
        await saveLink(client, decision.plan.link);
        if (decision.pairs) state.counters.linked++;
        else state.counters.updated++;
      }
    }
    await recordResults(
      state,
      client,
      items,
      results,
      'sObject Collections',
      () => Promise.resolve(context),
      {
        locked: true,
      },
    );
    advance(stored, nextCursor);
    await saveBackfillProgress(client, { ...stored, counters: state.counters });
  });
  await releaseLinked(state, items, results);
}

// ------------------------------------------------------------------ writing

/** Writes items through sObject Collections (200 per call); results keyed by Custompms id. */
async function writeCollections(
  state: FlowRun,
  items: readonly BackfillItem[],
): Promise<Map<string, BatchResult>> {
  const { operations } = state.salesforce;
  const kind = state.flow.salesforceObject === 'Division' ? 'division' : 'task';
  const results = new Map<string, BatchResult>();
  const creates = items.filter((item) => item.action === 'create');
  const updates = items.filter((item) => item.action === 'update');
  const collect = (part: readonly BackfillItem[], raw: Awaited<ReturnType<typeof operations.create>>) =>
    part.forEach((item, index) => {
      const result = raw[index];
      results.set(item.custompmsId, {
        kind,
        key: item.custompmsId,
        success: result?.success ?? false,
        salesforceId: result?.id ?? (item.record.Id as string | undefined) ?? null,
        created: result?.created ?? false,
        errors: result?.errors ?? [],
      });
    });
  if (kind === 'division') {
    collect(
      creates,
      await operations.create(
        'Division',
        creates.map((item) => item.record),
      ),
    );
  } else {
    collect(
      creates,
      await operations.upsert(
        'Task',
        'Custompms_Id__c',
        creates.map((item) => withoutId(item.record)),
      ),
    );
  }
  collect(
    updates,
    await operations.update(
      state.flow.salesforceObject,
      updates.map((item) => item.record as Record<string, unknown> & { Id: string }),
    ),
  );
  return results;
}

function withoutId(record: Record<string, unknown>): Record<string, unknown> {
  const { Id: _id, ...rest } = record;
  return rest;
}

/** Records results of items (links or problems) and counts them; the items' rows are removed. */
async function recordResults(
  state: FlowRun,
  db: pg.PoolClient,
  items: readonly BackfillItem[],
  results: Map<string, BatchResult>,
  origin: string,
  context: () => Promise<SyncContext>,
  options: { locked?: boolean } = {},
): Promise<void> {
  if (!options.locked) {
    await lockForTransaction(
      db,
      items.map((item) => recordLockKey(state.flow.name, item.custompmsId)),
    );
  }
  const kind = state.flow.salesforceObject === 'Division' ? 'division' : 'task';
  for (const item of items) {
    const written: WrittenItem = {
      flow: state.flow.name,
      custompmsId: item.custompmsId,
      kind,
      record: item.record,
      plan: item.plan,
    };
    const outcome = await recordWriteResult(state.deps, db, written, results.get(item.custompmsId), {
      origin,
      context,
      ...(state.problemTag ? { problemTag: state.problemTag } : {}),
    });
    const pairs = (item.plan as { pairs?: boolean }).pairs === true;
    if ('failure' in outcome) {
      state.counters.failed++;
      example(state, {
        outcome: 'fail',
        custompmsId: item.custompmsId,
        salesforceId: (item.record.Id as string | undefined) ?? null,
        detail: `${outcome.failure.code}: ${outcome.failure.message}`,
      });
      continue;
    }
    if (pairs) state.counters.linked++;
    if (item.action === 'create') state.counters.created++;
    else state.counters.updated++;
    example(state, {
      outcome: item.action === 'create' ? 'create' : pairs ? 'link' : 'update',
      custompmsId: item.custompmsId,
      salesforceId: outcome.link.salesforceId,
      detail: `${item.action}d through ${origin}`,
    });
  }
  await deleteBackfillItems(
    db,
    state.stored!.id,
    items.map((item) => item.custompmsId),
  );
  state.pending = Math.max(0, state.pending - items.length);
  state.saved += items.length;
  if (state.saved >= state.analyzeAt) {
    // Early and then doubling: the estimate matters most while the table is still small.
    state.analyzeAt = Math.min(state.analyzeAt * 2, state.saved + ANALYZE_EVERY);
    await analyzeLinks(state.deps.pool);
  }
}

/** Records waiting for a customer or project that just got linked are synced now. */
async function releaseLinked(
  state: FlowRun,
  items: readonly BackfillItem[],
  results: Map<string, BatchResult>,
): Promise<void> {
  if (state.flow.name === 'tasks') return;
  for (const item of items) {
    if (results.get(item.custompmsId)?.success)
      await releaseWaiting(state.deps, state.flow, item.custompmsId);
  }
}

/** Writes every pending item of the run: Bulk API 2.0 for large sets, Collections otherwise. */
async function flushPending(state: FlowRun): Promise<void> {
  if (state.flow.salesforceObject === 'Division') return;
  const stored = state.stored!;
  const threshold = state.options.bulkThreshold ?? DEFAULTS.bulkThreshold;
  for (const action of ['create', 'update'] as const) {
    const count = await countUnassignedItems(state.deps.pool, stored.id, action);
    if (count === 0) continue;
    progress(state, 'writing');
    if (count >= threshold) await writeBulk(state, action);
    else await flushCollections(state, action);
  }
}

async function flushCollections(state: FlowRun, action: BackfillItem['action']): Promise<void> {
  const { deps } = state;
  const stored = state.stored!;
  for (;;) {
    // Recorded items are removed, so the next chunk always starts at the front.
    const items = await listBackfillItems(deps.pool, stored.id, { bulkJobId: null, action, limit: 200 });
    if (items.length === 0) return;
    const results = await writeCollections(state, items);
    const context = await buildSyncContext(
      deps.pool,
      state.salesforce,
      items.map((item) => item.record),
    );
    await withTransaction(deps.pool, async (client) => {
      await recordResults(state, client, items, results, 'sObject Collections', () =>
        Promise.resolve(context),
      );
      await saveBackfillProgress(client, { ...stored, counters: state.counters });
    });
    await releaseLinked(state, items, results);
    progress(state, 'writing');
  }
}

/** One Bulk API 2.0 ingest job for every unassigned item of an action, from creation to recorded results. */
async function writeBulk(state: FlowRun, action: BackfillItem['action']): Promise<void> {
  const { deps, bulk } = state;
  const stored = state.stored!;
  const job = await bulk.createJob(
    action === 'create'
      ? { object: 'Task', operation: 'upsert', externalIdFieldName: 'Custompms_Id__c' }
      : { object: 'Task', operation: 'update' },
  );
  state.bulkJobs.push(job.id);
  const records = await withTransaction(deps.pool, (client) =>
    assignBulkJob(client, stored.id, job.id, action),
  );
  deps.logger.info({ flow: state.flow.name, jobId: job.id, records, action }, 'Bulk API job created');
  const columns = await bulkJobColumns(deps.pool, stored.id, job.id);
  if (action === 'create') {
    const index = columns.indexOf('Id');
    if (index >= 0) columns.splice(index, 1);
  }
  await bulk.upload(job.id, () => csvOf(state, job.id, columns));
  deps.logger.debug({ jobId: job.id }, 'Bulk API job data uploaded');
  await bulk.close(job.id);
  await setBulkJobState(deps.pool, job.id, 'submitted');
  await state.options.afterBulkSubmit?.(job.id);
  await recordBulkJob(state, job.id);
}

/** The job's CSV, produced chunk by chunk from the stored items (csv-stringify per chunk). */
async function* csvOf(state: FlowRun, jobId: string, columns: readonly string[]): AsyncGenerator<string> {
  yield stringify([columns]);
  let after: string | undefined;
  for (;;) {
    const items = await listBackfillItems(state.deps.pool, state.stored!.id, {
      bulkJobId: jobId,
      limit: CSV_CHUNK,
      ...(after === undefined ? {} : { after }),
    });
    if (items.length === 0) return;
    yield stringify(items.map((item) => columns.map((column) => csvValue(item.record, column))));
    after = items.at(-1)!.custompmsId;
  }
}

/**
 * A CSV cell: a missing field is left alone (empty), `null` clears the field (`#N/A`, Bulk API
 * 2.0 Developer Guide "Prepare CSV Files": "field values ... set to null ... #N/A").
 */
function csvValue(record: Record<string, unknown>, column: string): string {
  if (!Object.hasOwn(record, column)) return '';
  const value = record[column];
  if (value === null || value === undefined) return '#N/A';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Waits for a submitted job and records its three result sets, chunk by chunk. */
async function recordBulkJob(state: FlowRun, jobId: string): Promise<void> {
  const { deps, bulk } = state;
  const stored = state.stored!;
  progress(state, 'writing');
  const info = await bulk.waitForCompletion(jobId, state.options.bulkPoll ?? {});
  deps.logger.debug({ jobId, info }, 'Bulk API job finished');
  const origin = `Bulk API job ${jobId}`;
  const record = async (
    rows: Record<string, string>[],
    result: (row: Record<string, string>) => BatchResult,
  ) => {
    const found = await backfillItemsByIds(
      deps.pool,
      stored.id,
      rows.map((row) => row.Custompms_Id__c ?? ''),
    );
    const items = [...found.values()].filter((item) => item.bulkJobId === jobId);
    if (items.length === 0) return;
    const results = new Map(
      rows.map((row) => [row.Custompms_Id__c ?? '', result(row)] as const).filter(([id]) => found.has(id)),
    );
    const context = await buildSyncContext(
      deps.pool,
      state.salesforce,
      items.map((item) => item.record),
    );
    await withTransaction(deps.pool, async (client) => {
      await recordResults(state, client, items, results, origin, () => Promise.resolve(context));
      await saveBackfillProgress(client, { ...stored, counters: state.counters });
    });
    await releaseLinked(state, items, results);
    progress(state, 'writing');
  };
  const success = (row: Record<string, string>): BatchResult => ({
    kind: 'task',
    key: row.Custompms_Id__c ?? '',
    success: true,
    salesforceId: row.sf__Id || null,
    created: row.sf__Created === 'true',
  });
  const failure = (row: Record<string, string>): BatchResult => ({
    kind: 'task',
    key: row.Custompms_Id__c ?? '',
    success: false,
    errors: parseBulkError(row.sf__Error ?? 'UNKNOWN_ERROR:no error reported'),
  });
  const unprocessed = (row: Record<string, string>): BatchResult => ({
    kind: 'task',
    key: row.Custompms_Id__c ?? '',
    success: false,
    errors: [{ statusCode: 'NOT_PROCESSED', message: jobFailure(info) }],
  });
  for (const [kind, toResult] of [
    ['successfulResults', success],
    ['failedResults', failure],
    ['unprocessedrecords', unprocessed],
  ] as const) {
    let rows: Record<string, string>[] = [];
    for await (const row of bulk.results(jobId, kind)) {
      rows.push(row);
      if (rows.length >= RESULT_CHUNK) {
        await record(rows, toResult);
        rows = [];
      }
    }
    if (rows.length > 0) await record(rows, toResult);
    deps.logger.debug({ jobId, kind }, 'Bulk API results recorded');
  }
  // Items the job reported nothing for: failed with the job's reason (never silently dropped).
  for (;;) {
    const left = await listBackfillItems(deps.pool, stored.id, { bulkJobId: jobId, limit: RESULT_CHUNK });
    if (left.length === 0) break;
    await withTransaction(deps.pool, async (client) => {
      await recordResults(
        state,
        client,
        left,
        new Map(
          left.map((item) => [
            item.custompmsId,
            {
              kind: 'task',
              key: item.custompmsId,
              success: false,
              errors: [{ statusCode: 'BULK_NO_RESULT', message: jobFailure(info) }],
            },
          ]),
        ),
        origin,
        () => Promise.reject(new Error('unreachable: no success here')),
      );
      await saveBackfillProgress(client, { ...stored, counters: state.counters });
    });
  }
  await setBulkJobState(deps.pool, jobId, 'recorded');
  deps.logger.info(
    {
      flow: state.flow.name,
      jobId,
      state: info.state,
      processed: info.numberRecordsProcessed,
      failed: info.numberRecordsFailed,
    },
    'Bulk API job recorded',
  );
}

function jobFailure(info: IngestJobInfo): string {
  return info.state === 'JobComplete'
    ? `Bulk API job ${info.id} reported no result for this record`
    : `Bulk API job ${info.id} ended ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ''}`;
}

/**
 * A job a crashed run had created: still Open (the upload may be partial) → aborted and its items
 * written again in a new job; submitted → its results are fetched; gone → items written again.
 */
async function resumeBulkJob(state: FlowRun, jobId: string): Promise<void> {
  const { deps, bulk } = state;
  const stored = state.stored!;
  let info: IngestJobInfo;
  try {
    info = await bulk.info(jobId);
  } catch (error) {
    if (error instanceof SalesforceApiError && error.errorCode === 'NOT_FOUND') {
      await releaseBulkJob(deps.pool, stored.id, jobId);
      return;
    }
    throw error;
  }
  state.bulkJobs.push(jobId);
  if (info.state === 'Open') {
    await bulk.abort(jobId);
    await releaseBulkJob(deps.pool, stored.id, jobId);
    deps.logger.info({ jobId }, 'Bulk API job left open by a crash aborted; its records go into a new job');
    return;
  }
  if (info.state === 'Aborted') {
    await releaseBulkJob(deps.pool, stored.id, jobId);
    return;
  }
  await setBulkJobState(deps.pool, jobId, 'submitted');
  deps.logger.info(
    { jobId, state: info.state },
    'fetching the results of a Bulk API job submitted before a crash',
  );
  await recordBulkJob(state, jobId);
}
