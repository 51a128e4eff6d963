/**
 * Bulk API 2.0 ingest (Bulk API 2.0 and Bulk API Developer Guide, "Bulk API 2.0 Ingest": create
 * a job, upload CSV to `contentUrl`, PATCH `state: UploadComplete`, poll job info, download
 * `successfulResults` / `failedResults` / `unprocessedrecords`).
 *
 * The JSON calls go through jsforce (`conn.request`), so token refresh and our retry policy apply.
 * Job data and results are CSV of any size, so they are streamed with plain fetch instead of
 * buffered: the upload body is an async iterable produced while it is sent, and results are
 * parsed row by row with csv-parse. Memory stays at one chunk whatever the job's size.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { SalesforceClient } from './client';
import { normaliseSalesforceError, SalesforceApiError } from './errors';

export type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete';
export type IngestJobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
/** The three result sets of a finished job. */
export type IngestResultKind = 'successfulResults' | 'failedResults' | 'unprocessedrecords';

export interface IngestJobInfo {
  id: string;
  state: IngestJobState;
  object: string;
  operation: IngestOperation;
  numberRecordsProcessed?: number;
  numberRecordsFailed?: number;
  errorMessage?: string;
}

/** States after which a job changes no more. */
export const FINAL_STATES: readonly IngestJobState[] = ['JobComplete', 'Failed', 'Aborted'];

export interface Bulk2Options {
  /** Injected for tests; defaults to Node's fetch. */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** Thrown when a job does not finish in the time allowed; the job keeps running in Salesforce. */
export class BulkJobTimeoutError extends Error {
  readonly code = 'BULK_JOB_TIMEOUT';
  constructor(
    readonly jobId: string,
    readonly state: IngestJobState,
  ) {
    super(`Bulk API job ${jobId} is still ${state}`);
    this.name = 'BulkJobTimeoutError';
  }
}

/** One Salesforce org's Bulk API 2.0 ingest resource. */
export class Bulk2Ingest {
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(
    readonly client: SalesforceClient,
    options: Bulk2Options = {},
  ) {
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  #path(suffix = ''): string {
    return `/services/data/v${this.client.conn.version}/jobs/ingest${suffix}`;
  }

  async createJob(spec: {
    object: string;
    operation: IngestOperation;
    externalIdFieldName?: string;
  }): Promise<IngestJobInfo> {
    // Retried on transient errors: a lost answer may leave an empty job behind (it expires unused).
    return this.client.call((conn) =>
      conn.request<IngestJobInfo>({
        method: 'POST',
        url: this.#path(),
        body: JSON.stringify({
          object: spec.object,
          operation: spec.operation,
          ...(spec.externalIdFieldName ? { externalIdFieldName: spec.externalIdFieldName } : {}),
          contentType: 'CSV',
          columnDelimiter: 'COMMA',
          lineEnding: 'LF',
        }),
        headers: { 'Content-Type': 'application/json' },
      }),
    );
  }

  async info(jobId: string): Promise<IngestJobInfo> {
    return this.client.call((conn) =>
      conn.request<IngestJobInfo>(this.#path(`/${encodeURIComponent(jobId)}`)),
    );
  }

  async #setState(jobId: string, state: 'UploadComplete' | 'Aborted'): Promise<IngestJobInfo> {
    return this.client.call((conn) =>
      conn.request<IngestJobInfo>({
        method: 'PATCH',
        url: this.#path(`/${encodeURIComponent(jobId)}`),
        body: JSON.stringify({ state }),
        headers: { 'Content-Type': 'application/json' },
      }),
    );
  }

  /** Ends the upload: Salesforce starts processing. */
  close(jobId: string): Promise<IngestJobInfo> {
    return this.#setState(jobId, 'UploadComplete');
  }

  abort(jobId: string): Promise<IngestJobInfo> {
    return this.#setState(jobId, 'Aborted');
  }

  /**
   * Uploads the job's CSV as it is produced. `body` is called again for the one retry after an
   * expired session (a stream can be sent once only).
   */
  async upload(jobId: string, body: () => AsyncIterable<string | Uint8Array>): Promise<void> {
    const path = this.#path(`/${encodeURIComponent(jobId)}/batches`);
    const response = await this.#send(path, (token) => ({
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv', Accept: 'application/json' },
      body: Readable.from(body()),
      duplex: 'half',
    }));
    await response.arrayBuffer();
  }

  /** Polls job info until the job is final (growing intervals), or throws `BulkJobTimeoutError`. */
  async waitForCompletion(
    jobId: string,
    options: { intervalMs?: number; maxIntervalMs?: number; timeoutMs?: number } = {},
  ): Promise<IngestJobInfo> {
    let interval = options.intervalMs ?? 2_000;
    const maxInterval = options.maxIntervalMs ?? 30_000;
    const deadline = Date.now() + (options.timeoutMs ?? 60 * 60_000);
    for (;;) {
      const info = await this.info(jobId);
      if (FINAL_STATES.includes(info.state)) return info;
      if (Date.now() >= deadline) throw new BulkJobTimeoutError(jobId, info.state);
      await this.#sleep(interval);
      interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
    }
  }

  /**
   * The rows of one result set (header row → object keys: `sf__Id`, `sf__Created` or `sf__Error`,
   * then the uploaded columns). The CSV is first spooled to a temporary file at network speed,
   * then parsed from there: a caller that records each row in the database reads far slower than
   * the answer arrives, and a server (or proxy) drops a connection left idle that long.
   */
  async *results(jobId: string, kind: IngestResultKind): AsyncGenerator<Record<string, string>> {
    const dir = await mkdtemp(path.join(tmpdir(), 'bulk2-'));
    const file = path.join(dir, `${kind}.csv`);
    try {
      await this.#download(this.#path(`/${encodeURIComponent(jobId)}/${kind}`), file);
      const source = createReadStream(file);
      const parser = source.pipe(
        parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true }),
      );
      source.on('error', (error) => parser.destroy(error));
      for await (const row of parser) yield row as Record<string, string>;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Downloads to a file; a connection lost half way is retried from the start (a GET). */
  async #download(urlPath: string, file: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#send(urlPath, (token) => ({
          method: 'GET',
          headers: { Authorization: `Bearer ${token}`, Accept: 'text/csv' },
        }));
        if (!response.body) {
          await writeFile(file, '');
          return;
        }
        await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
        return;
      } catch (error) {
        const normalised = normaliseSalesforceError(error);
        if (attempt >= 3 || normalised.errorCode !== 'NETWORK_ERROR') throw normalised;
        await this.#sleep(500 * attempt);
      }
    }
  }

  /**
   * One streamed request with the current token; on 401 a JSON call through jsforce refreshes the
   * session and the request is made once more. Other non-2xx answers throw Salesforce's error.
   */
  async #send(path: string, init: (token: string) => RequestInit & { duplex?: 'half' }): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const conn = this.client.conn;
      let response: Response;
      try {
        response = await this.#fetch(`${conn.instanceUrl}${path}`, init(conn.accessToken ?? ''));
      } catch (error) {
        throw normaliseSalesforceError(error);
      }
      if (response.ok) return response;
      const text = await response.text();
      if (response.status === 401 && attempt === 1) {
        // jsforce's refresh delegate renews the token on this call's 401.
        await this.client.call((c) => c.request(`/services/data/v${c.version}/limits`));
        continue;
      }
      throw errorFromBody(response.status, text);
    }
  }
}

function errorFromBody(status: number, text: string): SalesforceApiError {
  try {
    const parsed = JSON.parse(text) as unknown;
    const first = (Array.isArray(parsed) ? parsed[0] : parsed) as { errorCode?: string; message?: string };
    if (first && typeof first.errorCode === 'string') {
      return new SalesforceApiError(first.errorCode, first.message ?? text);
    }
  } catch {
    // not JSON: fall through
  }
  return new SalesforceApiError(`ERROR_HTTP_${status}`, text.slice(0, 500) || `HTTP ${status}`);
}

/** Splits a Bulk API `sf__Error` (`CODE:message:fields --`, several joined by spaces) into errors. */
export function parseBulkError(raw: string): { statusCode: string; message: string; fields: string[] }[] {
  const parts = raw
    .split(/\s*--\s*/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return parts.map((part) => {
    const first = part.indexOf(':');
    if (first < 0) return { statusCode: 'UNKNOWN_ERROR', message: part, fields: [] };
    const statusCode = part.slice(0, first);
    const rest = part.slice(first + 1);
    const last = rest.lastIndexOf(':');
    const message = last < 0 ? rest : rest.slice(0, last);
    const fields =
      last < 0
        ? []
        : rest
            .slice(last + 1)
            .split(',')
            .filter((field) => field !== '');
    return { statusCode, message, fields };
  });
}
