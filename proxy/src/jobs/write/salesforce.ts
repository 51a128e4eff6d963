/**
 * The Salesforce write path shared by the incremental sync (outbox → change batches,
 * jobs/batches.ts) and the backfill (jobs/backfill/): the record a planned write sends, the
 * sObject Collections write of a set of such records, and its per-record results in the shape
 * the org's Apex reports them (`BatchResult`), so both paths record results alike
 * (write/record-result.ts), and the canonical form of a Salesforce id.
 */
import { canonicalSalesforceId, type FlowDefinition, type Link, type Plan, type Write } from '../../sync';
import type { OutboxItem, OutboxKind } from '../../store/batches';
import type { RecordResult, SalesforceOperations } from '../../salesforce/operations';
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

function withoutId(record: Record<string, unknown>): Record<string, unknown> {
  const { Id: _id, ...rest } = record;
  return rest;
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
