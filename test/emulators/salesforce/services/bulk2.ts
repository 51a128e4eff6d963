/**
 * Bulk API 2.0 ingest jobs (Bulk API 2.0 and Bulk API Developer Guide: "Create a Job", "Upload
 * Job Data", "Close or Abort a Job", "Get Job Info", "Get Job Successful/Failed/Unprocessed Record
 * Results"). A closed job runs asynchronously in chunks of 10,000 records (each chunk one
 * transaction with partial success, one "batch" against the daily allocation). CSV rules: an empty
 * value leaves the field alone on update/upsert, `#N/A` sets it to null. Failed rows carry
 * `sf__Error` as `STATUS_CODE:message:field,field --`.
 *
 * Timing (the latency profile): a closed job waits in the queue (`processingDelayMs`, state
 * UploadComplete), then is InProgress until its records are processed. The org's ingest capacity
 * (`recordsPerSecond`) is one rate shared by every job processed at once, whichever job its records
 * come from: Salesforce processes a job's internal batches in parallel with each other and with
 * other jobs' ("Understanding Bulk API 2.0 Ingest"; "General Guidelines for Data Loads": in
 * parallel mode "batches are processed in parallel with other batches from the same job and
 * batches from other parallel mode jobs"), and documents no extra capacity for more jobs. So
 * splitting a load into parallel jobs overlaps their queue times, never adds throughput: the
 * emulator is not kinder to many jobs than to one.
 */
import { parse, type Options as CsvOptions } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { ApiError, recordError, type RecordError } from '../errors';
import type { IdFactory } from '../ids';
import type { Database, DmlOptions, RunAs, SaveResult } from '../data/database';
import { USER_MODE } from '../security/access';
import { coerceValue, scalarText, ValueError, type FieldValues, type ParsedInput } from '../data/values';
import type { OrgLimits } from '../limits';
import type { OrgSchema } from '../schema/org-schema';
import type { FieldDef, ObjectDef } from '../schema/types';
import { formatDateTime, type Clock } from '../time';

export type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';
export type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};

const CHUNK = 10_000;

/** csv-parse without column mapping: rows of strings. */
function parseCsv(text: string, options: CsvOptions): string[][] {
  const rows: unknown = parse(text, options);
  return rows as string[][];
}

interface IngestJob {
  id: string;
  object: ObjectDef;
  operation: IngestOperation;
  externalIdFieldName?: string;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  state: JobState;
  createdById: string;
  createdDate: number;
  systemModstamp: number;
  apiVersion: number;
  errorMessage?: string;
  user: RunAs;
  uploads: string[];
  header: string[];
  successful: { id: string; created: boolean; row: string[] }[];
  failed: { id: string; error: string; row: string[] }[];
  unprocessed: string[][];
  processed: number;
  totalProcessingTime: number;
}

export interface Bulk2Options {
  /** Time between close and the start of processing (ms): the job's queue time. */
  processingDelayMs: number;
  /**
   * The org's ingest capacity once jobs are processed (the latency profile), records per second,
   * shared by every job InProgress at once; 0 or absent: at once.
   */
  recordsPerSecond?: number;
}

/**
 * The org's ingest capacity, shared equally by the jobs being processed (processor sharing): with
 * n jobs InProgress each advances at rate/n. A job whose records are all through completes.
 */
class IngestCapacity {
  private readonly active = new Map<IngestJob, { remaining: number; done: () => void }>();
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly recordsPerSecond: () => number) {}

  /** Starts processing `records` of the job; `done` runs once they are all through. */
  add(job: IngestJob, records: number, done: () => void): void {
    this.advance();
    this.active.set(job, { remaining: records, done });
    this.schedule();
  }

  /** A job that stops (aborted) gives its share back (and is done: nothing more of it runs). */
  remove(job: IngestJob): void {
    const entry = this.active.get(job);
    if (!entry) return;
    this.advance();
    this.active.delete(job);
    entry.done();
    this.schedule();
  }

  private advance(): void {
    const now = performance.now();
    const elapsed = (now - this.lastAt) / 1000;
    this.lastAt = now;
    if (this.active.size === 0) return;
    const share = (elapsed * this.recordsPerSecond()) / this.active.size;
    for (const entry of this.active.values()) entry.remaining -= share;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Jobs through (within a record) complete now, in the order they started.
    for (const [job, entry] of [...this.active]) {
      if (entry.remaining > 0.5) continue;
      this.active.delete(job);
      entry.done();
    }
    if (this.active.size === 0) return;
    const least = Math.min(...[...this.active.values()].map((entry) => entry.remaining));
    const ms = Math.max(1, (least * this.active.size * 1000) / this.recordsPerSecond());
    this.timer = setTimeout(() => {
      this.advance();
      this.schedule();
    }, ms);
  }
}

export class Bulk2Service {
  private readonly jobs = new Map<string, IngestJob>();
  private running = new Set<Promise<void>>();
  private readonly capacity = new IngestCapacity(() => this.options.recordsPerSecond ?? 0);
  /** Per-row fault hook (UNABLE_TO_LOCK_ROW injection). */
  recordFault: () => RecordError | undefined = () => undefined;

  constructor(
    private readonly schema: OrgSchema,
    private readonly db: Database,
    private readonly ids: IdFactory,
    private readonly clock: Clock,
    private readonly limits: OrgLimits,
    public options: Bulk2Options = { processingDelayMs: 20 },
  ) {}

  private get(id: string): IngestJob {
    const job = this.jobs.get(id);
    if (!job) throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return job;
  }

  create(body: Record<string, unknown>, user: RunAs, version: string): Record<string, unknown> {
    const objectName = typeof body.object === 'string' ? body.object : '';
    const object = this.schema.object(objectName);
    if (!object || object.kind === 'customMetadata') {
      throw new ApiError(400, 'INVALIDENTITY', `Entity '${objectName}' is not supported by the Bulk API.`);
    }
    const operation = body.operation as IngestOperation;
    if (!['insert', 'update', 'upsert', 'delete', 'hardDelete'].includes(operation)) {
      throw new ApiError(400, 'INVALIDJOB', `Invalid operation: ${String(body.operation)}`);
    }
    if (operation === 'upsert' && typeof body.externalIdFieldName !== 'string') {
      throw new ApiError(
        400,
        'INVALIDJOB',
        'External ID was blank for Task. An External ID must be specified for upsert.',
      );
    }
    if (operation === 'hardDelete') {
      throw new ApiError(400, 'FEATURENOTENABLED', 'Hard delete is not enabled for this user');
    }
    if (body.contentType !== undefined && body.contentType !== 'CSV') {
      throw new ApiError(400, 'INVALIDJOB', `Invalid content type: ${scalarText(body.contentType)}`);
    }
    const delimiter = DELIMITERS[scalarText(body.columnDelimiter ?? 'COMMA')];
    if (!delimiter)
      throw new ApiError(400, 'INVALIDJOB', `Invalid column delimiter: ${scalarText(body.columnDelimiter)}`);
    const now = this.db.now();
    const job: IngestJob = {
      id: this.ids.next('750'),
      object,
      operation,
      externalIdFieldName: operation === 'upsert' ? (body.externalIdFieldName as string) : undefined,
      lineEnding: body.lineEnding === 'CRLF' ? 'CRLF' : 'LF',
      columnDelimiter: scalarText(body.columnDelimiter ?? 'COMMA'),
      state: 'Open',
      createdById: user.id,
      createdDate: now,
      systemModstamp: now,
      apiVersion: Number(version),
      user,
      uploads: [],
      header: [],
      successful: [],
      failed: [],
      unprocessed: [],
      processed: 0,
      totalProcessingTime: 0,
    };
    this.jobs.set(job.id, job);
    return this.info(job, version);
  }

  info(job: IngestJob, version: string, full = false): Record<string, unknown> {
    const base: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object.name,
      createdById: job.createdById,
      createdDate: formatDateTime(job.createdDate),
      systemModstamp: formatDateTime(job.systemModstamp),
      state: job.state,
      ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: job.apiVersion,
      contentUrl: `services/data/v${version}/jobs/ingest/${job.id}/batches`,
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    };
    if (!full) return base;
    return {
      ...base,
      jobType: 'V2Ingest',
      retries: 0,
      numberRecordsProcessed: job.processed,
      numberRecordsFailed: job.failed.length,
      totalProcessingTime: job.totalProcessingTime,
      apiActiveProcessingTime: job.totalProcessingTime,
      apexProcessingTime: 0,
      ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
    };
  }

  getInfo(id: string, version: string): Record<string, unknown> {
    return this.info(this.get(id), version, true);
  }

  list(version: string): Record<string, unknown> {
    return {
      done: true,
      records: [...this.jobs.values()].map((j) => this.info(j, version)),
      nextRecordsUrl: null,
    };
  }

  upload(id: string, csv: string): void {
    const job = this.get(id);
    if (job.state !== 'Open') {
      throw new ApiError(
        409,
        'INVALIDJOBSTATE',
        `Job's state is ${job.state}; data can only be uploaded to an Open job`,
      );
    }
    if (!csv.trim()) throw new ApiError(400, 'INVALIDJOB', 'Upload data is empty');
    job.uploads.push(csv);
  }

  setState(id: string, state: unknown, version: string): Record<string, unknown> {
    const job = this.get(id);
    if (state === 'UploadComplete') {
      if (job.state !== 'Open') {
        throw new ApiError(
          409,
          'INVALIDJOBSTATE',
          `Job's state is ${job.state}; only an Open job can be closed`,
        );
      }
      job.state = 'UploadComplete';
      job.systemModstamp = this.db.now();
      const run = new Promise<void>((resolve) => setTimeout(resolve, this.options.processingDelayMs))
        .then(() => this.start(job))
        .then(() => this.process(job))
        .finally(() => this.running.delete(run));
      this.running.add(run);
    } else if (state === 'Aborted') {
      if (['JobComplete', 'Failed', 'Aborted'].includes(job.state)) {
        throw new ApiError(409, 'INVALIDJOBSTATE', `Job's state is ${job.state}; it cannot be aborted`);
      }
      job.state = 'Aborted';
      job.systemModstamp = this.db.now();
      this.capacity.remove(job);
    } else {
      throw new ApiError(400, 'INVALIDJOBSTATE', `Invalid state: ${String(state)}`);
    }
    return this.info(job, version);
  }

  delete(id: string): void {
    const job = this.get(id);
    if (!['UploadComplete', 'JobComplete', 'Failed', 'Aborted'].includes(job.state)) {
      throw new ApiError(409, 'INVALIDJOBSTATE', `Job's state is ${job.state}; it cannot be deleted`);
    }
    this.jobs.delete(id);
  }

  /** Resolves when every closed job has finished processing. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }

  private fail(job: IngestJob, message: string): void {
    job.state = 'Failed';
    job.errorMessage = message;
    job.systemModstamp = this.db.now();
  }

  /**
   * The queue time is over: the job is InProgress while its records go through the org's shared
   * capacity (at once without a rate). Resolves when they are through, or at once if it was aborted.
   */
  private start(job: IngestJob): Promise<void> {
    if (job.state !== 'UploadComplete') return Promise.resolve();
    job.state = 'InProgress';
    job.systemModstamp = this.db.now();
    const rate = this.options.recordsPerSecond ?? 0;
    if (rate <= 0) return Promise.resolve();
    const records = job.uploads.reduce((n, csv) => n + csvRows(csv), 0);
    return new Promise<void>((resolve) => this.capacity.add(job, records, resolve));
  }

  private process(job: IngestJob): void {
    if (job.state !== 'InProgress') return;
    const started = Date.now();
    const delimiter = DELIMITERS[job.columnDelimiter]!;
    let rows: string[][] = [];
    try {
      for (const upload of job.uploads) {
        const parsed = parseCsv(upload, {
          delimiter,
          bom: true,
          relax_quotes: false,
          skip_empty_lines: true,
        });
        if (!parsed.length) continue;
        const [header, ...data] = parsed;
        if (!job.header.length) job.header = header!;
        else if (header!.join(',') !== job.header.join(',')) {
          return this.fail(job, 'InvalidBatch : all uploads of a job must share one header row');
        }
        rows.push(...data);
      }
    } catch (error) {
      return this.fail(job, `ClientInputError : CSV parse error: ${(error as Error).message}`);
    }
    const columns: (FieldDef | undefined)[] = job.header.map((name) =>
      job.object.index.get(name.trim().toLowerCase()),
    );
    const unknown = job.header.find((_, i) => !columns[i]);
    if (unknown !== undefined) return this.fail(job, `InvalidBatch : Field name not found : ${unknown}`);
    const idColumn = columns.findIndex((c) => c?.name === 'Id');
    if ((job.operation === 'delete' || job.operation === 'update') && idColumn < 0) {
      return this.fail(job, 'InvalidBatch : Field name not found : Id');
    }
    if (
      job.operation === 'upsert' &&
      !columns.some((c) => c?.name.toLowerCase() === job.externalIdFieldName!.toLowerCase())
    ) {
      return this.fail(job, `InvalidBatch : Field name not found : ${job.externalIdFieldName}`);
    }
    for (let start = 0; start < rows.length; start += CHUNK) {
      const chunk = rows.slice(start, start + CHUNK);
      this.limits.consumeBulkBatches(1);
      this.processChunk(job, columns, chunk, idColumn);
      job.processed += chunk.length;
    }
    rows = [];
    job.totalProcessingTime = Date.now() - started;
    job.state = 'JobComplete';
    job.systemModstamp = this.db.now();
  }

  private parseRow(job: IngestJob, columns: (FieldDef | undefined)[], row: string[]): ParsedInput {
    const values: FieldValues = new Map();
    const errors: RecordError[] = [];
    row.forEach((raw, i) => {
      const def = columns[i]!;
      if (raw === '') {
        // Empty: leave the field alone (insert: not set, so defaults apply).
        return;
      }
      if (raw === '#N/A') {
        values.set(def.name, null);
        return;
      }
      try {
        values.set(def.name, coerceValue(def, raw, 'csv'));
      } catch (error) {
        if (!(error instanceof ValueError)) throw error;
        errors.push(
          recordError(
            'INVALID_FIELD',
            `Failed to deserialize field at col ${i + 1}. Due to, '${raw}' is not a valid value for the type ${error.typeName}`,
            [def.name],
          ),
        );
      }
    });
    if (row.length !== columns.length) {
      errors.push(
        recordError('INVALID_FIELD', `Row has ${row.length} columns; the header has ${columns.length}`),
      );
    }
    return { values, errors };
  }

  private processChunk(
    job: IngestJob,
    columns: (FieldDef | undefined)[],
    chunk: string[][],
    idColumn: number,
  ): void {
    // Bulk API 2.0 writes run as the job's user: object permissions, FLS and sharing apply.
    const options: DmlOptions = {
      allOrNone: false,
      recordFault: () => this.recordFault(),
      security: USER_MODE,
    };
    this.db.transaction(job.user, (tx) => {
      let results: SaveResult[];
      switch (job.operation) {
        case 'insert':
          results = tx.insert(
            job.object.name,
            chunk.map((row) => this.parseRow(job, columns, row)),
            options,
          );
          break;
        case 'update':
          results = tx.update(
            job.object.name,
            chunk.map((row) => {
              const input = this.parseRow(job, columns, row);
              input.values.delete('Id');
              return { id: row[idColumn] ?? '', input };
            }),
            options,
          );
          break;
        case 'upsert':
          results = tx.upsert(
            job.object.name,
            job.externalIdFieldName!,
            chunk.map((row) => this.parseRow(job, columns, row)),
            options,
          );
          break;
        default:
          results = tx.delete(
            chunk.map((row) => row[idColumn] ?? ''),
            options,
          );
      }
      results.forEach((result, i) => {
        const row = chunk[i]!;
        if (result.success) {
          job.successful.push({
            id: result.id ?? '',
            created: result.created ?? job.operation === 'insert',
            row,
          });
        } else {
          const error = result.errors
            .map((e) => `${e.statusCode}:${e.message}:${e.fields.join(',')} --`)
            .join(' ');
          const id = idColumn >= 0 ? (row[idColumn] ?? '') : '';
          job.failed.push({ id, error, row });
        }
      });
    });
  }

  private csv(rows: string[][], job: IngestJob): string {
    return stringify(rows, { quoted: true, record_delimiter: job.lineEnding === 'CRLF' ? '\r\n' : '\n' });
  }

  private finished(id: string): IngestJob {
    const job = this.get(id);
    if (!['JobComplete', 'Failed', 'Aborted'].includes(job.state)) {
      throw new ApiError(
        409,
        'INVALIDJOBSTATE',
        `Job's state is ${job.state}; results are available once it is complete`,
      );
    }
    return job;
  }

  successfulResults(id: string): string {
    const job = this.finished(id);
    return this.csv(
      [
        ['sf__Id', 'sf__Created', ...job.header],
        ...job.successful.map((s) => [s.id, String(s.created), ...s.row]),
      ],
      job,
    );
  }

  failedResults(id: string): string {
    const job = this.finished(id);
    return this.csv(
      [['sf__Id', 'sf__Error', ...job.header], ...job.failed.map((f) => [f.id, f.error, ...f.row])],
      job,
    );
  }

  unprocessedRecords(id: string): string {
    const job = this.finished(id);
    let rows = job.unprocessed;
    if (job.state !== 'JobComplete' && job.uploads.length) {
      const delimiter = DELIMITERS[job.columnDelimiter]!;
      try {
        const parsed = job.uploads.flatMap((u) =>
          parseCsv(u, { delimiter, bom: true, skip_empty_lines: true }).slice(1),
        );
        rows = parsed.slice(job.processed);
      } catch {
        rows = [];
      }
    }
    const header =
      job.header.length || !job.uploads[0]
        ? job.header
        : (parseCsv(job.uploads[0], { delimiter: DELIMITERS[job.columnDelimiter]!, to_line: 1 })[0] ?? []);
    return this.csv([header, ...rows], job);
  }
}

/** Data rows of an uploaded CSV (lines after the header; a quoted newline counts too: an estimate). */
function csvRows(csv: string): number {
  let lines = 0;
  for (let i = csv.indexOf('\n'); i >= 0; i = csv.indexOf('\n', i + 1)) lines++;
  if (!csv.endsWith('\n')) lines++;
  return Math.max(0, lines - 1);
}
