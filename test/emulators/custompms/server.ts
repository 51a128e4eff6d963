/**
 * The reference Custompms server: the whole contract of `proxy/openapi/custompms.yaml` in memory,
 * signed webhooks with retries, and fault injection. Tests, benchmarks and the demo start it
 * in-process with `startCustompmsEmulator()`; `main.ts` runs it standalone.
 *
 * Request bodies are validated by the document's own schemas (ajv), so the server cannot accept
 * what the document forbids.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import {
  KIND_OF_RESOURCE,
  RESOURCE_TYPES,
  type ResourceMap,
  type ResourceType,
  type Tombstone,
  type WebhookEvent,
} from '../../../proxy/src/custompms/types';
import { createFields, describeErrors, type FieldError, schemaValidator } from './contract';
import { FaultInjector, type FaultRule, type Faults } from './faults';
import {
  custompmsLatencyProfile,
  type CustompmsLatencyProfile,
  type CustompmsLatencyProfileName,
} from './latency';
import { CustompmsStore, isoMillis, type ListPosition, type RecordMeta, type StoredRecord } from './store';
import {
  type DeliveryAttempt,
  type DeliveryOutcome,
  WebhookDispatcher,
  type WebhookTarget,
} from './webhooks';

export type { Faults, FaultRule, WebhookTarget };

export interface CustompmsEmulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1 (never exposed beyond the machine). */
  host?: string;
  /** Accepted bearer token(s). Default `test-token`. */
  token?: string | string[];
  /** Where to send signed webhooks; none → events are recorded but not sent. */
  webhook?: WebhookTarget;
  faults?: Faults;
  /** The latency model (latency.ts): `zero` (default), `realistic`, or a profile of its own. */
  latency?: CustompmsLatencyProfile | CustompmsLatencyProfileName;
  /** Epoch-millisecond clock for timestamps, signatures, outage windows. */
  clock?: () => number;
  /** How long a successful idempotent result is remembered. Default 24 h. */
  idempotencyTtlMs?: number;
  /** One line per request (standalone mode). */
  log?: (line: string) => void;
}

export interface RequestLogEntry {
  at: number;
  method: string;
  path: string;
  url: string;
  status: number;
  /** What fault, if any, shaped the answer (`status 503`, `reset`, `outage`, `after: status 503`). */
  fault?: string;
  idempotencyKey?: string;
  replayed?: boolean;
}

type SeedInput<T extends ResourceType> = Partial<ResourceMap[T]> & RecordMeta;

/** Test and demo helpers: the hand of a person using Custompms, and a view inside the server. */
export interface EmulatorControls {
  setFaults(faults: Faults): void;
  clearFaults(): void;
  /** Replaces the latency profile (latency.ts). */
  setLatency(profile: CustompmsLatencyProfile | CustompmsLatencyProfileName): void;
  /** Faults that fired, in order. */
  faultHits(): { route: string; method: string; path: string; action: string }[];
  /** Bulk-load records (fields validated, references not), optionally emitting `created` events. */
  seed<T extends ResourceType>(
    type: T,
    records: SeedInput<T>[],
    options?: { emitWebhooks?: boolean },
  ): ResourceMap[T][];
  /** Records in list order. */
  records<T extends ResourceType>(type: T): ResourceMap[T][];
  record<T extends ResourceType>(type: T, id: string): ResourceMap[T] | undefined;
  tombstones(): Tombstone[];
  /** A user creates a record in Custompms (validated like the API; emits `created`). */
  create<T extends ResourceType>(type: T, values: Partial<ResourceMap[T]>): ResourceMap[T];
  /** A user edits a record in Custompms: version +1, `updated` event (nothing if no value changed). */
  edit<T extends ResourceType>(type: T, id: string, changes: Partial<ResourceMap[T]>): ResourceMap[T];
  /** A user deletes a record in Custompms: tombstone and `deleted` event. */
  remove(type: ResourceType, id: string): Tombstone;
  requests(): RequestLogEntry[];
  clearRequests(): void;
  /** Most API requests in flight at once since start (or the last reset). */
  peakConcurrency(): number;
  resetPeakConcurrency(): void;
  events(): WebhookEvent[];
  deliveries(): DeliveryAttempt[];
  deliveryOutcomes(eventId: string): DeliveryOutcome[];
  /** Resolves when no webhook delivery is pending. */
  flushWebhooks(timeoutMs?: number): Promise<void>;
  setWebhook(target: WebhookTarget | undefined): void;
  /** Empties records, tombstones, idempotency memory and logs; faults stay. */
  reset(): void;
}

export interface CustompmsEmulator {
  /** Base URL for the client (`http://127.0.0.1:<port>`). */
  url: string;
  port: number;
  app: Express;
  store: CustompmsStore;
  controls: EmulatorControls;
  stop(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  problem?: boolean;
}

interface RememberedReply {
  fingerprint: string;
  reply: Reply;
  expiresAt: number;
}

const PROBLEM_BASE = 'https://custompms.example/problems/';
const SCHEMA_NAME: Record<ResourceType, string> = {
  customers: 'Customer',
  projects: 'Project',
  tasks: 'Task',
};
const REFERENCES: Record<ResourceType, { field: string; type: ResourceType } | undefined> = {
  customers: undefined,
  projects: { field: 'customer_id', type: 'customers' },
  tasks: { field: 'project_id', type: 'projects' },
};
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
const MAX_BATCH_IDS = 100;
const MAX_LOG = 20_000;

function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Reply {
  return { status, problem: true, body: { type: `${PROBLEM_BASE}${slug}`, title, status, detail, ...extra } };
}

function retryAfterHeader(
  value: number | string | null | undefined,
  fallback: string | null,
): Record<string, string> {
  if (value === null) return {};
  if (value === undefined) return fallback === null ? {} : { 'Retry-After': fallback };
  return { 'Retry-After': String(value) };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Unref'd: an injected latency never keeps a finished test process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isResourceType(value: string): value is ResourceType {
  return (RESOURCE_TYPES as readonly string[]).includes(value);
}

const timestampValidator = () => schemaValidator('#/components/parameters/UpdatedSince/schema');

class InvalidInput extends Error {
  constructor(
    message: string,
    readonly errors: FieldError[],
  ) {
    super(`${message}: ${errors.map((error) => `${error.pointer} ${error.detail}`).join('; ')}`);
  }
}

/** The server's state and behaviour, shared by the HTTP routes and the controls. */
class Emulator {
  readonly store: CustompmsStore;
  readonly faults: FaultInjector;
  readonly webhooks: WebhookDispatcher;
  readonly #tokens: Buffer[];
  readonly #idempotency = new Map<string, RememberedReply>();
  readonly #requests: RequestLogEntry[] = [];
  #inFlight = 0;
  #peak = 0;

  constructor(readonly options: CustompmsEmulatorOptions) {
    const clock = options.clock ?? Date.now;
    this.store = new CustompmsStore(
      {
        customers: createFields('CustomerCreate'),
        projects: createFields('ProjectCreate'),
        tasks: createFields('TaskCreate'),
      },
      clock,
    );
    this.faults = new FaultInjector(options.faults);
    this.faults.profile = custompmsLatencyProfile(options.latency ?? 'zero');
    this.webhooks = new WebhookDispatcher(options.webhook, this.faults, clock);
    const tokens = options.token === undefined ? ['test-token'] : [options.token].flat();
    this.#tokens = tokens.map(digest);
  }

  get clock(): () => number {
    return this.options.clock ?? Date.now;
  }

  // ------------------------------------------------------------ shared behaviour

  validate(type: ResourceType, kind: 'Create' | 'Update', body: unknown): FieldError[] {
    const validate = schemaValidator(`${SCHEMA_NAME[type]}${kind}`);
    if (validate(body)) return this.#checkReferences(type, body as Record<string, unknown>);
    return describeErrors(validate.errors);
  }

  #checkReferences(type: ResourceType, body: Record<string, unknown>): FieldError[] {
    const reference = REFERENCES[type];
    if (!reference) return [];
    const value = body[reference.field];
    if (typeof value !== 'string' || this.store.has(reference.type, value)) return [];
    return [
      { pointer: `/${reference.field}`, detail: `no ${KIND_OF_RESOURCE[reference.type]} with id ${value}` },
    ];
  }

  emit(
    type: ResourceType,
    action: 'created' | 'updated' | 'deleted',
    record: StoredRecord,
    at: string,
  ): void {
    this.webhooks.emit({
      id: `evt_${randomBytes(12).toString('hex')}`,
      type: `${KIND_OF_RESOURCE[type]}.${action}`,
      occurred_at: at,
      data: { id: record.id, version: record.version },
    });
  }

  createRecord(type: ResourceType, body: Record<string, unknown>): StoredRecord {
    const record = this.store.insert(type, body);
    this.emit(type, 'created', record, record.updated_at);
    return record;
  }

  updateRecord(type: ResourceType, id: string, changes: Record<string, unknown>): StoredRecord {
    const { record, changed } = this.store.update(type, id, changes);
    if (changed) this.emit(type, 'updated', record, record.updated_at);
    return record;
  }

  removeRecord(type: ResourceType, id: string): Tombstone {
    const { record, tombstone } = this.store.remove(type, id);
    this.emit(type, 'deleted', record, tombstone.deleted_at);
    return tombstone;
  }

  // ------------------------------------------------------------ HTTP

  app(): Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(this.#entry);
    app.use(express.json({ limit: '1mb' }));
    app.get(
      '/api/v1/deleted',
      this.#route((req) => this.#listDeleted(req)),
    );
    app.get(
      '/api/v1/:type',
      this.#route((req) => this.#list(req)),
    );
    app.post(
      '/api/v1/:type',
      this.#route((req) => this.#create(req)),
    );
    app.get(
      '/api/v1/:type/:id',
      this.#route((req) => this.#get(req)),
    );
    app.patch(
      '/api/v1/:type/:id',
      this.#route((req) => this.#update(req)),
    );
    app.delete(
      '/api/v1/:type/:id',
      this.#route((req) => this.#delete(req)),
    );
    app.use((req, res) => {
      this.#send(res, problem(404, 'not-found', 'Not Found', `No route for ${req.method} ${req.path}`));
    });
    const errors: ErrorRequestHandler = (error: unknown, _req, res, next) => {
      if (res.headersSent) {
        next(error);
        return;
      }
      const status = (error as { status?: number }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        this.#send(res, problem(status, 'malformed-request', 'Bad Request', (error as Error).message));
        return;
      }
      this.#send(res, problem(500, 'internal', 'Internal Server Error', 'The reference server failed'));
    };
    app.use(errors);
    return app;
  }

  /** Logging, concurrency count, latency, outage, faults before processing, then authentication. */
  readonly #entry: RequestHandler = async (req, res, next) => {
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    const entry: RequestLogEntry = {
      at: this.clock(),
      method: req.method,
      path: req.path,
      url: req.originalUrl,
      status: 0,
    };
    const key = req.get('idempotency-key');
    if (key !== undefined) entry.idempotencyKey = key;
    res.locals.log = entry;
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      this.#inFlight--;
      entry.status = res.headersSent ? res.statusCode : 0;
      this.#log(entry);
    };
    res.on('finish', done);
    res.on('close', done);

    const latency = this.faults.latency();
    if (latency > 0) await sleep(latency);

    const outage = this.faults.outageAt(this.clock());
    if (outage) {
      entry.fault = 'outage';
      const seconds = Math.max(1, Math.ceil((outage.until - this.clock()) / 1000));
      this.#send(res, {
        ...problem(503, 'unavailable', 'Service Unavailable', 'Custompms is down for maintenance'),
        headers: retryAfterHeader(outage.retryAfter, String(seconds)),
      });
      return;
    }

    const hit = this.faults.pick(req.method, req.path);
    if (hit) {
      const action = hit.rule.action ?? 'status';
      // A delay rule only slows the request; the other actions may wait first, then act.
      if (hit.rule.delayMs) await sleep(hit.rule.delayMs);
      if (action !== 'delay' && (hit.rule.phase ?? 'before') === 'after') {
        res.locals.afterFault = hit.rule;
      } else if (action !== 'delay') {
        entry.fault = action === 'reset' ? 'reset' : `status ${hit.rule.status ?? 503}`;
        this.#applyFault(req, res, hit.rule);
        return;
      }
    }

    if (!this.#authorised(req.get('authorization'))) {
      this.#send(res, {
        ...problem(401, 'unauthorized', 'Unauthorized', 'Missing or invalid bearer token'),
        headers: { 'WWW-Authenticate': 'Bearer realm="custompms", error="invalid_token"' },
      });
      return;
    }
    next();
  };

  #authorised(header: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match) return false;
    const presented = digest(match[1]!);
    let ok = false;
    for (const token of this.#tokens) if (timingSafeEqual(presented, token)) ok = true;
    return ok;
  }

  #applyFault(req: Request, res: Response, rule: FaultRule): void {
    if ((rule.action ?? 'status') === 'reset') {
      req.socket.destroy();
      return;
    }
    const status = rule.status ?? 503;
    const titles: Record<number, string> = {
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
      504: 'Gateway Timeout',
    };
    const retryAfter = status === 429 || status === 503 ? retryAfterHeader(rule.retryAfter, '1') : {};
    this.#send(res, {
      ...problem(
        status,
        `injected-${status}`,
        titles[status] ?? 'Injected Fault',
        'Fault injected by the reference server',
      ),
      headers: retryAfter,
    });
  }

  #route(handler: (req: Request) => Reply): RequestHandler {
    return (req, res) => {
      const reply = handler(req);
      const after = res.locals.afterFault as FaultRule | undefined;
      const entry = res.locals.log as RequestLogEntry;
      if (after) {
        // Processed, but the answer never reaches the client.
        entry.fault = `after: ${after.action === 'reset' ? 'reset' : `status ${after.status ?? 503}`}`;
        this.#applyFault(req, res, after);
        return;
      }
      if (reply.headers?.['Idempotent-Replayed']) entry.replayed = true;
      this.#send(res, reply);
    };
  }

  #send(res: Response, reply: Reply): void {
    res.status(reply.status);
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    if (reply.body === undefined) {
      res.end();
      return;
    }
    res
      .type(reply.problem ? 'application/problem+json' : 'application/json')
      .send(JSON.stringify(reply.body));
  }

  #log(entry: RequestLogEntry): void {
    this.#requests.push(entry);
    if (this.#requests.length > MAX_LOG) this.#requests.splice(0, this.#requests.length - MAX_LOG);
    this.options.log?.(
      `${entry.method} ${entry.url} → ${entry.status}${entry.fault ? ` (${entry.fault})` : ''}`,
    );
  }

  #type(req: Request): ResourceType | Reply {
    const type = String(req.params.type);
    return isResourceType(type)
      ? type
      : problem(
          404,
          'not-found',
          'Not Found',
          `No collection "${type}" (expected ${RESOURCE_TYPES.join(', ')})`,
        );
  }

  #recordReply(
    type: ResourceType,
    record: StoredRecord,
    status = 200,
    headers: Record<string, string> = {},
  ): Reply {
    return {
      status,
      body: this.#present(type, record),
      headers: { ETag: `"${record.version}"`, ...headers },
    };
  }

  /** Response member order: meta first, then the document's fields. */
  #present(type: ResourceType, record: StoredRecord): Record<string, unknown> {
    const body: Record<string, unknown> = {
      id: record.id,
      version: record.version,
      created_at: record.created_at,
      updated_at: record.updated_at,
    };
    for (const field of this.store.fields[type]) body[field] = record[field] ?? null;
    return body;
  }

  #query(req: Request, name: string): string | undefined | Reply {
    const value = req.query[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string')
      return problem(400, 'invalid-parameter', 'Bad Request', `Query parameter ${name} must appear once`);
    return value;
  }

  #listQuery(
    req: Request,
    sinceName: 'updated_since' | 'since',
    scope: string,
  ): { since?: string; limit: number; after?: ListPosition } | Reply {
    const since = this.#query(req, sinceName);
    if (typeof since === 'object') return since;
    if (since !== undefined && !timestampValidator()(since))
      return problem(400, 'invalid-parameter', 'Bad Request', `${sinceName} must be an ISO-8601 date-time`);
    const normalizedSince = since === undefined ? undefined : isoMillis(since);

    const rawLimit = this.#query(req, 'limit');
    if (typeof rawLimit === 'object') return rawLimit;
    let limit = DEFAULT_LIMIT;
    if (rawLimit !== undefined) {
      limit = /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : NaN;
      if (!(limit >= 1 && limit <= MAX_LIMIT))
        return problem(
          400,
          'invalid-parameter',
          'Bad Request',
          `limit must be an integer from 1 to ${MAX_LIMIT}`,
        );
    }

    const cursor = this.#query(req, 'cursor');
    if (typeof cursor === 'object') return cursor;
    let after: ListPosition | undefined;
    if (cursor !== undefined) {
      const decoded = decodeCursor(cursor);
      if (!decoded)
        return problem(400, 'invalid-cursor', 'Bad Request', 'cursor is not a cursor this server issued');
      if (decoded.scope !== scope || decoded.since !== (normalizedSince ?? null))
        return problem(
          400,
          'invalid-cursor',
          'Bad Request',
          `cursor belongs to a different query; send it with the same ${sinceName} it was issued for`,
        );
      after = decoded.after;
    }
    return {
      ...(normalizedSince === undefined ? {} : { since: normalizedSince }),
      limit,
      ...(after ? { after } : {}),
    };
  }

  #list(req: Request): Reply {
    const type = this.#type(req);
    if (typeof type === 'object') return type;
    const ids = this.#query(req, 'ids');
    if (typeof ids === 'object') return ids;
    if (ids !== undefined) return this.#batchRead(req, type, ids);
    const query = this.#listQuery(req, 'updated_since', type);
    if ('status' in query) return query;
    const page = this.store.page(type, query);
    const last = page.data[page.data.length - 1];
    return {
      status: 200,
      body: {
        data: page.data.map((record) => this.#present(type, record)),
        next_cursor:
          page.more && last
            ? encodeCursor({
                scope: type,
                since: query.since ?? null,
                after: { at: last.updated_at, id: last.id },
              })
            : null,
      },
    };
  }

  /** `?ids=a,b,c`: the records with these ids (1–100) in one page; missing ids are left out. */
  #batchRead(req: Request, type: ResourceType, ids: string): Reply {
    for (const name of ['updated_since', 'limit', 'cursor'])
      if (req.query[name] !== undefined)
        return problem(400, 'invalid-parameter', 'Bad Request', `ids cannot be combined with ${name}`);
    const list = ids.split(',');
    if (list.length > MAX_BATCH_IDS || list.some((id) => id === ''))
      return problem(
        400,
        'invalid-parameter',
        'Bad Request',
        `ids must be 1 to ${MAX_BATCH_IDS} non-empty ids, comma-separated`,
      );
    const data = [...new Set(list)].flatMap((id) => {
      const record = this.store.get(type, id);
      return record ? [this.#present(type, record)] : [];
    });
    return { status: 200, body: { data, next_cursor: null } };
  }

  #listDeleted(req: Request): Reply {
    const query = this.#listQuery(req, 'since', 'deleted');
    if ('status' in query) return query;
    const page = this.store.tombstonePage(query);
    const last = page.data[page.data.length - 1];
    return {
      status: 200,
      body: {
        data: page.data,
        next_cursor:
          page.more && last
            ? encodeCursor({
                scope: 'deleted',
                since: query.since ?? null,
                after: { at: last.deleted_at, id: last.id, kind: last.type },
              })
            : null,
      },
    };
  }

  #get(req: Request): Reply {
    const type = this.#type(req);
    if (typeof type === 'object') return type;
    const record = this.store.get(type, String(req.params.id));
    if (!record) return notFound(type, String(req.params.id));
    return this.#recordReply(type, record);
  }

  #create(req: Request): Reply {
    const type = this.#type(req);
    if (typeof type === 'object') return type;
    if (!req.is('application/json'))
      return problem(
        415,
        'unsupported-media-type',
        'Unsupported Media Type',
        'Send the body as application/json',
      );

    const key = req.get('idempotency-key');
    let memoryKey: string | undefined;
    let fingerprint: string | undefined;
    if (key !== undefined) {
      if (key.length < 1 || key.length > 255)
        return problem(
          400,
          'invalid-idempotency-key',
          'Bad Request',
          'Idempotency-Key must be 1 to 255 characters',
        );
      memoryKey = `${req.path}\n${key}`;
      fingerprint = digest(canonicalJson(req.body)).toString('hex');
      const remembered = this.#idempotency.get(memoryKey);
      if (remembered && remembered.expiresAt > this.clock()) {
        if (remembered.fingerprint !== fingerprint)
          return problem(
            422,
            'idempotency-key-reused',
            'Idempotency-Key Reused',
            'This Idempotency-Key was used with a different request body',
          );
        return {
          ...remembered.reply,
          headers: { ...remembered.reply.headers, 'Idempotent-Replayed': 'true' },
        };
      }
    }

    const errors = this.validate(type, 'Create', req.body);
    if (errors.length > 0)
      return problem(
        422,
        'validation-failed',
        'Unprocessable Content',
        `The ${KIND_OF_RESOURCE[type]} is invalid`,
        {
          errors,
        },
      );
    const record = this.createRecord(type, req.body as Record<string, unknown>);
    const reply = this.#recordReply(type, record, 201, {
      Location: `/api/v1/${type}/${encodeURIComponent(record.id)}`,
    });
    if (memoryKey !== undefined && fingerprint !== undefined)
      this.#idempotency.set(memoryKey, {
        fingerprint,
        reply,
        expiresAt: this.clock() + (this.options.idempotencyTtlMs ?? 24 * 3600_000),
      });
    return reply;
  }

  #update(req: Request): Reply {
    const type = this.#type(req);
    if (typeof type === 'object') return type;
    const id = String(req.params.id);
    const current = this.store.get(type, id);
    if (!current) return notFound(type, id);
    const ifMatch = req.get('if-match');
    if (ifMatch === undefined)
      return problem(
        428,
        'precondition-required',
        'Precondition Required',
        'PATCH needs If-Match: <version>',
      );
    const expected = parseIfMatch(ifMatch);
    if (expected === undefined)
      return problem(400, 'invalid-if-match', 'Bad Request', 'If-Match must be a version number');
    if (!req.is('application/json'))
      return problem(
        415,
        'unsupported-media-type',
        'Unsupported Media Type',
        'Send the body as application/json',
      );
    const errors = this.validate(type, 'Update', req.body);
    if (errors.length > 0)
      return problem(422, 'validation-failed', 'Unprocessable Content', `The changes are invalid`, {
        errors,
      });
    if (current.version !== expected) return conflict(type, expected, this.#present(type, current));
    return this.#recordReply(type, this.updateRecord(type, id, req.body as Record<string, unknown>));
  }

  #delete(req: Request): Reply {
    const type = this.#type(req);
    if (typeof type === 'object') return type;
    const id = String(req.params.id);
    const current = this.store.get(type, id);
    if (!current) return notFound(type, id);
    const ifMatch = req.get('if-match');
    if (ifMatch !== undefined) {
      const expected = parseIfMatch(ifMatch);
      if (expected === undefined)
        return problem(400, 'invalid-if-match', 'Bad Request', 'If-Match must be a version number');
      if (current.version !== expected) return conflict(type, expected, this.#present(type, current));
    }
    this.removeRecord(type, id);
    return { status: 204 };
  }

  // ------------------------------------------------------------ controls

  controls(): EmulatorControls {
    const present = <T extends ResourceType>(type: T, record: StoredRecord) =>
      this.#present(type, record) as unknown as ResourceMap[T];
    const checked = (type: ResourceType, kind: 'Create' | 'Update', values: unknown, what: string) => {
      const errors = this.validate(type, kind, values);
      if (errors.length > 0) throw new InvalidInput(what, errors);
    };
    return {
      setFaults: (faults) => this.faults.set(faults),
      clearFaults: () => this.faults.set({}),
      setLatency: (profile) => {
        this.faults.profile = custompmsLatencyProfile(profile);
      },
      faultHits: () => this.faults.hits(),
      seed: (type, records, options = {}) =>
        records.map((input) => {
          const { id, version, created_at, updated_at, ...values } = input as RecordMeta &
            Record<string, unknown>;
          const validate = schemaValidator(`${SCHEMA_NAME[type]}Create`);
          if (!validate(values)) throw new InvalidInput(`seed ${type}`, describeErrors(validate.errors));
          const record = this.store.insert(type, values, { id, version, created_at, updated_at });
          if (options.emitWebhooks) this.emit(type, 'created', record, record.updated_at);
          return present(type, record);
        }),
      records: (type) => this.store.all(type).map((record) => present(type, record)),
      record: (type, id) => {
        const record = this.store.get(type, id);
        return record && present(type, record);
      },
      tombstones: () => this.store.tombstones(),
      create: (type, values) => {
        checked(type, 'Create', values, `create ${type}`);
        return present(type, this.createRecord(type, values as Record<string, unknown>));
      },
      edit: (type, id, changes) => {
        if (!this.store.has(type, id)) throw new RangeError(`${type}/${id} does not exist`);
        checked(type, 'Update', changes, `edit ${type}/${id}`);
        return present(type, this.updateRecord(type, id, changes as Record<string, unknown>));
      },
      remove: (type, id) => {
        if (!this.store.has(type, id)) throw new RangeError(`${type}/${id} does not exist`);
        return this.removeRecord(type, id);
      },
      requests: () => [...this.#requests],
      clearRequests: () => {
        this.#requests.length = 0;
      },
      peakConcurrency: () => this.#peak,
      resetPeakConcurrency: () => {
        this.#peak = this.#inFlight;
      },
      events: () => this.webhooks.events(),
      deliveries: () => this.webhooks.attempts(),
      deliveryOutcomes: (eventId) => this.webhooks.outcomes(eventId),
      flushWebhooks: (timeoutMs) => this.webhooks.idle(timeoutMs),
      setWebhook: (target) => this.webhooks.setTarget(target),
      reset: () => {
        this.store.clear();
        this.#idempotency.clear();
        this.#requests.length = 0;
      },
    };
  }
}

function notFound(type: ResourceType, id: string): Reply {
  return problem(404, 'not-found', 'Not Found', `No ${KIND_OF_RESOURCE[type]} with id ${id}`);
}

function conflict(type: ResourceType, expected: number, current: Record<string, unknown>): Reply {
  return problem(
    409,
    'version-conflict',
    'Version Conflict',
    `The ${KIND_OF_RESOURCE[type]} is at version ${String(current.version)}, not ${expected}`,
    { current },
  );
}

function parseIfMatch(value: string): number | undefined {
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(value);
  return match ? Number(match[1]) : undefined;
}

interface CursorContent {
  scope: string;
  since: string | null;
  after: ListPosition;
}

function encodeCursor(content: CursorContent): string {
  const { scope, since, after } = content;
  return Buffer.from(JSON.stringify([1, scope, since, after.at, after.id, after.kind ?? null])).toString(
    'base64url',
  );
}

function decodeCursor(cursor: string): CursorContent | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 6 || parsed[0] !== 1) return undefined;
    const [, scope, since, at, id, kind] = parsed as [number, unknown, unknown, unknown, unknown, unknown];
    if (typeof scope !== 'string' || typeof at !== 'string' || typeof id !== 'string') return undefined;
    if (since !== null && typeof since !== 'string') return undefined;
    if (kind !== null && kind !== 'customer' && kind !== 'project' && kind !== 'task') return undefined;
    return { scope, since, after: { at, id, ...(kind === null ? {} : { kind }) } };
  } catch {
    return undefined;
  }
}

/** Builds the emulator's Express app and controls without listening (supertest-friendly). */
export function createCustompmsEmulator(options: CustompmsEmulatorOptions = {}): {
  app: Express;
  store: CustompmsStore;
  controls: EmulatorControls;
  stopWebhooks(): void;
} {
  const emulator = new Emulator(options);
  return {
    app: emulator.app(),
    store: emulator.store,
    controls: emulator.controls(),
    stopWebhooks: () => emulator.webhooks.stop(),
  };
}

/** Starts the reference server on `options.port` (0 = any free port) of 127.0.0.1. */
export async function startCustompmsEmulator(
  options: CustompmsEmulatorOptions = {},
): Promise<CustompmsEmulator> {
  const built = createCustompmsEmulator(options);
  const server: Server = await new Promise((resolve, reject) => {
    const listening = built.app.listen(options.port ?? 0, options.host ?? '127.0.0.1', (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    app: built.app,
    store: built.store,
    controls: built.controls,
    async stop() {
      built.stopWebhooks();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Short name used by tests and scripts. */
export const start = startCustompmsEmulator;
