/**
 * The typed Custompms client. Layers, as in jsforce: `#attempt` moves bytes (one fetch with a
 * timeout, inside a concurrency slot), `#send` applies the retry policy, `#fail` turns a final
 * non-2xx answer into a typed error, and the public methods speak resources.
 *
 * Lists are async iterators that fetch the next page only when the caller has consumed the
 * current one, so memory stays at one page however many pages there are.
 *
 * One class, one file (it is long): the layers above share its private state (the semaphore,
 * the retry policy, the base URL and token); errors, retry policy, types and the semaphore are
 * already modules of their own beside it.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { z } from 'zod';
import type { Config } from '../config';
import {
  CustompmsAbortedError,
  CustompmsBadRequestError,
  CustompmsConfigError,
  CustompmsConflictError,
  type CustompmsError,
  CustompmsForbiddenError,
  CustompmsHttpError,
  CustompmsIdempotencyKeyInUseError,
  CustompmsIdempotencyKeyReusedError,
  CustompmsInvalidResponseError,
  CustompmsNetworkError,
  CustompmsNotFoundError,
  CustompmsPreconditionRequiredError,
  CustompmsRateLimitedError,
  CustompmsServerError,
  CustompmsTimeoutError,
  CustompmsUnauthorizedError,
  CustompmsUnavailableError,
  CustompmsValidationError,
  type RequestInfo,
} from './errors';
import {
  type AttemptOutcome,
  decideRetry,
  parseRetryAfter,
  resolveRetryPolicy,
  type RetryPolicy,
} from './retry';
import { Semaphore } from './semaphore';
import {
  type CreateMap,
  type CustompmsRecord,
  type Page,
  pageSchema,
  type Problem,
  problemSchema,
  RESOURCE_TYPES,
  type ResourceMap,
  type ResourceType,
  recordSchemas,
  type Tombstone,
  tombstoneSchema,
  type UpdateMap,
} from './types';

/** The subset of a pino logger the client uses. */
export interface ClientLogger {
  warn(object: Record<string, unknown>, message: string): void;
  debug(object: Record<string, unknown>, message: string): void;
}

export interface CustompmsClientOptions {
  /** Custompms base URL (`https://pms.acme.com`); paths `/api/v1/...` are appended. */
  baseUrl: string;
  /** Bearer token. */
  token: string;
  /** Per-attempt timeout, from sending the request to the last byte of the answer. Default 15 000. */
  timeoutMs?: number;
  /** Requests in flight at once (a retry waiting out its backoff holds no slot). Default 8. */
  maxConcurrency?: number;
  /** Overrides of `DEFAULT_RETRY_POLICY`. */
  retry?: Partial<RetryPolicy>;
  /** Page size when a list call names none (1–500). Default 100. */
  pageSize?: number;
  /** Injected for tests; defaults to Node's built-in fetch (undici). */
  fetch?: typeof fetch;
  /** Injected for tests so retries don't wait real seconds; must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Clock in epoch milliseconds (reads HTTP-date `Retry-After`). */
  now?: () => number;
  /** Uniform [0, 1) source for jitter. */
  random?: () => number;
  logger?: ClientLogger;
  userAgent?: string;
  /** Cancels every call of this client (the worker shutting down), beside each call's own signal. */
  signal?: AbortSignal;
}

export interface CallOptions {
  /** Cancels the call, its queue wait and its backoff sleeps. */
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  /** Only records with `updated_at` at or after this time (inclusive). */
  updatedSince?: string | Date;
  /** Page size, 1–500. */
  limit?: number;
  /** Resume from a `next_cursor` saved earlier (with the same `updatedSince`). */
  cursor?: string;
}

export interface ListDeletedOptions extends CallOptions {
  /** Only tombstones with `deleted_at` at or after this time (inclusive). */
  since?: string | Date;
  limit?: number;
  cursor?: string;
}

export interface CreateOptions extends CallOptions {
  /**
   * Makes the create safe to repeat: the same key and body never create a second record. Pass a
   * key derived from the source (the Salesforce Id) so a retry after a crash is safe too; without
   * one a random key still protects this call's own retries.
   */
  idempotencyKey?: string;
}

export interface UpdateOptions extends CallOptions {
  /** The version the changes are based on (`If-Match`); a different current version → conflict. */
  ifMatch: number;
}

export interface DeleteOptions extends CallOptions {
  /** Delete only if the record is still at this version. */
  ifMatch?: number;
}

/** What `delete` found: `not_found` when nothing existed under that id (already deleted). */
export type DeleteResult = 'deleted' | 'not_found';

interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  ifMatch?: number;
  signal?: AbortSignal;
}

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  attempts: number;
}

type AttemptResult =
  | { kind: 'response'; status: number; headers: Headers; text: string }
  | { kind: 'timeout' | 'network'; cause: unknown };

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_CONCURRENCY = 8;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;
/** Ids per batch read (`getMany`), the contract's bound. */
export const MAX_BATCH_READ = 100;

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : undefined);
}

/** Typed access to one Custompms tenant. Safe to share: it holds no per-call state. */
export class CustompmsClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  readonly #policy: RetryPolicy;
  readonly #semaphore: Semaphore;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #logger: ClientLogger | undefined;
  readonly #userAgent: string;
  readonly #signal: AbortSignal | undefined;

  constructor(options: CustompmsClientOptions) {
    if (!options.baseUrl) throw new CustompmsConfigError('Custompms client needs a baseUrl');
    if (!options.token) throw new CustompmsConfigError('Custompms client needs a token');
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (error) {
      throw new CustompmsConfigError(`Custompms baseUrl is not a URL: ${options.baseUrl}`, { cause: error });
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:')
      throw new CustompmsConfigError('Custompms baseUrl must be http(s)');
    this.#baseUrl = base.toString().replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0)) throw new CustompmsConfigError('Custompms timeoutMs must be > 0');
    this.#pageSize = checkLimit(options.pageSize ?? DEFAULT_PAGE_SIZE);
    this.#policy = resolveRetryPolicy(options.retry);
    this.#semaphore = new Semaphore(options.maxConcurrency ?? DEFAULT_CONCURRENCY);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#signal = options.signal;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger;
    this.#userAgent = options.userAgent ?? 'custompms-salesforce-sync';
  }

  /** The retry policy in force (defaults filled in). */
  get retryPolicy(): Readonly<RetryPolicy> {
    return this.#policy;
  }

  /** Requests holding a concurrency slot now / waiting for one. */
  get load(): { active: number; waiting: number } {
    return { active: this.#semaphore.active, waiting: this.#semaphore.waiting };
  }

  // ---------------------------------------------------------------- records

  /** One page of records changed since `updatedSince`, ordered by (`updated_at`, `id`). */
  async listPage<T extends ResourceType>(type: T, options: ListOptions = {}): Promise<Page<ResourceMap[T]>> {
    checkType(type);
    const raw = await this.#send({
      method: 'GET',
      path: `/api/v1/${type}`,
      query: {
        updated_since: toIso(options.updatedSince),
        limit: checkLimit(options.limit ?? this.#pageSize),
        cursor: options.cursor,
      },
      signal: options.signal,
    });
    if (raw.status !== 200) throw await this.#fail({ method: 'GET', path: `/api/v1/${type}` }, raw);
    return this.#parse({ method: 'GET', path: `/api/v1/${type}` }, raw, pageSchema(recordSchemas[type]));
  }

  /**
   * Every page from `options.cursor` (or the start) to the end, fetched one at a time as the
   * caller asks for it. A poller can save `next_cursor` after handling each page and resume there.
   */
  async *listPages<T extends ResourceType>(
    type: T,
    options: ListOptions = {},
  ): AsyncGenerator<Page<ResourceMap[T]>, void, undefined> {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.listPage(type, { ...options, cursor });
      yield page;
      if (page.next_cursor === null) return;
      if (page.next_cursor === cursor)
        throw new CustompmsInvalidResponseError(
          { method: 'GET', path: `/api/v1/${type}` },
          200,
          'next_cursor repeats the cursor just sent (the list would never end)',
        );
      cursor = page.next_cursor;
    }
  }

  /** Every record changed since `updatedSince`, one at a time; holds one page in memory. */
  async *list<T extends ResourceType>(
    type: T,
    options: ListOptions = {},
  ): AsyncGenerator<ResourceMap[T], void, undefined> {
    for await (const page of this.listPages(type, options)) yield* page.data;
  }

  /** The record as it is now; `CustompmsNotFoundError` when there is none. */
  async get<T extends ResourceType>(type: T, id: string, options: CallOptions = {}): Promise<ResourceMap[T]> {
    checkType(type);
    const request = { method: 'GET' as const, path: recordPath(type, id) };
    const raw = await this.#send({ ...request, signal: options.signal });
    if (raw.status !== 200) throw await this.#fail(request, raw);
    return this.#parse(request, raw, recordSchemas[type]);
  }

  /**
   * A batch read: the records with these ids as they are now (`GET /api/v1/{type}?ids=…`, up to
   * `MAX_BATCH_READ` ids per request, more in several). Ids with no record are left out: read one
   * alone (`get`) for Custompms's own 404, which is what confirms a delete.
   */
  async getMany<T extends ResourceType>(
    type: T,
    ids: readonly string[],
    options: CallOptions = {},
  ): Promise<ResourceMap[T][]> {
    checkType(type);
    const unique = [...new Set(ids)];
    if (unique.some((id) => id === '' || id.includes(',')))
      throw new CustompmsConfigError('Custompms batch read: ids must be non-empty and free of commas');
    const records: ResourceMap[T][] = [];
    for (let start = 0; start < unique.length; start += MAX_BATCH_READ) {
      const request = { method: 'GET' as const, path: `/api/v1/${type}` };
      const raw = await this.#send({
        ...request,
        query: { ids: unique.slice(start, start + MAX_BATCH_READ).join(',') },
        signal: options.signal,
      });
      if (raw.status !== 200) throw await this.#fail(request, raw);
      records.push(...this.#parse(request, raw, pageSchema(recordSchemas[type])).data);
    }
    return records;
  }

  /** Creates a record (201). Repeating it with the same `idempotencyKey` returns the same record. */
  async create<T extends ResourceType>(
    type: T,
    body: CreateMap[T],
    options: CreateOptions = {},
  ): Promise<ResourceMap[T]> {
    checkType(type);
    const request = { method: 'POST' as const, path: `/api/v1/${type}` };
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const raw = await this.#send({ ...request, body, idempotencyKey, signal: options.signal });
    if (raw.status !== 201 && raw.status !== 200) throw await this.#fail(request, raw, { idempotencyKey });
    return this.#parse(request, raw, recordSchemas[type]);
  }

  /**
   * Applies `changes` if the record is still at version `ifMatch`; `null` clears a field. A moved
   * version throws `CustompmsConflictError` carrying the current record, for the caller to merge.
   */
  async update<T extends ResourceType>(
    type: T,
    id: string,
    changes: UpdateMap[T],
    options: UpdateOptions,
  ): Promise<ResourceMap[T]> {
    checkType(type);
    checkVersion(options.ifMatch);
    const request = { method: 'PATCH' as const, path: recordPath(type, id) };
    const raw = await this.#send({
      ...request,
      body: changes,
      ifMatch: options.ifMatch,
      signal: options.signal,
    });
    if (raw.status === 200) return this.#parse(request, raw, recordSchemas[type]);
    const error = await this.#fail(request, raw, {
      type,
      id,
      ifMatch: options.ifMatch,
      signal: options.signal,
    });
    // A retried PATCH whose first copy landed (answer lost) meets its own write as a "conflict":
    // the version moved by exactly one and holds our values. That is success, not a conflict.
    if (error instanceof CustompmsConflictError && raw.attempts > 1) {
      const current = (error as CustompmsConflictError<ResourceMap[T]>).current;
      if (current.version === options.ifMatch + 1 && changesApplied(current, changes)) {
        this.#logger?.debug({ path: request.path }, 'custompms PATCH retry found its own earlier write');
        return current;
      }
    }
    throw error;
  }

  /** Deletes a record, leaving a tombstone. `not_found` when there was nothing to delete. */
  async delete(type: ResourceType, id: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    checkType(type);
    if (options.ifMatch !== undefined) checkVersion(options.ifMatch);
    const request = { method: 'DELETE' as const, path: recordPath(type, id) };
    const raw = await this.#send({ ...request, ifMatch: options.ifMatch, signal: options.signal });
    if (raw.status === 204 || raw.status === 200) return 'deleted';
    if (raw.status === 404) return 'not_found';
    throw await this.#fail(request, raw, { type, id, ifMatch: options.ifMatch, signal: options.signal });
  }

  // ---------------------------------------------------------------- tombstones

  /** One page of tombstones deleted since `since`, ordered by (`deleted_at`, `type`, `id`). */
  async listDeletedPage(options: ListDeletedOptions = {}): Promise<Page<Tombstone>> {
    const request = { method: 'GET' as const, path: '/api/v1/deleted' };
    const raw = await this.#send({
      ...request,
      query: {
        since: toIso(options.since),
        limit: checkLimit(options.limit ?? this.#pageSize),
        cursor: options.cursor,
      },
      signal: options.signal,
    });
    if (raw.status !== 200) throw await this.#fail(request, raw);
    return this.#parse(request, raw, pageSchema(tombstoneSchema));
  }

  /** Every page of tombstones, fetched one at a time as the caller asks. */
  async *listDeletedPages(
    options: ListDeletedOptions = {},
  ): AsyncGenerator<Page<Tombstone>, void, undefined> {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.listDeletedPage({ ...options, cursor });
      yield page;
      if (page.next_cursor === null) return;
      if (page.next_cursor === cursor)
        throw new CustompmsInvalidResponseError(
          { method: 'GET', path: '/api/v1/deleted' },
          200,
          'next_cursor repeats the cursor just sent (the list would never end)',
        );
      cursor = page.next_cursor;
    }
  }

  /** Every tombstone since `since`, one at a time. */
  async *listDeleted(options: ListDeletedOptions = {}): AsyncGenerator<Tombstone, void, undefined> {
    for await (const page of this.listDeletedPages(options)) yield* page.data;
  }

  // ---------------------------------------------------------------- transport

  /** Sends with retries; returns the final answer, whatever its status. Throws only when no answer came. */
  async #send(request: RequestSpec): Promise<RawResponse> {
    const signals = [this.#signal, request.signal].filter((signal) => signal !== undefined);
    const spec = { ...request, signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0] };
    const url = new URL(this.#baseUrl + spec.path);
    for (const [name, value] of Object.entries(spec.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#token}`,
      accept: 'application/json, application/problem+json',
      'user-agent': this.#userAgent,
    };
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers['content-type'] = 'application/json';
    }
    if (spec.idempotencyKey !== undefined) headers['idempotency-key'] = spec.idempotencyKey;
    if (spec.ifMatch !== undefined) headers['if-match'] = String(spec.ifMatch);
    const info: RequestInfo = { method: spec.method, path: spec.path };
    const shape = {
      method: spec.method,
      hasIdempotencyKey: spec.idempotencyKey !== undefined,
      hasIfMatch: spec.ifMatch !== undefined,
    };

    for (let attempt = 1; ; attempt++) {
      const result = await this.#attempt(url, { method: spec.method, headers, body }, info, spec.signal);
      let outcome: AttemptOutcome;
      if (result.kind === 'response') {
        if (result.status < 400) return { ...result, attempts: attempt };
        outcome = {
          kind: 'status',
          status: result.status,
          retryAfterMs: parseRetryAfter(result.headers.get('retry-after'), this.#now()),
        };
      } else {
        outcome = { kind: result.kind };
      }
      const decision = decideRetry(this.#policy, shape, attempt, outcome, this.#random);
      if (!decision.retry) {
        if (result.kind === 'response') return { ...result, attempts: attempt };
        const error =
          result.kind === 'timeout'
            ? new CustompmsTimeoutError(info, this.#timeoutMs, { cause: result.cause })
            : new CustompmsNetworkError(info, { cause: result.cause });
        error.attempts = attempt;
        throw error;
      }
      this.#logger?.warn(
        { method: spec.method, path: spec.path, attempt, delayMs: decision.delayMs, reason: decision.reason },
        'custompms request will be retried',
      );
      try {
        await this.#sleep(decision.delayMs, spec.signal);
      } catch (error) {
        throw aborted(info, error, attempt);
      }
    }
  }

  /** One fetch inside a concurrency slot, bounded by the timeout (which covers reading the body). */
  async #attempt(
    url: URL,
    init: { method: string; headers: Record<string, string>; body: string | undefined },
    info: RequestInfo,
    callerSignal: AbortSignal | undefined,
  ): Promise<AttemptResult> {
    let release: () => void;
    try {
      release = await this.#semaphore.acquire(callerSignal);
    } catch (error) {
      throw aborted(info, error, 1);
    }
    // Our own timer rather than AbortSignal.timeout(): that one stays armed (and keeps the
    // request and response reachable) for the full timeout after the answer arrived; this one is
    // cleared at once, so memory while paging stays at one page.
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException(`timed out after ${this.#timeoutMs} ms`, 'TimeoutError')),
      this.#timeoutMs,
    );
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout.signal]) : timeout.signal;
    try {
      const response = await this.#fetch(url, { ...init, signal });
      const text = await response.text();
      return { kind: 'response', status: response.status, headers: response.headers, text };
    } catch (error) {
      if (callerSignal?.aborted) throw aborted(info, error, 1);
      return { kind: timeout.signal.aborted ? 'timeout' : 'network', cause: error };
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  /** Reads a 2xx body against its schema. */
  #parse<T>(request: RequestInfo, raw: RawResponse, schema: z.ZodType<T>): T {
    let json: unknown;
    try {
      json = JSON.parse(raw.text);
    } catch (error) {
      throw new CustompmsInvalidResponseError(request, raw.status, 'body is not JSON', { cause: error });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
        .join('; ');
      throw new CustompmsInvalidResponseError(request, raw.status, issues, { cause: parsed.error });
    }
    return parsed.data;
  }

  /** Turns a final non-2xx answer into the error class its status means. */
  async #fail(
    request: RequestInfo,
    raw: RawResponse,
    context: {
      idempotencyKey?: string;
      type?: ResourceType;
      id?: string;
      ifMatch?: number | undefined;
      signal?: AbortSignal | undefined;
    } = {},
  ): Promise<CustompmsError> {
    const problem = parseProblem(raw.text);
    const retryAfterMs = parseRetryAfter(raw.headers.get('retry-after'), this.#now());
    let error: CustompmsError;
    switch (raw.status) {
      case 400:
        error = new CustompmsBadRequestError(request, raw.status, problem);
        break;
      case 401:
        error = new CustompmsUnauthorizedError(request, raw.status, problem);
        break;
      case 403:
        error = new CustompmsForbiddenError(request, raw.status, problem);
        break;
      case 404:
        error = new CustompmsNotFoundError(request, raw.status, problem);
        break;
      case 409:
        if (request.method === 'POST' && context.idempotencyKey !== undefined)
          error = new CustompmsIdempotencyKeyInUseError(request, raw.status, problem);
        else if (context.type !== undefined && context.id !== undefined && context.ifMatch !== undefined)
          error = await this.#conflict(
            request,
            problem,
            context.type,
            context.id,
            context.ifMatch,
            context.signal,
          );
        else error = new CustompmsHttpError(request, raw.status, problem);
        break;
      case 422:
        error =
          request.method === 'POST' && context.idempotencyKey !== undefined && mentionsIdempotency(problem)
            ? new CustompmsIdempotencyKeyReusedError(request, raw.status, problem)
            : new CustompmsValidationError(request, raw.status, problem);
        break;
      case 428:
        error = new CustompmsPreconditionRequiredError(request, raw.status, problem);
        break;
      case 429:
        error = new CustompmsRateLimitedError(request, raw.status, problem, retryAfterMs);
        break;
      case 503:
        error = new CustompmsUnavailableError(request, raw.status, problem, retryAfterMs);
        break;
      default:
        error =
          raw.status >= 500
            ? new CustompmsServerError(request, raw.status, problem)
            : new CustompmsHttpError(request, raw.status, problem);
    }
    error.attempts = raw.attempts;
    return error;
  }

  /** A 409 with the current record: from the problem body, else fetched (a server may omit it). */
  async #conflict(
    request: RequestInfo,
    problem: Problem | undefined,
    type: ResourceType,
    id: string,
    expectedVersion: number,
    signal: AbortSignal | undefined,
  ): Promise<CustompmsError> {
    const fromBody = recordSchemas[type].safeParse(problem?.current);
    if (fromBody.success) return new CustompmsConflictError(request, problem, expectedVersion, fromBody.data);
    try {
      const current = await this.get(type, id, { signal });
      return new CustompmsConflictError(request, problem, expectedVersion, current);
    } catch (error) {
      // Deleted between the conflict and the fetch: the record is gone, say so.
      if (error instanceof CustompmsNotFoundError) return error;
      throw error;
    }
  }
}

/** Builds a client from the proxy's parsed configuration (`config.custompms`). */
export function createCustompmsClient(
  settings: Config['custompms'],
  extra: Omit<CustompmsClientOptions, 'baseUrl' | 'token' | 'timeoutMs' | 'maxConcurrency'> = {},
): CustompmsClient {
  if (!settings.baseUrl || !settings.apiToken)
    throw new CustompmsConfigError(
      'CUSTOMPMS_BASE_URL and CUSTOMPMS_API_TOKEN are required to call Custompms',
    );
  return new CustompmsClient({
    ...extra,
    baseUrl: settings.baseUrl,
    token: settings.apiToken,
    timeoutMs: settings.timeoutMs,
    maxConcurrency: settings.maxConcurrency,
  });
}

function aborted(info: RequestInfo, cause: unknown, attempts: number): CustompmsAbortedError {
  const error = new CustompmsAbortedError(`Custompms ${info.method} ${info.path} was aborted`, { cause });
  error.attempts = attempts;
  return error;
}

function parseProblem(text: string): Problem | undefined {
  try {
    const parsed = problemSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function mentionsIdempotency(problem: Problem | undefined): boolean {
  return /idempotency/i.test(`${problem?.type ?? ''} ${problem?.title ?? ''}`);
}

/** True when every changed field already holds the value the change asked for. */
function changesApplied(current: CustompmsRecord, changes: object): boolean {
  const record = current as unknown as Record<string, unknown>;
  return Object.entries(changes).every(([field, value]) => (record[field] ?? null) === (value ?? null));
}

function checkType(type: string): asserts type is ResourceType {
  if (!(RESOURCE_TYPES as readonly string[]).includes(type))
    throw new TypeError(`Unknown Custompms resource type "${type}" (expected ${RESOURCE_TYPES.join(', ')})`);
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    throw new RangeError(`Custompms page size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return limit;
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 1)
    throw new RangeError('If-Match version must be an integer ≥ 1');
}

function recordPath(type: ResourceType, id: string): string {
  if (id === '') throw new TypeError('Custompms record id must not be empty');
  return `/api/v1/${type}/${encodeURIComponent(id)}`;
}

function toIso(value: string | Date | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError('Invalid Date');
    return value.toISOString();
  }
  return value;
}
