/**
 * The Salesforce calls the sync makes, batched as Salesforce recommends: sObject Collections
 * for up to 200 records per call (SALESFORCE.md "REST efficiency"), one call per 200 platform
 * events, SOQL with paging for polls. Every call runs under the client's retry policy.
 */
import type { SalesforceClient } from './client';

export const COLLECTION_LIMIT = 200;

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
