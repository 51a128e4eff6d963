/**
 * The Salesforce calls the sync makes, batched as Salesforce recommends: sObject Collections
 * for up to 200 records per call (SALESFORCE.md "REST efficiency"), several of them and a query
 * in one Composite call (`writeBatch`), one call per 200 platform events, SOQL with paging for
 * polls. Every call runs under the client's retry policy.
 */
import type { SalesforceClient } from './client';
import { SalesforceApiError } from './errors';

export const COLLECTION_LIMIT = 200;

/**
 * Composite (REST API Developer Guide, "Send Multiple Requests Using Composite"): "You can have up
 * to 25 subrequests in a single call. Up to 5 of these subrequests can be sObject Collections or
 * query operations, including Query and QueryAll requests." (`writeBatch` sends only those.)
 */
export const COMPOSITE_COLLECTIONS_OR_QUERIES_LIMIT = 5;
/**
 * The longest url a query subrequest is given: the REST API's limit on a request's URI
 * (Salesforce Help, "Maximum number of rows returned by SOQL queries over the REST API": "the
 * maximum length for the combined URI and headers is 16,384 bytes"), kept for the subrequest's
 * url though it travels in the body.
 */
export const COMPOSITE_QUERY_URL_LIMIT = 16_384;

export interface RecordResult {
  success: boolean;
  id: string | undefined;
  created: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
}

interface RawResult {
  id?: string | null;
  success: boolean;
  created?: boolean;
  errors?: ({ statusCode?: string; errorCode?: string; message?: string; fields?: string[] } | string)[];
}

function normaliseResult(raw: RawResult): RecordResult {
  return {
    success: raw.success,
    id: raw.id ?? undefined,
    created: raw.created ?? false,
    errors: (raw.errors ?? []).map((error) =>
      typeof error === 'string'
        ? { statusCode: 'UNKNOWN_ERROR', message: error, fields: [] }
        : {
            statusCode: error.statusCode ?? error.errorCode ?? 'UNKNOWN_ERROR',
            message: error.message ?? '',
            fields: error.fields ?? [],
          },
    ),
  };
}

export function chunk<T>(items: readonly T[], size = COLLECTION_LIMIT): T[][] {
  const chunks: T[][] = [];
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size));
  return chunks;
}

type Fields = Record<string, unknown>;

/** One sObject Collections write of a Composite call (≤200 records, all of one object). */
export interface CollectionsWrite {
  operation: 'create' | 'update' | 'upsert';
  sobject: string;
  /** `update`: each carries `Id`; `upsert`: each carries `externalIdField`. */
  records: Fields[];
  externalIdField?: string;
}

/** A Composite call's outcome: each write's per-record results, or its failure as a whole; each query's rows. */
export interface WriteBatchOutcome {
  writes: ({ results: RecordResult[] } | { error: SalesforceApiError })[];
  /** The rows of each query's first page (up to 2,000), or its failure. */
  queries: ({ records: Fields[] } | { error: SalesforceApiError })[];
}

interface CompositeSubrequest {
  method: 'GET' | 'POST' | 'PATCH';
  url: string;
  referenceId: string;
  body?: unknown;
}

interface CompositeSubresponse {
  body: unknown;
  httpStatusCode: number;
  referenceId: string;
}

/** A subrequest's error answer (`[{ errorCode, message, fields }]`) as the error a direct call throws. */
function subrequestError(response: CompositeSubresponse | undefined, what: string): SalesforceApiError {
  if (!response)
    return new SalesforceApiError('UNKNOWN_ERROR', `no answer for ${what} in the composite response`);
  const details = (Array.isArray(response.body) ? (response.body as unknown[]) : [])
    .filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object')
    .map((item) => ({
      errorCode:
        typeof item.errorCode === 'string' ? item.errorCode : `ERROR_HTTP_${response.httpStatusCode}`,
      message: typeof item.message === 'string' ? item.message : '',
      ...(Array.isArray(item.fields) ? { fields: item.fields.map(String) } : {}),
    }));
  const first = details[0];
  return new SalesforceApiError(
    first?.errorCode ?? `ERROR_HTTP_${response.httpStatusCode}`,
    first?.message || `${what} answered HTTP ${response.httpStatusCode}`,
    details,
  );
}

/** The Collections body jsforce sends for the same call (`sobject().create/update/upsert`). */
function collectionsSubrequest(
  base: string,
  write: CollectionsWrite,
  referenceId: string,
): CompositeSubrequest {
  const records = write.records.map((record) => {
    const { Id: id, attributes: _attributes, ...rest } = record;
    const attributes = { type: write.sobject };
    return write.operation === 'update' ? { id, attributes, ...rest } : { attributes, ...rest };
  });
  const body = { allOrNone: false, records };
  if (write.operation === 'create')
    return { method: 'POST', url: `${base}/composite/sobjects`, referenceId, body };
  if (write.operation === 'update')
    return { method: 'PATCH', url: `${base}/composite/sobjects`, referenceId, body };
  return {
    method: 'PATCH',
    url: `${base}/composite/sobjects/${write.sobject}/${write.externalIdField!}`,
    referenceId,
    body,
  };
}

/** A query subrequest's url (the query string URL-encoded, as the Composite resource requires). */
export function compositeQueryUrl(apiVersion: string, soql: string): string {
  return `/services/data/v${apiVersion}/query?q=${encodeURIComponent(soql)}`;
}

export class SalesforceOperations {
  constructor(readonly client: SalesforceClient) {}

  /** Publishes platform events, 200 per sObject Collections call. */
  async publishEvents(eventType: string, events: Fields[]): Promise<RecordResult[]> {
    return this.create(eventType, events);
  }

  async create(sobject: string, records: Fields[]): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    for (const part of chunk(records)) {
      // Not idempotent: a lost answer is not retried blindly (a repeat would duplicate records).
      const raw = await this.client.call((conn) => conn.sobject(sobject).create(part, { allOrNone: false }), {
        idempotent: false,
      });
      results.push(...(raw as RawResult[]).map(normaliseResult));
    }
    return results;
  }

  /** Updates by Id (each record carries `Id`), 200 per call, results in input order. */
  async update(sobject: string, records: (Fields & { Id: string })[]): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    for (const part of chunk(records)) {
      const raw = await this.client.call((conn) => conn.sobject(sobject).update(part, { allOrNone: false }));
      results.push(...(raw as RawResult[]).map(normaliseResult));
    }
    return results;
  }

  /** Upserts on an external id (`PATCH /composite/sobjects/{object}/{field}`), 200 per call. */
  async upsert(sobject: string, externalIdField: string, records: Fields[]): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    for (const part of chunk(records)) {
      const raw = await this.client.call((conn) =>
        conn.sobject(sobject).upsert(part, externalIdField, { allOrNone: false }),
      );
      results.push(...(raw as RawResult[]).map(normaliseResult));
    }
    return results;
  }

  /**
   * Several Collections writes and queries in ONE Composite call, which "counts as a single call
   * toward your API limits" (REST API Developer Guide, "Send Multiple Requests Using Composite"):
   * the writes in the order given (`collateSubrequests: false`: collated subrequests have no
   * guaranteed order, and a query must see the writes before it), then the queries. `allOrNone`
   * false: each write's records succeed or fail on their own, as the same Collections call does.
   *
   * The call as a whole runs under the client's rules (timeout, abort, retry; a session expiry is
   * refreshed and the call sent again). It is idempotent — retried after an ambiguous failure —
   * only when no write is a create. A subrequest refused as a whole (an error answer: it applied
   * nothing) is reported in its place and never makes the call be sent again: the other writes
   * were applied, and a repeated upsert would create again a Task a user deleted meanwhile.
   */
  async writeBatch(
    writes: readonly CollectionsWrite[],
    queries: readonly string[] = [],
  ): Promise<WriteBatchOutcome> {
    const collections = writes.length + queries.length;
    if (collections === 0) return { writes: [], queries: [] };
    if (collections > COMPOSITE_COLLECTIONS_OR_QUERIES_LIMIT)
      throw new Error(
        `a composite call carries up to ${COMPOSITE_COLLECTIONS_OR_QUERIES_LIMIT} collections and queries (${collections} given)`,
      );
    for (const write of writes) {
      if (write.records.length === 0 || write.records.length > COLLECTION_LIMIT)
        throw new Error(
          `a collections write carries 1 to ${COLLECTION_LIMIT} records (${write.records.length} given)`,
        );
      if (write.operation === 'upsert' && !write.externalIdField)
        throw new Error('an upsert needs its external id field');
    }
    const parse = (responses: CompositeSubresponse[]): WriteBatchOutcome => {
      const byReference = new Map(responses.map((response) => [response.referenceId, response]));
      return {
        writes: writes.map((write, index) => {
          const response = byReference.get(`write${index}`);
          const what = `the ${write.sobject} ${write.operation}`;
          if (!response || response.httpStatusCode >= 400 || !Array.isArray(response.body))
            return { error: subrequestError(response, what) };
          return { results: (response.body as RawResult[]).map(normaliseResult) };
        }),
        queries: queries.map((_soql, index) => {
          const response = byReference.get(`query${index}`);
          const body = response?.body as { records?: unknown } | undefined;
          if (!response || response.httpStatusCode >= 400 || !Array.isArray(body?.records))
            return { error: subrequestError(response, `query ${index}`) };
          return { records: body.records as Fields[] };
        }),
      };
    };
    return this.client.call(
      async (conn) => {
        const base = `/services/data/v${conn.version}`;
        const subrequests: CompositeSubrequest[] = [
          ...writes.map((write, index) => collectionsSubrequest(base, write, `write${index}`)),
          ...queries.map((soql, index) => ({
            method: 'GET' as const,
            url: compositeQueryUrl(conn.version, soql),
            referenceId: `query${index}`,
          })),
        ];
        const answer = await conn.request<{ compositeResponse?: CompositeSubresponse[] }>({
          method: 'POST',
          url: `${base}/composite`,
          body: JSON.stringify({
            allOrNone: false,
            // Available from API 48.0 (before it, subrequests are never collated).
            ...(Number(conn.version) >= 48 ? { collateSubrequests: false } : {}),
            compositeRequest: subrequests,
          }),
          headers: { 'content-type': 'application/json' },
        });
        return parse(answer.compositeResponse ?? []);
      },
      { idempotent: writes.every((write) => write.operation !== 'create') },
    );
  }

  async destroy(sobject: string, ids: string[]): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    for (const part of chunk(ids)) {
      const raw = await this.client.call((conn) => conn.sobject(sobject).destroy(part, { allOrNone: false }));
      results.push(...(raw as RawResult[]).map(normaliseResult));
    }
    return results;
  }

  /** Runs a SOQL query and yields every record, following `nextRecordsUrl` page by page. */
  async *query<T extends Fields>(
    soql: string,
    options: { includeDeleted?: boolean } = {},
  ): AsyncGenerator<T> {
    type Page = { records: T[]; done: boolean; nextRecordsUrl?: string };
    // scanAll → /queryAll: archived and deleted Tasks too (SALESFORCE.md, Task).
    let page = await this.client.call(
      async (conn) =>
        (await conn.query<T>(soql, { autoFetch: false, scanAll: options.includeDeleted ?? false })) as Page,
    );
    for (;;) {
      for (const record of page.records) yield record;
      if (page.done || !page.nextRecordsUrl) return;
      const next = page.nextRecordsUrl;
      page = await this.client.call(async (conn) => (await conn.queryMore<T>(next)) as Page);
    }
  }

  async queryAll<T extends Fields>(soql: string, options: { includeDeleted?: boolean } = {}): Promise<T[]> {
    const records: T[] = [];
    for await (const record of this.query<T>(soql, options)) records.push(record);
    return records;
  }

  /** `GET /sobjects/{type}/deleted/?start&end`: ids deleted in a window (≤30 days back). */
  async deleted(
    sobject: string,
    start: Date,
    end: Date,
  ): Promise<{ records: { id: string; deletedDate: string }[]; latestDateCovered: string }> {
    const result = await this.client.call((conn) => conn.sobject(sobject).deleted(start, end));
    return {
      records: result.deletedRecords.map((record) => ({ id: record.id, deletedDate: record.deletedDate })),
      latestDateCovered: result.latestDateCovered,
    };
  }
}

/** SOQL string literal: backslash-escape quotes and backslashes (no string-built injection). */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A SOQL datetime literal (unquoted UTC ISO-8601). */
export function soqlDateTime(value: Date): string {
  return value.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
