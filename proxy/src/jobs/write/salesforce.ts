/**
 * The Salesforce write path shared by the incremental sync (outbox → change batches,
 * jobs/batches.ts) and the backfill (jobs/backfill/): the record a planned write sends, the
 * sObject Collections write of a set of such records (one call per Collections write, or all of
 * a change batch's in one Composite call with the read-back of its Tasks' SystemModstamp), and
 * its per-record results in the shape the org's Apex reports them (`BatchResult`), so both paths
 * record results alike (write/record-result.ts), and the canonical form of a Salesforce id.
 */
import { canonicalSalesforceId, type FlowDefinition, type Link, type Plan, type Write } from '../../sync';
import type { OutboxItem, OutboxKind } from '../../store/batches';
import { SalesforceApiError } from '../../salesforce/errors';
import {
  chunk,
  COMPOSITE_COLLECTIONS_OR_QUERIES_LIMIT,
  COMPOSITE_QUERY_URL_LIMIT,
  compositeQueryUrl,
  soqlString,
  type CollectionsWrite,
  type RecordResult,
  type SalesforceOperations,
} from '../../salesforce/operations';
import { SYNCED } from '../task-status';

/** One record's outcome, as the org's Apex reports it (proxy/openapi/proxy.yaml, BatchResults). */
export interface BatchResult {
  kind: OutboxKind;
  key: string;
  success: boolean;
  salesforceId?: string | null;
  created?: boolean;
  errors?: { statusCode: string; message: string; fields?: string[] }[];
  /** The record's SystemModstamp after the write, when the writer reports it (else read back). */
  systemModstamp?: string | null;
}

export function outboxKind(flow: FlowDefinition): OutboxKind {
  return flow.salesforceObject === 'Division' ? 'division' : 'task';
}

/**
 * The Salesforce record a planned write sends. Every Task carries its Custompms id (creates are
 * upserted on it, so a repeat never duplicates) and the sync status. `taskId`: a Task update
 * also names its Id (the backfill updates by Id; the outbox upserts on `Custompms_Id__c`).
 */
export function salesforceRecord(
  flow: FlowDefinition,
  write: Write,
  custompmsId: string,
  options: { taskId: boolean },
): Record<string, unknown> {
  const record: Record<string, unknown> = { ...write.fields };
  if (write.id && (flow.salesforceObject === 'Division' || options.taskId)) record.Id = write.id;
  if (flow.salesforceObject === 'Task') {
    record.Custompms_Id__c = custompmsId;
    record.Custompms_Sync_Status__c = SYNCED;
    record.Custompms_Sync_Error__c = null;
  }
  return record;
}

/** A planned Salesforce write of the incremental sync, as the outbox stores it. */
export function outboxItem(flow: FlowDefinition, write: Write, link: Link, plan: Plan): OutboxItem {
  const custompmsId = link.custompmsId!;
  return {
    flow: flow.name,
    custompmsId,
    kind: outboxKind(flow),
    record: salesforceRecord(flow, write, custompmsId, { taskId: false }),
    plan: { link, write, source: plan.source },
    custompmsVersion: typeof link.custompms.version === 'number' ? link.custompms.version : 0,
  };
}

/** A record to write, keyed by its Custompms id. */
export interface CollectionsItem {
  kind: OutboxKind;
  custompmsId: string;
  record: Record<string, unknown>;
}

/** One sObject Collections operation over a set of records (200 per call). */
export interface CollectionsCall {
  object: FlowDefinition['salesforceObject'];
  /** `upsert` is on `Custompms_Id__c` (Tasks), without the record's Id. */
  operation: 'create' | 'update' | 'upsert';
  items: readonly CollectionsItem[];
}

/** Performs the calls in order; one result per item, in the calls' order. */
export async function writeCollections(
  operations: SalesforceOperations,
  calls: readonly CollectionsCall[],
): Promise<BatchResult[]> {
  const results: BatchResult[] = [];
  for (const { object, operation, items } of calls) {
    const raw = await write(operations, object, operation, items);
    results.push(...items.map((item, index) => toBatchResult(item, raw[index])));
  }
  return results;
}

function write(
  operations: SalesforceOperations,
  object: string,
  operation: CollectionsCall['operation'],
  items: readonly CollectionsItem[],
): Promise<RecordResult[]> {
  switch (operation) {
    case 'create':
      return operations.create(
        object,
        items.map((item) => item.record),
      );
    case 'update':
      return operations.update(
        object,
        items.map((item) => item.record as Record<string, unknown> & { Id: string }),
      );
    case 'upsert':
      return operations.upsert(
        object,
        'Custompms_Id__c',
        items.map((item) => withoutId(item.record)),
      );
  }
}

/**
 * The calls of a change batch in as few Composite calls as they fit (one for a batch of up to 200
 * records: up to four Collections writes and the read-back), instead of one call per Collections
 * write and one more for the read-back. Results as `writeCollections` gives them (per item, in the
 * calls' order), each successful Task's with its SystemModstamp when the read-back found it: a
 * `SELECT Id, SystemModstamp FROM Task WHERE Custompms_Id__c IN (…)` of every Task written (every
 * Task the sync writes carries its Custompms id), after the writes in the same call. Tasks it
 * could not cover (no room left in the call, a url past the limit, a failed query, reported to
 * `onStampsUnread`) carry none: `withModstamps` (jobs/batches.ts) reads those back.
 *
 * A write refused as a whole (its subrequest's error answer: nothing of it applied) gives each of
 * its records a failed result with the refusal's code, beside the others' results; it is never
 * sent again within the call. A transient refusal (503, a limit) is written again later like any
 * transient per-record refusal (jobs/batches.ts `deferTransientFailure`). A call that fails as a
 * whole throws: the batch is then written again by the overdue sweep.
 */
export async function writeBatchInOneCall(
  operations: Pick<SalesforceOperations, 'writeBatch'>,
  calls: readonly CollectionsCall[],
  options: {
    onStampsUnread?: (error: SalesforceApiError) => void;
    onRefused?: (error: SalesforceApiError, call: CollectionsCall) => void;
  } = {},
): Promise<BatchResult[]> {
  const parts = calls.flatMap((call) => chunk(call.items).map((items) => ({ ...call, items })));
  if (parts.length === 0) return [];
  const groups = chunk(parts, COMPOSITE_COLLECTIONS_OR_QUERIES_LIMIT);
  const taskIds = [
    ...new Set(
      parts.flatMap((part) => (part.object === 'Task' ? part.items.map((item) => item.custompmsId) : [])),
    ),
  ];
  // The read-back goes in the last call, in the room its writes leave.
  const room = COMPOSITE_COLLECTIONS_OR_QUERIES_LIMIT - groups.at(-1)!.length;
  const queries = stampQueries(taskIds).slice(0, room);
  const results: BatchResult[] = [];
  const stamps = new Map<string, string>();
  for (const [index, group] of groups.entries()) {
    const outcome = await operations.writeBatch(
      group.map((part) => toCollectionsWrite(part)),
      index === groups.length - 1 ? queries : [],
    );
    group.forEach((part, k) => {
      const written = outcome.writes[k];
      if (written && !('error' in written)) {
        results.push(...part.items.map((item, n) => toBatchResult(item, written.results[n])));
        return;
      }
      // Refused as a whole: it applied nothing, while the call's other writes were applied. Each of
      // its records fails with the refusal's code (a transient one is written again later), and the
      // others' results are kept: failing the whole batch would make the sweep write those again,
      // over whatever users changed since.
      const error = written?.error ?? new SalesforceApiError('UNKNOWN_ERROR', 'no answer for a write');
      options.onRefused?.(error, part);
      results.push(...part.items.map((item) => refusedResult(item, error)));
    });
    for (const query of outcome.queries) {
      if ('error' in query) {
        options.onStampsUnread?.(query.error);
        continue;
      }
      for (const row of query.records) {
        if (typeof row.Id === 'string' && typeof row.SystemModstamp === 'string')
          stamps.set(row.Id.slice(0, 15), row.SystemModstamp);
      }
    }
  }
  return results.map((result) => {
    const stamp =
      result.kind === 'task' && result.success && result.salesforceId
        ? stamps.get(result.salesforceId.slice(0, 15))
        : undefined;
    return stamp ? { ...result, systemModstamp: stamp } : result;
  });
}

function toCollectionsWrite({ object, operation, items }: CollectionsCall): CollectionsWrite {
  if (operation === 'upsert')
    return {
      operation,
      sobject: object,
      externalIdField: 'Custompms_Id__c',
      records: items.map((item) => withoutId(item.record)),
    };
  return { operation, sobject: object, records: items.map((item) => item.record) };
}

/** The read-back queries of these Tasks, each url within the REST API's URI limit. */
function stampQueries(custompmsIds: readonly string[]): string[] {
  const queries: string[] = [];
  const soql = (ids: readonly string[]) =>
    `SELECT Id, SystemModstamp FROM Task WHERE Custompms_Id__c IN (${ids.map(soqlString).join(', ')})`;
  // Any API version ("NN.0") gives a url of the same length.
  const fits = (ids: readonly string[]) =>
    compositeQueryUrl('00.0', soql(ids)).length <= COMPOSITE_QUERY_URL_LIMIT;
  let current: string[] = [];
  const close = () => {
    if (current.length > 0 && fits(current)) queries.push(soql(current));
    current = [];
  };
  for (const id of custompmsIds) {
    if (current.length > 0 && !fits([...current, id])) close();
    current.push(id);
  }
  close();
  return queries;
}

function withoutId(record: Record<string, unknown>): Record<string, unknown> {
  const { Id: _id, ...rest } = record;
  return rest;
}

function refusedResult(item: CollectionsItem, error: SalesforceApiError): BatchResult {
  const details =
    error.details.length > 0 ? error.details : [{ errorCode: error.errorCode, message: error.message }];
  return {
    kind: item.kind,
    key: item.custompmsId,
    success: false,
    salesforceId: (item.record.Id as string | undefined) ?? null,
    created: false,
    errors: details.map((detail) => ({
      statusCode: detail.errorCode,
      message: detail.message,
      ...(detail.fields ? { fields: detail.fields } : {}),
    })),
  };
}

function toBatchResult(item: CollectionsItem, result: RecordResult | undefined): BatchResult {
  return {
    kind: item.kind,
    key: item.custompmsId,
    success: result?.success ?? false,
    salesforceId: result?.id ?? (item.record.Id as string | undefined) ?? null,
    created: result?.created ?? false,
    errors: result?.errors ?? [],
  };
}

/** A Salesforce id in its 18-character form (a 15-character id gets its checksum suffix). */
export function canonicalId(id: string): string {
  const canonical = canonicalSalesforceId(id);
  return typeof canonical === 'string' ? canonical : id;
}
