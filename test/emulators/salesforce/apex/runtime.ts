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
 * - `EventBus.publish` never throws and returns SaveResults; events go out after commit;
 * - access modes: `Database.insert/update/upsert/query(…, AccessLevel.USER_MODE)` enforce the
 *   running user's object permissions, field-level security and sharing; `SYSTEM_MODE` enforces
 *   sharing only inside a `with sharing` class (`apex.withSharing`), nothing otherwise
 *   (Apex Developer Guide, "Set an Access Mode for Database Operations": "Apex database operations
 *   run in user mode by default, which means that they apply the sharing rules, field-level
 *   security (FLS), and object permissions of the running user … if you set the operation to
 *   system mode, the sharing keyword on the calling class determines whether the operation
 *   respects the user's record-level permissions"; Apex Reference, "AccessLevel Class");
 * - governor limits of asynchronous Apex: 12 MB heap and 60,000 ms CPU per Queueable transaction
 *   (6 MB / 10,000 ms synchronous) (Apex Developer Guide, "Execution Governors and Limits").
 *   Exceeding one throws System.LimitException, which Apex code cannot catch: the transaction
 *   ends and rolls back whatever the code does with the exception. The heap is approximated from
 *   what the transliterations hold (`apex.Limits.hold(key, value)`: the serialised size of
 *   callout bodies, record lists, ...); CPU time is the job's own run time, callouts excluded;
 * - Transaction Finalizers (`System.attachFinalizer`): one per Queueable; run after the job in a
 *   transaction of their own, with `getResult()` SUCCESS or UNHANDLED_EXCEPTION and the exception
 *   (Apex Developer Guide, "Transaction Finalizers"; Apex Reference, "FinalizerContext
 *   Interface").
 * The emulator never claims to run Apex itself: only these transliterations run here.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { Database, DmlOptions, RunAs, SaveResult, Transaction } from '../data/database';
import { SYSTEM_MODE_WITH_SHARING, USER_MODE, type Enforcement } from '../security/access';
import { SoqlError } from '../soql/lexer';
import { compileQuery, executeQuery } from '../soql/executor';
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

/** Apex `AccessLevel`: the mode of one database operation. */
export const AccessLevel = { USER_MODE: 'USER_MODE', SYSTEM_MODE: 'SYSTEM_MODE' } as const;
export type AccessLevelValue = (typeof AccessLevel)[keyof typeof AccessLevel];

/** The sharing keyword of the running class. */
export type SharingKeyword = 'with sharing' | 'without sharing' | 'inherited sharing';

/** Apex `System.ParentJobResult`. */
export type ParentJobResult = 'SUCCESS' | 'UNHANDLED_EXCEPTION';

/** Apex `System.FinalizerContext`. */
export interface FinalizerContext {
  getAsyncApexJobId(): string;
  getRequestId(): string;
  getResult(): ParentJobResult;
  getException(): ApexException | null;
}

/**
 * Apex `System.Finalizer`. Its Apex method is `execute(FinalizerContext)`; the transliteration
 * names it `finalize` so one class can be both Queueable and Finalizer, as in Apex.
 */
export interface Finalizer {
  readonly apexClass: string;
  finalize(apex: Apex, context: FinalizerContext): Promise<void> | void;
}

/**
 * A DML call's mode: an AccessLevel, or `{ accessLevel, sharing }` for a call made from a class
 * with that sharing keyword (`sharing: 'without'` in an inner `without sharing` class).
 */
export type DmlMode =
  AccessLevelValue | { accessLevel: AccessLevelValue; sharing?: 'with' | 'without' | 'inherited' };

/** Asynchronous and synchronous governor limits (Apex Developer Guide, "Execution Governors and Limits"). */
export const HEAP_LIMIT = { sync: 6 * 1024 * 1024, async: 12 * 1024 * 1024 };
export const CPU_LIMIT_MS = { sync: 10_000, async: 60_000 };

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
  /** The clock CPU time is read from (ms; tests inject one to reach the limit without waiting). */
  cpuClock?: () => number;
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
  /** Bytes held, by what holds them (`Limits.hold`). */
  readonly heap = new Map<string, number>();
  /** CPU clock reading at the start, and time spent waiting on callouts (not CPU). */
  cpuStart = 0;
  calloutMs = 0;
  /** A LimitException ends the transaction however the code handles it. */
  fatal: LimitException | undefined;
  /** The finalizer attached by this Queueable (one at most). */
  finalizer: Finalizer | undefined;
  /** The running class's sharing keyword (SYSTEM_MODE operations honour `with sharing`). */
  sharing: SharingKeyword = 'inherited sharing';

  constructor(
    readonly tx: Transaction,
    readonly user: RunAs,
    readonly kind: 'trigger' | 'queueable' | 'finalizer',
    readonly name: string,
    readonly depth: number,
    readonly maxDepth: number | null,
    readonly jobId: string | null = null,
  ) {}

  get async(): boolean {
    return this.kind !== 'trigger';
  }
}

export class ApexRuntime {
  readonly jobs: AsyncApexJob[] = [];
  readonly debug: DebugLine[] = [];
  readonly callouts: CalloutRecord[] = [];
  private readonly credentialParameters = new Map<string, Map<string, string>>();
  private readonly userCredentials = new Map<string, Map<string, string>>();
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

  /**
   * A user's own credentials for a per-user principal (the UserExternalCredential a user creates
   * by authenticating in their settings); without them that user's callouts fail.
   */
  setUserCredential(
    externalCredential: string,
    principal: string,
    userId: string,
    parameters: Record<string, string> | undefined,
  ): void {
    const key = `${externalCredential}-${principal}:${canonicalId(userId) ?? userId}`;
    if (parameters) this.userCredentials.set(key, new Map(Object.entries(parameters)));
    else this.userCredentials.delete(key);
  }

  /** Overrides a Named Credential's URL (the deploy script sets it from the proxy's URL). */
  setNamedCredentialUrl(name: string, url: string): void {
    this.namedCredentialOverrides.set(name, { url });
  }

  /** Runs trigger code synchronously inside an existing transaction (Task triggers). */
  runInTransaction<T>(tx: Transaction, name: string, body: (apex: Apex) => T): T {
    const context = new ExecutionContext(tx, tx.user, 'trigger', name, 0, null);
    context.cpuStart = this.cpuNow();
    const result = body(new Apex(this, context));
    this.checkLimits(context);
    if (context.fatal) throw context.fatal;
    return result;
  }

  private cpuNow(): number {
    return (this.options.cpuClock ?? (() => performance.now()))();
  }

  /** Heap and CPU: past a limit, the transaction is over (an uncatchable LimitException). */
  checkLimits(context: ExecutionContext): void {
    if (context.fatal) throw context.fatal;
    const heapLimit = context.async ? HEAP_LIMIT.async : HEAP_LIMIT.sync;
    let heap = 0;
    for (const bytes of context.heap.values()) heap += bytes;
    if (heap > heapLimit) {
      context.fatal = new LimitException(`Apex heap size too large: ${heap}`);
      throw context.fatal;
    }
    const cpuLimit = context.async ? CPU_LIMIT_MS.async : CPU_LIMIT_MS.sync;
    const cpu = this.cpuNow() - context.cpuStart - context.calloutMs;
    if (cpu > cpuLimit) {
      context.fatal = new LimitException('Apex CPU time limit exceeded');
      throw context.fatal;
    }
  }

  heapSize(context: ExecutionContext): number {
    let heap = 0;
    for (const bytes of context.heap.values()) heap += bytes;
    return heap;
  }

  cpuTime(context: ExecutionContext): number {
    return Math.max(0, Math.round(this.cpuNow() - context.cpuStart - context.calloutMs));
  }

  /** Runs a platform event trigger in its own transaction as `user`. */
  async runTrigger(name: string, user: RunAs, body: (apex: Apex) => void | Promise<void>): Promise<void> {
    try {
      await this.db.transactionAsync(user, async (tx) => {
        const context = new ExecutionContext(tx, user, 'trigger', name, 0, null);
        context.cpuStart = this.cpuNow();
        await body(new Apex(this, context));
        this.checkLimits(context);
      });
    } catch (error) {
      this.log('ERROR', name, `unhandled ${describeError(error)}`);
      throw error;
    }
  }

  /** Enqueues a job when `tx` commits (called through System.enqueueJob). */
  enqueue(context: ExecutionContext, job: Queueable, options: AsyncOptions | undefined): string {
    this.checkLimits(context);
    // A Queueable, and a finalizer, may enqueue one job; a synchronous transaction 50.
    const limit = context.async ? 1 : 50;
    if (context.queueableJobs >= limit) {
      throw new LimitException(`Too many queueable jobs added to the queue: ${context.queueableJobs + 1}`);
    }
    const depth = context.async ? context.depth + 1 : 1;
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
    let finalizer: Finalizer | undefined;
    let failure: unknown;
    try {
      await this.db.transactionAsync(user, async (tx) => {
        const context = new ExecutionContext(
          tx,
          user,
          'queueable',
          job.apexClass,
          depth,
          maxDepth,
          record.Id,
        );
        context.cpuStart = this.cpuNow();
        try {
          await job.execute(new Apex(this, context), { jobId: record.Id });
          // A LimitException the code swallowed still ends the transaction.
          this.checkLimits(context);
        } finally {
          finalizer = context.finalizer;
        }
      });
      record.Status = 'Completed';
    } catch (error) {
      failure = error;
      record.Status = 'Failed';
      record.ExtendedStatus = describeError(error);
      this.log('ERROR', job.apexClass, `job ${record.Id} failed: ${record.ExtendedStatus}`);
    }
    try {
      if (finalizer) await this.runFinalizer(finalizer, record, user, depth, maxDepth, failure);
    } finally {
      record.CompletedDate = this.clock.now();
      this.running -= 1;
      if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /**
   * Runs a Queueable's finalizer after the job, in its own transaction as the same user ("The
   * Queueable job and the Finalizer run in separate Apex and Database transactions"), whether the
   * job succeeded or failed; it may enqueue one asynchronous job.
   */
  private async runFinalizer(
    finalizer: Finalizer,
    record: AsyncApexJob,
    user: RunAs,
    depth: number,
    maxDepth: number | null,
    failure: unknown,
  ): Promise<void> {
    const exception =
      failure === undefined
        ? null
        : failure instanceof ApexException
          ? failure
          : new ApexException(
              (failure as Error).name || 'System.Exception',
              (failure as Error).message,
              failure,
            );
    const context: FinalizerContext = {
      getAsyncApexJobId: () => record.Id,
      getRequestId: () => record.Id,
      getResult: () => (failure === undefined ? 'SUCCESS' : 'UNHANDLED_EXCEPTION'),
      getException: () => exception,
    };
    try {
      await this.db.transactionAsync(user, async (tx) => {
        const execution = new ExecutionContext(
          tx,
          user,
          'finalizer',
          finalizer.apexClass,
          depth,
          maxDepth,
          record.Id,
        );
        execution.cpuStart = this.cpuNow();
        await finalizer.finalize(new Apex(this, execution), context);
        this.checkLimits(execution);
      });
    } catch (error) {
      this.log('ERROR', finalizer.apexClass, `finalizer of job ${record.Id} failed: ${describeError(error)}`);
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
      const denied = new CalloutException(
        `We couldn't access the credential(s). You might not have the required permissions, or the external credential "${credential.externalCredential}" might not exist.`,
      );
      if (!external) throw denied;
      // "External credential principals map to permission sets to authorize users to make
      // callouts" (Salesforce Help, "Named Credentials Schema"); "In order to perform an
      // authenticated callout, users need profile- or permission set-based access to user
      // external credentials" — Read for a named principal; Read, Create, Edit, Delete for a
      // per-user principal, whose user has entered their own credentials (Salesforce Help,
      // "Permission Concepts for User External Credentials").
      const access = user.access();
      const principal = external.principals.find((p) => access.hasPrincipalAccess(external.name, p));
      if (principal === undefined) throw denied;
      const uec = access.grants.objectPermissions.get('userexternalcredential');
      const perUser = external.principalTypes.get(principal) === 'PerUserPrincipal';
      const allowed =
        access.modifyAllData ||
        (uec !== undefined &&
          uec.allowRead &&
          (!perUser || (uec.allowCreate && uec.allowEdit && uec.allowDelete)));
      if (!allowed) throw denied;
      const parameters = perUser
        ? this.userCredentials.get(`${external.name}-${principal}:${user.id}`)
        : this.credentialParameters.get(external.name);
      if (perUser && !parameters) throw denied;
      for (const header of external.authHeaders) {
        headers[header.name] = this.evaluateCredentialFormula(header.formula, parameters);
      }
    }
    return { url: base + path, headers };
  }

  /** Evaluates `{!'Bearer ' & $Credential.Custompms_Proxy.ApiKey}`: string literals joined by `&`. */
  evaluateCredentialFormula(formula: string, parameters?: Map<string, string>): string {
    const inner = /^\{!([\s\S]*)\}$/.exec(formula.trim());
    if (!inner) return formula;
    const parts = inner[1]!.split('&').map((p) => p.trim());
    return parts
      .map((part) => {
        const literal = /^'((?:[^'\\]|\\.)*)'$/.exec(part) ?? /^"((?:[^"\\]|\\.)*)"$/.exec(part);
        if (literal) return literal[1]!.replace(/\\(.)/g, '$1');
        const ref = /^\$Credential\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$/.exec(part);
        if (ref) return (parameters ?? this.credentialParameters.get(ref[1]!))?.get(ref[2]!) ?? '';
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
    this.checkLimits(context);
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
    const started = this.cpuNow();
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
    } finally {
      // Waiting on the remote end is not Apex CPU time.
      context.calloutMs += this.cpuNow() - started;
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
  /** Field-level security for the running user ("… by the current user", Apex DescribeFieldResult). */
  isAccessible(): boolean;
  isCreateable(): boolean;
  isUpdateable(): boolean;
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
    /**
     * Attaches a Transaction Finalizer to the running Queueable ("Only one finalizer instance can
     * be attached to any Queueable job"; outside a Queueable it is not allowed).
     */
    attachFinalizer: (finalizer: Finalizer): void => {
      this.runtime.checkLimits(this.context);
      if (this.context.kind !== 'queueable') {
        throw new ApexException('System.AsyncException', 'Finalizers can only be attached to Queueable jobs');
      }
      if (this.context.finalizer) {
        throw new ApexException(
          'System.AsyncException',
          'Cannot attach more than one finalizer to a Queueable job',
        );
      }
      this.context.finalizer = finalizer;
    },
  };

  readonly Limits = {
    getLimitQueueableJobs: (): number => (this.context.async ? 1 : 50),
    getQueueableJobs: (): number => this.context.queueableJobs,
    getCallouts: (): number => this.context.callouts,
    getHeapSize: (): number => this.runtime.heapSize(this.context),
    getLimitHeapSize: (): number => (this.context.async ? HEAP_LIMIT.async : HEAP_LIMIT.sync),
    getCpuTime: (): number => this.runtime.cpuTime(this.context),
    getLimitCpuTime: (): number => (this.context.async ? CPU_LIMIT_MS.async : CPU_LIMIT_MS.sync),
    /**
     * The emulator's heap hook: the transliterations call it for what they keep (a callout
     * response body, a record list, a parsed batch): `key` names it, its heap cost is the UTF-8
     * size of its JSON form; holding the same key again replaces it, `release` frees it. Past the
     * limit this throws an uncatchable LimitException ("Apex heap size too large").
     */
    hold: (key: string, value: unknown): void => {
      const json = typeof value === 'string' ? value : JSON.stringify(value ?? null);
      this.context.heap.set(key, Buffer.byteLength(json ?? 'null', 'utf8'));
      this.runtime.checkLimits(this.context);
    },
    release: (key: string): void => {
      this.context.heap.delete(key);
    },
    /** Checks the CPU and heap limits now (the runtime also checks at every platform call). */
    check: (): void => this.runtime.checkLimits(this.context),
  };

  /**
   * Runs `body` as code of a class with a sharing keyword (SYSTEM_MODE operations in it respect
   * record access only under `with sharing`). Inner calls restore the outer keyword afterwards.
   */
  withSharing<T>(keyword: SharingKeyword, body: () => T): T {
    const outer = this.context.sharing;
    // "inherited sharing" keeps the caller's mode.
    if (keyword !== 'inherited sharing') this.context.sharing = keyword;
    const restore = (): void => {
      this.context.sharing = outer;
    };
    let result: T;
    try {
      result = body();
    } catch (error) {
      restore();
      throw error;
    }
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  }

  /** What a database operation in `mode` enforces here. */
  private enforcement(mode: DmlMode): Enforcement | undefined {
    const level = typeof mode === 'string' ? mode : mode.accessLevel;
    if (level === AccessLevel.USER_MODE) return USER_MODE;
    const sharing =
      typeof mode === 'string' || !mode.sharing || mode.sharing === 'inherited'
        ? this.context.sharing
        : `${mode.sharing} sharing`;
    return sharing === 'with sharing' ? SYSTEM_MODE_WITH_SHARING : undefined;
  }

  private dml(allOrNone: boolean, mode: DmlMode): DmlOptions {
    this.runtime.checkLimits(this.context);
    return { allOrNone, security: this.enforcement(mode) };
  }

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
        fields: () => {
          const access = this.context.tx.access();
          return new Map(
            object.fields.map((def) => {
              const fls = access.fieldAccess(object, def);
              return [
                def.name.toLowerCase(),
                {
                  getName: () => def.name,
                  getSoapType: () => soapTypeName(def),
                  isAccessible: () => fls !== 'none',
                  isCreateable: () => fls === 'edit' && def.createable,
                  isUpdateable: () => fls === 'edit' && def.updateable,
                  def,
                },
              ];
            }),
          );
        },
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
    query: (soql: string, accessLevel: DmlMode = AccessLevel.USER_MODE): SObject[] =>
      this.query(soql, accessLevel),
    insert: (
      records: SObject[],
      allOrNone: boolean,
      accessLevel: DmlMode = AccessLevel.USER_MODE,
    ): DatabaseResult[] => {
      if (!records.length) return [];
      const type = this.typeOf(records);
      const results = this.context.tx.insert(
        type,
        records.map((r) => this.input(r, ['Id'])),
        this.dml(allOrNone, accessLevel),
      );
      results.forEach((r, i) => {
        if (r.success) records[i]!.Id = r.id ?? null;
      });
      this.throwIfAllOrNone(results, allOrNone);
      return results.map(toDatabaseResult);
    },
    update: (
      records: SObject[],
      allOrNone: boolean,
      accessLevel: DmlMode = AccessLevel.USER_MODE,
    ): DatabaseResult[] => {
      if (!records.length) return [];
      const type = this.typeOf(records);
      const results = this.context.tx.update(
        type,
        records.map((r) => ({ id: String(r.Id ?? ''), input: this.input(r, ['Id']) })),
        this.dml(allOrNone, accessLevel),
      );
      this.throwIfAllOrNone(results, allOrNone);
      return results.map(toDatabaseResult);
    },
    upsert: (
      records: SObject[],
      externalIdField: string,
      allOrNone: boolean,
      accessLevel: DmlMode = AccessLevel.USER_MODE,
    ): DatabaseResult[] => {
      if (!records.length) return [];
      const type = this.typeOf(records);
      const results = this.context.tx.upsert(
        type,
        externalIdField,
        records.map((r) => this.input(r, ['Id'])),
        this.dml(allOrNone, accessLevel),
      );
      results.forEach((r, i) => {
        if (r.success) records[i]!.Id = r.id ?? null;
      });
      this.throwIfAllOrNone(results, allOrNone);
      return results.map(toDatabaseResult);
    },
  };

  /**
   * `Database.query(soql, accessLevel)` / `[SELECT … WITH USER_MODE]`: in user mode the query
   * binds against the fields the user can read (a hidden one is a QueryException "No such
   * column") and returns only the records the user can see; in system mode, every field, and
   * every record unless the class is `with sharing`.
   */
  query(soql: string, accessLevel: DmlMode = AccessLevel.USER_MODE): SObject[] {
    this.runtime.checkLimits(this.context);
    const enforcement = this.enforcement(accessLevel);
    const access = this.context.tx.access();
    try {
      const compiled = compileQuery(
        soql,
        enforcement?.fls ? access.schemaView() : this.runtime.schema,
        this.runtime.db,
        this.runtime.clock.now(),
      );
      const object = compiled.object;
      const rows = executeQuery(
        compiled,
        this.runtime.db,
        false,
        enforcement?.sharing ? (row) => access.canSee(object, row) : undefined,
      );
      return rows.map((row) => {
        const record: SObject = { [SOBJECT_TYPE]: object.name, Id: row.Id ?? null };
        for (const column of compiled.columns) record[column.path.join('.')] = column.get(row);
        return record;
      });
    } catch (error) {
      if (error instanceof SoqlError) throw new ApexException('System.QueryException', error.message);
      throw error;
    }
  }

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

  /** `[SELECT …]` as the transliterations write it: `apex.soql(text, AccessLevel.X)`. */
  soql(text: string, accessLevel: DmlMode = AccessLevel.USER_MODE): SObject[] {
    return this.query(text, accessLevel);
  }

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
