/**
 * The small slice of the Apex platform the transliterated classes in this folder call, with the
 * platform's rules enforced where the product depends on them:
 * - each trigger invocation and each Queueable `execute` is its own transaction (rolled back when
 *   it throws; jobs enqueued in it start only if it commits);
 * - `System.enqueueJob` limits: 50 per synchronous transaction, 1 per Queueable; chain depth
 *   capped by `AsyncOptions.MaximumQueueableStackDepth`; `MinimumQueueableDelayInMinutes`;
 * - callouts go through a Named Credential (`callout:Name/path`), whose External Credential adds
 *   its header formulas (`{!'Bearer ' & $Credential.X.ApiKey}`) — only for users granted the
 *   principal by a permission set; no callout after uncommitted DML; 100 callouts; timeout ≤ 120 s;
 * - Database DML with partial success returns Salesforce's SaveResult/UpsertResult shapes;
 * - `EventBus.publish` never throws and returns SaveResults; events go out after commit.
 * The emulator never claims to run Apex itself: only these transliterations run here.
 */
import { randomUUID } from 'node:crypto';
import type { Database, RunAs, SaveResult, Transaction } from '../data/database';
import type { FieldValues, StoredRecord, Value } from '../data/values';
import type { RecordError } from '../errors';
import { canonicalId, type IdFactory } from '../ids';
import type { OrgSchema } from '../schema/org-schema';
import type { FieldDef, ObjectDef } from '../schema/types';
import { parseDate, parseDateTime, toStoredDateTime, type Clock } from '../time';
import type { UserDirectory } from '../users';

export const SOBJECT_TYPE = Symbol('sobjectType');

/** An Apex SObject: field values (dates as epoch days, datetimes as ms) plus its type. */
export interface SObject {
  [SOBJECT_TYPE]: string;
  [field: string]: Value | undefined;
}

/** Apex exceptions keep their Apex type name for job status messages. */
export class ApexException extends Error {
  constructor(
    readonly apexType: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = apexType;
  }
}

export class CalloutException extends ApexException {
  constructor(message: string) {
    super('System.CalloutException', message);
  }
}

export class LimitException extends ApexException {
  constructor(message: string) {
    super('System.LimitException', message);
  }
}

/** Apex `Queueable`. */
export interface Queueable {
  readonly apexClass: string;
  execute(apex: Apex, context: { jobId: string }): Promise<void> | void;
}

export interface AsyncOptions {
  MaximumQueueableStackDepth?: number;
  MinimumQueueableDelayInMinutes?: number;
}

export interface AsyncApexJob {
  Id: string;
  ApexClassName: string;
  Status: 'Queued' | 'Processing' | 'Completed' | 'Failed';
  ExtendedStatus: string | null;
  CreatedDate: number;
  CompletedDate: number | null;
  CreatedById: string;
  StackDepth: number;
  MaximumStackDepth: number | null;
}

export interface DebugLine {
  at: number;
  level: string;
  context: string;
  message: string;
}

export interface NamedCredentialOverride {
  url?: string;
}

export interface ApexRuntimeOptions {
  /** Minutes of `MinimumQueueableDelayInMinutes` become this many real ms. */
  msPerDelayMinute: number;
  /** Pause before a queued job starts (ms). */
  jobStartDelayMs: number;
}

export const DEFAULT_APEX_OPTIONS: ApexRuntimeOptions = { msPerDelayMinute: 60_000, jobStartDelayMs: 0 };

export interface ApexHttpRequest {
  endpoint: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface ApexHttpResponse {
  statusCode: number;
  body: string;
  headers: Record<string, string>;
}

/** A record of each callout, for tests and the report. */
export interface CalloutRecord {
  at: number;
  user: string;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody?: string;
  status?: number;
  responseBody?: string;
  error?: string;
}

/** Per-transaction state. */
class ExecutionContext {
  queueableJobs = 0;
  callouts = 0;

  constructor(
    readonly tx: Transaction,
    readonly user: RunAs,
    readonly kind: 'trigger' | 'queueable',
    readonly name: string,
    readonly depth: number,
    readonly maxDepth: number | null,
  ) {}
}

export class ApexRuntime {
  readonly jobs: AsyncApexJob[] = [];
  readonly debug: DebugLine[] = [];
  readonly callouts: CalloutRecord[] = [];
  private readonly credentialParameters = new Map<string, Map<string, string>>();
  private readonly namedCredentialOverrides = new Map<string, NamedCredentialOverride>();
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly db: Database,
    readonly schema: OrgSchema,
    readonly users: UserDirectory,
    readonly ids: IdFactory,
    readonly clock: Clock,
    readonly publishEvents: (tx: Transaction, object: ObjectDef, events: StoredRecord[]) => void,
    public options: ApexRuntimeOptions = DEFAULT_APEX_OPTIONS,
  ) {}

  /** Sets an External Credential principal parameter, as an admin does in Setup (e.g. ApiKey). */
  setCredentialParameter(externalCredential: string, parameter: string, value: string): void {
    let params = this.credentialParameters.get(externalCredential);
    if (!params) this.credentialParameters.set(externalCredential, (params = new Map()));
    params.set(parameter, value);
  }

  /** Overrides a Named Credential's URL (the deploy script sets it from the proxy's URL). */
  setNamedCredentialUrl(name: string, url: string): void {
    this.namedCredentialOverrides.set(name, { url });
  }

  /** Runs trigger code synchronously inside an existing transaction (Task triggers). */
  runInTransaction<T>(tx: Transaction, name: string, body: (apex: Apex) => T): T {
    const context = new ExecutionContext(tx, tx.user, 'trigger', name, 0, null);
    return body(new Apex(this, context));
  }

  /** Runs a platform event trigger in its own transaction as `user`. */
  async runTrigger(name: string, user: RunAs, body: (apex: Apex) => void | Promise<void>): Promise<void> {
    try {
      await this.db.transactionAsync(user, async (tx) => {
        const context = new ExecutionContext(tx, user, 'trigger', name, 0, null);
        await body(new Apex(this, context));
      });
    } catch (error) {
      this.log('ERROR', name, `unhandled ${describeError(error)}`);
      throw error;
    }
  }

  /** Enqueues a job when `tx` commits (called through System.enqueueJob). */
  enqueue(context: ExecutionContext, job: Queueable, options: AsyncOptions | undefined): string {
    const limit = context.kind === 'queueable' ? 1 : 50;
    if (context.queueableJobs >= limit) {
      throw new LimitException(`Too many queueable jobs added to the queue: ${context.queueableJobs + 1}`);
    }
    const depth = context.kind === 'queueable' ? context.depth + 1 : 1;
    const maxDepth = options?.MaximumQueueableStackDepth ?? context.maxDepth;
    if (maxDepth !== null && depth > maxDepth) {
      throw new ApexException('System.AsyncException', 'Maximum stack depth has been reached.');
    }
    context.queueableJobs += 1;
    const record: AsyncApexJob = {
      Id: this.ids.next('707'),
      ApexClassName: job.apexClass,
      Status: 'Queued',
      ExtendedStatus: null,
      CreatedDate: this.clock.now(),
      CompletedDate: null,
      CreatedById: context.user.id,
      StackDepth: depth,
      MaximumStackDepth: maxDepth,
    };
    const delayMs =
      (options?.MinimumQueueableDelayInMinutes ?? 0) * this.options.msPerDelayMinute +
      this.options.jobStartDelayMs;
    context.tx.onCommit(() => {
      this.jobs.push(record);
      this.running += 1;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.execute(record, job, context.user, depth, maxDepth);
      }, delayMs);
      // A delayed retry must not keep a test process alive.
      timer.unref();
      this.timers.add(timer);
    });
    return record.Id;
  }

  private async execute(
    record: AsyncApexJob,
    job: Queueable,
    user: RunAs,
    depth: number,
    maxDepth: number | null,
  ): Promise<void> {
    record.Status = 'Processing';
    try {
      await this.db.transactionAsync(user, async (tx) => {
        const context = new ExecutionContext(tx, user, 'queueable', job.apexClass, depth, maxDepth);
        await job.execute(new Apex(this, context), { jobId: record.Id });
      });
      record.Status = 'Completed';
    } catch (error) {
      record.Status = 'Failed';
      record.ExtendedStatus = describeError(error);
      this.log('ERROR', job.apexClass, `job ${record.Id} failed: ${record.ExtendedStatus}`);
    } finally {
      record.CompletedDate = this.clock.now();
      this.running -= 1;
      if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** Cancels jobs that have not started (the org is shutting down); they stay Queued. */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.running -= this.timers.size;
    this.timers.clear();
    if (this.running <= 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves when no job is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  log(level: string, context: string, message: string): void {
    this.debug.push({ at: this.clock.now(), level, context, message });
  }

  /** Resolves `callout:Name/path` and the External Credential's headers for `user`. */
  resolveCallout(endpoint: string, user: RunAs): { url: string; headers: Record<string, string> } {
    const match = /^callout:([A-Za-z0-9_]+)(.*)$/.exec(endpoint);
    if (!match) return { url: endpoint, headers: {} };
    const [, name, path] = match as unknown as [string, string, string];
    const credential = this.schema.namedCredentials.get(name);
    if (!credential) {
      throw new CalloutException(`Unable to find the named credential ${name}`);
    }
    const base = (this.namedCredentialOverrides.get(name)?.url ?? credential.url).replace(/\/+$/, '');
    const headers: Record<string, string> = {};
    if (credential.externalCredential) {
      const external = this.schema.externalCredentials.get(credential.externalCredential);
      const principals = external?.principals ?? [];
      const granted = this.users
        .permissionSetsOf(user.id)
        .flatMap((ps) => this.schema.permissionSets.get(ps)?.externalCredentialPrincipals ?? []);
      if (!external || !principals.some((p) => granted.includes(`${external.name}-${p}`))) {
        throw new CalloutException(
          `We couldn't access the credential(s). You might not have the required permissions, or the external credential "${credential.externalCredential}" might not exist.`,
        );
      }
      for (const header of external.authHeaders) {
        headers[header.name] = this.evaluateCredentialFormula(header.formula);
      }
    }
    return { url: base + path, headers };
  }

  /** Evaluates `{!'Bearer ' & $Credential.Custompms_Proxy.ApiKey}`: string literals joined by `&`. */
  evaluateCredentialFormula(formula: string): string {
    const inner = /^\{!([\s\S]*)\}$/.exec(formula.trim());
    if (!inner) return formula;
    const parts = inner[1]!.split('&').map((p) => p.trim());
    return parts
      .map((part) => {
        const literal = /^'((?:[^'\\]|\\.)*)'$/.exec(part) ?? /^"((?:[^"\\]|\\.)*)"$/.exec(part);
        if (literal) return literal[1]!.replace(/\\(.)/g, '$1');
        const ref = /^\$Credential\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$/.exec(part);
        if (ref) return this.credentialParameters.get(ref[1]!)?.get(ref[2]!) ?? '';
        throw new CalloutException(`Unsupported credential formula part: ${part}`);
      })
      .join('');
  }

  async send(context: ExecutionContext, request: ApexHttpRequest): Promise<ApexHttpResponse> {
    if (context.tx.hasUncommittedWork) {
      throw new CalloutException(
        'You have uncommitted work pending. Please commit or rollback before calling out',
      );
    }
    if (context.callouts >= 100) throw new LimitException('Too many callouts: 101');
    context.callouts += 1;
    const { url, headers } = this.resolveCallout(request.endpoint, context.user);
    const allHeaders = { ...request.headers, ...headers };
    const entry: CalloutRecord = {
      at: this.clock.now(),
      user: context.user.username,
      method: request.method,
      url,
      requestHeaders: allHeaders,
      requestBody: request.body,
    };
    this.callouts.push(entry);
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: allHeaders,
        body: request.body,
        signal: AbortSignal.timeout(Math.min(request.timeoutMs, 120_000)),
      });
      const body = await response.text();
      entry.status = response.status;
      entry.responseBody = body;
      return { statusCode: response.status, body, headers: Object.fromEntries(response.headers) };
    } catch (error) {
      const message = (error as Error).name === 'TimeoutError' ? 'Read timed out' : (error as Error).message;
      entry.error = message;
      throw new CalloutException(message);
    }
  }
}

function describeError(error: unknown): string {
  if (error instanceof ApexException) return `${error.apexType}: ${error.message}`;
  return `${(error as Error).name}: ${(error as Error).message}`;
}

/** Apex `Database.Error`. */
export interface DatabaseError {
  getStatusCode(): string;
  getMessage(): string;
  getFields(): string[];
}

/** Apex `Database.SaveResult` / `Database.UpsertResult`. */
export interface DatabaseResult {
  getId(): string | null;
  isSuccess(): boolean;
  isCreated(): boolean;
  getErrors(): DatabaseError[];
}

function toDatabaseResult(result: SaveResult): DatabaseResult {
  return {
    getId: () => result.id ?? null,
    isSuccess: () => result.success,
    isCreated: () => result.created === true,
    getErrors: () =>
      result.errors.map((e: RecordError) => ({
        getStatusCode: () => e.statusCode,
        getMessage: () => e.message,
        getFields: () => [...e.fields],
      })),
  };
}

/** Apex's `Schema.DescribeFieldResult` subset. */
export interface DescribeField {
  getName(): string;
  /** Schema.SoapType name: ID, STRING, DATE, DATETIME, BOOLEAN, INTEGER, DOUBLE, TIME. */
  getSoapType(): string;
  def: FieldDef;
}

export interface SObjectTypeToken {
  name: string;
  newSObject(): SObject;
  /** Lower-cased field name → describe, like `fields.getMap()` (case-insensitive get). */
  fields(): Map<string, DescribeField>;
}

function soapTypeName(def: FieldDef): string {
  switch (def.type) {
    case 'id':
    case 'reference':
      return 'ID';
    case 'date':
      return 'DATE';
    case 'datetime':
      return 'DATETIME';
    case 'boolean':
      return 'BOOLEAN';
    case 'int':
      return 'INTEGER';
    case 'double':
    case 'currency':
    case 'percent':
      return 'DOUBLE';
    case 'time':
      return 'TIME';
    default:
      return 'STRING';
  }
}

/** The API the transliterated classes call; one instance per transaction. */
export class Apex {
  constructor(
    private readonly runtime: ApexRuntime,
    private readonly context: ExecutionContext,
  ) {}

  get userId(): string {
    return this.context.user.id;
  }

  readonly System = {
    enqueueJob: (job: Queueable, options?: AsyncOptions): string =>
      this.runtime.enqueue(this.context, job, options),
    debug: (level: string, message: string): void => this.runtime.log(level, this.context.name, message),
  };

  readonly Limits = {
    getLimitQueueableJobs: (): number => (this.context.kind === 'queueable' ? 1 : 50),
    getQueueableJobs: (): number => this.context.queueableJobs,
    getCallouts: (): number => this.context.callouts,
  };

  readonly FeatureManagement = {
    checkPermission: (name: string): boolean => this.context.user.hasCustomPermission(name),
  };

  readonly Schema = {
    /** `Schema.getGlobalDescribe().get(name)`: undefined when the org has no such object. */
    getType: (name: string): SObjectTypeToken | undefined => {
      const object = this.runtime.schema.object(name);
      if (!object) return undefined;
      return {
        name: object.name,
        newSObject: () => ({ [SOBJECT_TYPE]: object.name }),
        fields: () =>
          new Map(
            object.fields.map((def) => [
              def.name.toLowerCase(),
              { getName: () => def.name, getSoapType: () => soapTypeName(def), def },
            ]),
          ),
      };
    },
  };

  /** `new SObjectType(Field = value, ...)` */
  newSObject(type: string, values: Record<string, Value> = {}): SObject {
    const object = this.runtime.schema.object(type);
    if (!object) throw new ApexException('System.TypeException', `Invalid type: ${type}`);
    const record: SObject = { [SOBJECT_TYPE]: object.name };
    for (const [name, value] of Object.entries(values)) this.put(record, name, value);
    return record;
  }

  /** `record.put(field, value)`: field-typed, as Apex checks it (an id field takes only ids). */
  put(record: SObject, field: string, value: unknown): void {
    const object = this.runtime.schema.object(record[SOBJECT_TYPE])!;
    const def = object.index.get(field.toLowerCase());
    if (!def) throw new ApexException('System.SObjectException', `Invalid field ${field} for ${object.name}`);
    if (value === null || value === undefined) {
      record[def.name] = null;
      return;
    }
    if ((def.type === 'id' || def.type === 'reference') && !canonicalId(stringValueOf(value))) {
      throw new ApexException('System.StringException', `Invalid id: ${stringValueOf(value)}`);
    }
    if (def.type === 'boolean' && typeof value !== 'boolean') {
      throw new ApexException(
        'System.SObjectException',
        `Illegal assignment from ${typeof value} to Boolean`,
      );
    }
    if ((def.type === 'date' || def.type === 'datetime') && typeof value !== 'number') {
      throw new ApexException(
        'System.SObjectException',
        `Illegal assignment from ${typeof value} to ${def.type}`,
      );
    }
    record[def.name] = value as Value;
  }

  /** `Date.valueOf(String)`; throws TypeException like Apex on a bad string. */
  dateValueOf(value: string): number {
    const day = parseDate(value.trim().slice(0, 10));
    if (day === undefined) throw new ApexException('System.TypeException', `Invalid date: ${value}`);
    return day;
  }

  /** `(Datetime) JSON.deserialize(JSON.serialize(value), Datetime.class)` */
  datetimeFromJson(value: unknown): number {
    if (typeof value === 'number' && Number.isFinite(value)) return toStoredDateTime(value);
    const ms = typeof value === 'string' ? parseDateTime(value) : undefined;
    if (ms === undefined) {
      throw new ApexException(
        'System.JSONException',
        `Cannot deserialize instance of datetime from ${JSON.stringify(value)}`,
      );
    }
    return toStoredDateTime(ms);
  }

  private input(record: SObject, skip: string[] = []): { values: FieldValues; errors: RecordError[] } {
    const values: FieldValues = new Map();
    for (const [name, value] of Object.entries(record)) {
      if (skip.includes(name) || value === undefined) continue;
      values.set(name, value);
    }
    return { values, errors: [] };
  }

  private typeOf(records: SObject[]): string {
    const first = records[0];
    if (!first) throw new ApexException('System.ListException', 'empty DML list');
    return first[SOBJECT_TYPE];
  }

  readonly Database = {
    insert: (records: SObject[], allOrNone: boolean): DatabaseResult[] => {
      if (!records.length) return [];
      const type = this.typeOf(records);
      const results = this.context.tx.insert(
        type,
        records.map((r) => this.input(r, ['Id'])),
        { allOrNone },
      );
      results.forEach((r, i) => {
        if (r.success) records[i]!.Id = r.id ?? null;
      });
      this.throwIfAllOrNone(results, allOrNone);
      return results.map(toDatabaseResult);
    },
    update: (records: SObject[], allOrNone: boolean): DatabaseResult[] => {
      if (!records.length) return [];
      const type = this.typeOf(records);
      const results = this.context.tx.update(
        type,
        records.map((r) => ({ id: String(r.Id ?? ''), input: this.input(r, ['Id']) })),
        { allOrNone },
      );
      this.throwIfAllOrNone(results, allOrNone);
      return results.map(toDatabaseResult);
    },
    upsert: (records: SObject[], externalIdField: string, allOrNone: boolean): DatabaseResult[] => {
      if (!records.length) return [];
      const type = this.typeOf(records);
      const results = this.context.tx.upsert(
        type,
        externalIdField,
        records.map((r) => this.input(r, ['Id'])),
        {
          allOrNone,
        },
      );
      results.forEach((r, i) => {
        if (r.success) records[i]!.Id = r.id ?? null;
      });
      this.throwIfAllOrNone(results, allOrNone);
      return results.map(toDatabaseResult);
    },
  };

  private throwIfAllOrNone(results: SaveResult[], allOrNone: boolean): void {
    const failed = results.findIndex((r) => !r.success);
    if (allOrNone && failed >= 0) {
      const error = results[failed]!.errors[0];
      throw new ApexException(
        'System.DmlException',
        `Insert failed. First exception on row ${failed}; first error: ${error?.statusCode}, ${error?.message}: [${error?.fields.join(', ')}]`,
      );
    }
  }

  readonly EventBus = {
    /** Validates and queues the events; never throws (failures come back as SaveResults). */
    publish: (events: SObject[]): DatabaseResult[] => {
      if (!events.length) return [];
      const type = this.typeOf(events);
      const object = this.runtime.schema.object(type)!;
      const tx = this.context.tx;
      const results: SaveResult[] = [];
      const accepted: StoredRecord[] = [];
      const ctx = this.runtime.db.ruleContext(tx.user);
      for (const event of events) {
        const missing = object.fields
          .filter((f) => !f.system && !f.nillable && (event[f.name] ?? null) === null)
          .map((f) => f.name);
        if (missing.length) {
          results.push({
            success: false,
            errors: [
              {
                statusCode: 'REQUIRED_FIELD_MISSING',
                message: `Required fields are missing: [${missing.join(', ')}]`,
                fields: missing,
              },
            ],
          });
          continue;
        }
        const id = this.runtime.ids.next(object.keyPrefix);
        const record: Record<string, Value> = {};
        for (const def of object.fields) record[def.name] = event[def.name] ?? null;
        Object.assign(record, {
          Id: id,
          CreatedDate: ctx.now,
          CreatedById: tx.user.id,
          EventUuid: randomUUID(),
        });
        accepted.push(record);
        results.push({ id, success: true, errors: [] });
      }
      if (accepted.length) this.runtime.publishEvents(tx, object, accepted);
      return results.map(toDatabaseResult);
    },
  };

  readonly Http = {
    send: (request: ApexHttpRequest): Promise<ApexHttpResponse> => this.runtime.send(this.context, request),
  };

  readonly EncodingUtil = {
    /** Java's URLEncoder, which Apex uses: `A-Za-z0-9 . - * _` stay, space → `+`. */
    urlEncode: (value: string): string =>
      Array.from(Buffer.from(value, 'utf8'))
        .map((b) => {
          const c = String.fromCharCode(b);
          if (/[A-Za-z0-9.\-*_]/.test(c)) return c;
          if (c === ' ') return '+';
          return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
        })
        .join(''),
  };
}

/** Apex `String.valueOf(Object)`: maps and lists as JSON here (Apex prints them its own way). */
export function stringValueOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString();
  if (value === undefined || value === null) return 'null';
  return JSON.stringify(value);
}

/** `String.isBlank` / `String.isNotBlank` */
export const ApexString = {
  isBlank: (value: unknown): boolean =>
    value === null || value === undefined || stringValueOf(value).trim() === '',
  isNotBlank: (value: unknown): boolean =>
    !(value === null || value === undefined || stringValueOf(value).trim() === ''),
  abbreviate: (value: string, max: number): string =>
    value.length <= max ? value : `${value.slice(0, max - 3)}...`,
};
