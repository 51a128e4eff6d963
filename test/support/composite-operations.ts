/**
 * For tests that stand in for SalesforceOperations with `create`/`update`/`upsert`/`query` stubs:
 * the `writeBatch` (one Composite call, salesforce/operations.ts) the api write path now makes,
 * built from those stubs — its writes in order, then its queries — so a stub sees the records it
 * saw when each Collections write was a call of its own. A stubbed `writeBatch` is kept.
 */
import type { CollectionsWrite, WriteBatchOutcome } from '../../proxy/src/salesforce/operations';

type Rows = Iterable<Record<string, unknown>> | AsyncIterable<Record<string, unknown>>;

interface CollectionsStubs {
  create?: (sobject: string, records: Record<string, unknown>[]) => Promise<unknown[]>;
  update?: (sobject: string, records: Record<string, unknown>[]) => Promise<unknown[]>;
  upsert?: (sobject: string, field: string, records: Record<string, unknown>[]) => Promise<unknown[]>;
  query?: (soql: string) => Rows;
  writeBatch?: unknown;
}

export function withWriteBatch<T extends object>(operations: T): T {
  const stubs = operations as CollectionsStubs;
  if (stubs.writeBatch) return operations;
  const write = (entry: CollectionsWrite): Promise<unknown[]> => {
    const missing = () => Promise.reject(new Error(`the test stubs no ${entry.operation}`));
    if (entry.operation === 'create') return stubs.create?.(entry.sobject, entry.records) ?? missing();
    if (entry.operation === 'update') return stubs.update?.(entry.sobject, entry.records) ?? missing();
    return stubs.upsert?.(entry.sobject, entry.externalIdField!, entry.records) ?? missing();
  };
  const writeBatch = async (
    writes: readonly CollectionsWrite[],
    queries: readonly string[] = [],
  ): Promise<WriteBatchOutcome> => {
    const outcome: WriteBatchOutcome = { writes: [], queries: [] };
    for (const entry of writes) {
      const raw = (await write(entry)) as {
        id?: string;
        success: boolean;
        created?: boolean;
        errors?: { statusCode: string; message: string; fields?: string[] }[];
      }[];
      outcome.writes.push({
        results: raw.map((result) => ({
          success: result.success,
          id: result.id ?? undefined,
          created: result.created ?? false,
          errors: (result.errors ?? []).map((error) => ({ ...error, fields: error.fields ?? [] })),
        })),
      });
    }
    for (const soql of queries) {
      const records: Record<string, unknown>[] = [];
      if (stubs.query) for await (const row of stubs.query(soql)) records.push(row);
      outcome.queries.push({ records });
    }
    return outcome;
  };
  return { ...operations, writeBatch };
}
