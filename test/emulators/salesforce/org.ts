/**
 * One emulated Salesforce org: schema (standard objects + applied metadata), data and DML,
 * users and permissions, OAuth sessions, limits, fault injection, the event bus, record-triggered
 * Flows and outbound messages, the Apex transliterations and Bulk API 2.0 jobs. The HTTP layer
 * (http/) is a thin translation of requests onto this object; tests can also drive it directly.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PLACEHOLDERS } from '../../../scripts/deploy-org';
import {
  ApexRuntime,
  DEFAULT_APEX_OPTIONS,
  SOBJECT_TYPE,
  type ApexRuntimeOptions,
  type SObject,
} from './apex/runtime';
import { TRIGGERS, type TriggerDefinition } from './apex/triggers';
import type { TriggerOperation } from './apex/CustompmsTaskTriggerHandler';
import { OAuthServer, type ConnectedApp } from './auth';
import { EventBus, type PublishedEvent } from './automation/event-bus';
import { runRecordTriggeredFlows } from './automation/flows';
import { DEFAULT_OUTBOUND, OutboundMessenger, type OutboundOptions } from './automation/outbound';
import { Database, type DmlHooks, type RunAs, type SaveResult, type Transaction } from './data/database';
import { parseJsonRecord, type StoredRecord, type Value } from './data/values';
import { FaultInjector } from './faults';
import { LATENCY_PROFILES, latencyProfile, type LatencyProfile, type LatencyProfileName } from './latency';
import { IdFactory } from './ids';
import { DEFAULT_LIMITS, OrgLimits, type LimitsOptions } from './limits';
import { OrgSchema, type ApplyOutcome, type MetadataComponent } from './schema/org-schema';
import { deployPackage, type PackageDeployOutcome } from './metadata/deploy';
import {
  APEX_TESTS_UNAVAILABLE,
  DeployQueue,
  DeployRefused,
  deployTestRequirement,
  type DeployJob,
  type OrgDeployRules,
} from './metadata/jobs';
import { convertSource } from './metadata/source';
import type { ObjectDef } from './schema/types';
import { Bulk2Service } from './services/bulk2';
import { QueryCursors } from './services/query-cursors';
import { systemClock, type Clock } from './time';
import { UserDirectory, type UserSpec } from './users';
import { API_ONLY_INTEGRATIONS, SYSTEM_ADMINISTRATOR } from './security/profiles';

/** The placeholder force-app uses for the integration username; the deploy script replaces it. */
export const INTEGRATION_USERNAME_PLACEHOLDER = PLACEHOLDERS.integrationUser;

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const DEFAULT_FORCE_APP = path.join(REPO_ROOT, 'force-app/main/default');

/**
 * Production, sandbox or Developer Edition: decides the Metadata API's test rules (NoTestRun is
 * refused in production; Apex deploys there run tests) and whether deployed Flows stay active
 * (FlowSettings.enableFlowDeployAsActiveEnabled: false by default in production).
 */
export type OrgType = 'production' | 'sandbox' | 'developer';

export interface OrgOptions {
  /** Default `sandbox` (the emulator's behaviour before org types: deployed flows keep their status). */
  orgType: OrgType;
  /**
   * The org's "Deploy processes and flows as active" setting (Metadata API FlowSettings
   * `enableFlowDeployAsActiveEnabled`): "The default value is false for production orgs and is
   * true for non-production orgs such as scratch, sandbox" (Metadata API Developer Guide,
   * "FlowSettings"). Undefined: that default. `org.setFlowDeployAsActive()` flips it later.
   */
  flowDeployAsActive?: boolean;
  /**
   * Text substitutions `deploySource` applies to the package before deploying it, as the deploy
   * script does (placeholder → value); by default the integration username placeholder.
   */
  substitutions: Record<string, string>;
  /** Divisions enabled (Task.Division, User.DefaultDivision, the Division object in use). */
  divisions: boolean;
  /** Highest API version served (`/services/data` lists 31.0 up to it). */
  apiVersion: string;
  orgName: string;
  clock: Clock;
  limits: LimitsOptions;
  /** Access-token lifetime (Salesforce's default session timeout is 2 hours). */
  tokenTtlMs: number;
  outbound: OutboundOptions;
  apex: ApexRuntimeOptions & {
    /** `deployed`: run a trigger only when its ApexTrigger is in the org's metadata. */
    triggers: 'deployed' | 'always' | 'off';
  };
  eventDeliveryDelayMs: number;
  bulkProcessingDelayMs: number;
  /**
   * The latency model (latency.ts): `zero` (the default) or `realistic`, or a profile of its own.
   * When given, its event delivery, Queueable start and Bulk queue time replace
   * `eventDeliveryDelayMs`, `apex.jobStartDelayMs` and `bulkProcessingDelayMs`.
   */
  latency?: LatencyProfile | LatencyProfileName;
  /** Real time a deploy spends in each of Pending and InProgress (polling sees both). */
  deployStepMs: number;
  integrationUser: UserSpec;
  /**
   * System permissions an admin grants the integration user on top of force-app (on its profile or
   * an admin-made permission set), as the product README's setup asks: e.g.
   * `['ViewAllData', 'ModifyAllData']`. Default none: the integration user then has exactly its
   * profile ("Salesforce API Only System Integrations") and what force-app's permission set grants.
   */
  integrationUserSystemPermissions: string[];
  adminUser: UserSpec;
  connectedApp: ConnectedApp;
  seed: number;
}

export function defaultOrgOptions(): OrgOptions {
  const integrationUser: UserSpec = {
    username: 'integration@custompms.example',
    email: 'integration@custompms.example',
    firstName: 'Custompms',
    lastName: 'Integration',
    alias: 'cpmsint',
    // The Salesforce Integration licence's profile (API access only): everything else the
    // integration user may do comes from force-app's permission set, as in a real org.
    profile: API_ONLY_INTEGRATIONS,
    permissionSets: ['Custompms_Integration'],
  };
  return {
    orgType: 'sandbox',
    substitutions: { [INTEGRATION_USERNAME_PLACEHOLDER]: integrationUser.username },
    divisions: true,
    apiVersion: '65.0',
    orgName: 'Custompms Emulated Org',
    clock: systemClock,
    limits: DEFAULT_LIMITS,
    tokenTtlMs: 2 * 60 * 60 * 1000,
    outbound: DEFAULT_OUTBOUND,
    apex: { ...DEFAULT_APEX_OPTIONS, triggers: 'deployed' },
    eventDeliveryDelayMs: 0,
    bulkProcessingDelayMs: 20,
    deployStepMs: 100,
    integrationUser,
    integrationUserSystemPermissions: [],
    adminUser: {
      username: 'admin@custompms.example',
      email: 'admin@custompms.example',
      firstName: 'Ada',
      lastName: 'Admin',
      alias: 'admin',
      profile: SYSTEM_ADMINISTRATOR,
      permissionSets: ['Custompms_Admin'],
    },
    connectedApp: {
      name: 'Custompms Proxy',
      clientId: 'emulator-client-id',
      clientSecret: 'emulator-client-secret',
      runAs: integrationUser.username,
    },
    seed: 1,
  };
}

export interface RequestLogEntry {
  at: number;
  method: string;
  path: string;
  status: number;
  category: string;
}

export interface OrgWarning {
  at: number;
  source: string;
  message: string;
}

/** The force-app Apex the emulator carries transliterations of (apex/). */
const TRANSLITERATED: Record<string, string[]> = {
  ApexClass: [
    'CustompmsDeletionJob',
    'CustompmsProxyClient',
    'CustompmsProxyException',
    'CustompmsPullJob',
    'CustompmsQueue',
    'CustompmsRecordWriter',
    'CustompmsTaskTriggerHandler',
  ],
  ApexTrigger: TRIGGERS.map((t) => t.name),
};

export class SalesforceOrg {
  readonly options: OrgOptions;
  readonly ids = new IdFactory();
  readonly id: string;
  readonly clock: Clock;
  readonly schema: OrgSchema;
  readonly db: Database;
  readonly users: UserDirectory;
  readonly oauth: OAuthServer;
  readonly limits: OrgLimits;
  readonly faults: FaultInjector;
  /** The latency model in force (README "Latency profiles"). */
  latency: LatencyProfile = LATENCY_PROFILES.zero;
  readonly bus: EventBus;
  readonly outbound: OutboundMessenger;
  readonly apex: ApexRuntime;
  readonly bulk: Bulk2Service;
  readonly queries: QueryCursors;
  readonly warnings: OrgWarning[] = [];
  /** The last 10,000 HTTP requests (method, path, status), oldest first. */
  readonly requestLog: RequestLogEntry[] = [];
  readonly createdAt: number;
  /** Metadata API deploys (async jobs by id). */
  readonly deploys: DeployQueue;
  /** SHA-256 of each deployed Apex body, by `ApexClass:Name` / `ApexTrigger:Name`. */
  readonly deployedApex = new Map<string, string>();
  integrationUserId = '';
  adminUserId = '';
  automatedProcessUserId = '';
  /** Set by the HTTP server once it listens. */
  baseUrl = 'http://127.0.0.1';

  constructor(options: Partial<OrgOptions> = {}) {
    const defaults = defaultOrgOptions();
    this.options = {
      ...defaults,
      ...options,
      outbound: { ...defaults.outbound, ...options.outbound },
      apex: { ...defaults.apex, ...options.apex },
      limits: { ...defaults.limits, ...options.limits },
    };
    const o = this.options;
    if (o.latency !== undefined) {
      const latency = latencyProfile(o.latency);
      this.latency = latency;
      o.eventDeliveryDelayMs = latency.eventDeliveryMs;
      o.apex = { ...o.apex, jobStartDelayMs: latency.apexJobStartMs };
      o.bulkProcessingDelayMs = latency.bulk.queueMs;
    }
    this.clock = o.clock;
    this.createdAt = this.clock.now();
    this.id = this.ids.next('00D');
    this.schema = new OrgSchema({ divisions: o.divisions }, this.ids);
    this.schema.flowDeployAsActive = o.flowDeployAsActive ?? o.orgType !== 'production';
    this.db = new Database(this.schema, this.clock, this.ids);
    this.users = new UserDirectory(this.db);
    this.limits = new OrgLimits(o.limits);
    this.faults = new FaultInjector(o.seed);
    this.oauth = new OAuthServer(this.id, this.users, () => this.clock.now(), o.tokenTtlMs);
    this.bus = new EventBus(
      () => this.clock.now(),
      o.eventDeliveryDelayMs,
      (n) => this.limits.countPublishedEvents(n),
    );
    this.outbound = new OutboundMessenger(
      this.schema,
      this.db,
      this.ids,
      this.clock,
      this.faults,
      {
        id: this.id,
        baseUrl: () => this.baseUrl,
        apiVersion: o.apiVersion,
        canRead: (username, object, field) => {
          const user = this.users.byUsername(username);
          // No such user: nothing is readable (the deploy check requires an active user).
          return (
            user !== undefined && this.users.access(user.Id as string).fieldAccess(object, field) !== 'none'
          );
        },
      },
      o.outbound,
    );
    this.apex = new ApexRuntime(
      this.db,
      this.schema,
      this.users,
      this.ids,
      this.clock,
      (tx, object, events) => this.publishEvents(tx, object, events),
      o.apex,
    );
    this.bulk = new Bulk2Service(this.schema, this.db, this.ids, this.clock, this.limits, {
      processingDelayMs: o.bulkProcessingDelayMs,
      recordsPerSecond: this.latency.bulk.recordsPerSecond,
    });
    this.queries = new QueryCursors(this.db, this.ids, this.clock);
    this.db.hooks = this.hooks();
    this.schema.onApply((component) => this.afterApply(component));
    this.deploys = new DeployQueue(
      this.ids,
      this.clock,
      (files, checkOnly) => this.deployFiles(files, { checkOnly }),
      o.deployStepMs,
      () => this.deployRules(),
    );
    this.seed();
    this.subscribeTriggers();
  }

  private seed(): void {
    this.db.systemInsert('Organization', {
      Id: this.id,
      Name: this.options.orgName,
      InstanceName: 'EMU1',
      IsSandbox: this.options.orgType === 'sandbox',
      TrialExpirationDate: null,
      NamespacePrefix: null,
      OrganizationType: this.options.orgType === 'developer' ? 'Developer Edition' : 'Enterprise Edition',
    });
    if (this.options.divisions) {
      this.db.systemInsert('Division', {
        Name: 'Global',
        IsActive: true,
        IsGlobalDivision: true,
        SortOrder: 0,
      });
    }
    const automated = this.users.create({
      username: `autoproc@${this.id.toLowerCase()}`,
      email: 'noreply@salesforce.com',
      lastName: 'Automated Process',
      alias: 'autoproc',
      userType: 'AutomatedProcess',
      profile: SYSTEM_ADMINISTRATOR,
    });
    this.automatedProcessUserId = automated.Id as string;
    this.integrationUserId = this.users.create({
      ...this.options.integrationUser,
      systemPermissions: [
        ...(this.options.integrationUser.systemPermissions ?? []),
        ...this.options.integrationUserSystemPermissions,
      ],
    }).Id as string;
    this.adminUserId = this.users.create(this.options.adminUser).Id as string;
    this.oauth.addApp(this.options.connectedApp);
  }

  /** What decides a deploy's test requirement here (production, flows deployed as active). */
  deployRules(): OrgDeployRules {
    return {
      production: this.options.orgType === 'production',
      flowDeployAsActive: this.schema.flowDeployAsActive,
    };
  }

  warn(source: string, message: string): void {
    this.warnings.push({ at: this.clock.now(), source, message });
  }

  /**
   * Validates a Metadata API package (zip path → text) and, unless `checkOnly` or anything fails,
   * applies all of it; the one path every deploy takes (SOAP, REST, `deploySource`).
   */
  deployFiles(files: Map<string, string>, options: { checkOnly: boolean }): PackageDeployOutcome {
    const outcome = deployPackage(
      {
        schema: this.schema,
        apiVersion: Number(this.options.apiVersion),
        hasUser: (username) => this.users.byUsername(username)?.IsActive === true,
        apply: (components) => this.applyMetadata(components),
      },
      files,
      options,
    );
    if (outcome.applied > 0) {
      for (const [key, hash] of outcome.apexHashes) {
        this.deployedApex.set(key, hash);
        this.checkTransliteration(key, hash);
      }
    }
    return outcome;
  }

  /**
   * The emulator runs TypeScript transliterations of force-app's Apex; when a deployed body
   * differs from the force-app source they mirror, what runs is not what was deployed: say so.
   */
  private checkTransliteration(key: string, hash: string): void {
    const [type, name] = key.split(':') as [string, string];
    const mirrored = TRANSLITERATED[type]?.includes(name);
    if (!mirrored) return;
    const file = path.join(
      DEFAULT_FORCE_APP,
      type === 'ApexClass' ? `classes/${name}.cls` : `triggers/${name}.trigger`,
    );
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    if (createHash('sha256').update(source).digest('hex') !== hash) {
      this.warn(
        'apex',
        `${type} ${name}: the deployed body differs from ${path.relative(REPO_ROOT, file)}, which the emulator's transliteration mirrors; the emulator still runs the transliteration`,
      );
    }
  }

  /**
   * Deploys a source-format directory (default: force-app) in-process through the same path as a
   * Metadata API deploy, after the substitutions the deploy script makes. Throws, listing every
   * component failure, when the deploy fails.
   */
  async deploySource(
    dir: string = DEFAULT_FORCE_APP,
    options: {
      testLevel?: string;
      /**
       * For a production org only: apply a package whose Apex tests would run, standing for a
       * deploy whose tests passed against a real org (the emulator runs none and says so in
       * `warnings`). Without it such a deploy fails with APEX_TESTS_UNAVAILABLE.
       */
      assumeTestsPassed?: boolean;
    } = {},
  ): Promise<PackageDeployOutcome> {
    const converted = await convertSource(dir);
    const files = new Map<string, string>();
    for (const [name, text] of converted) {
      let out = text;
      for (const [from, to] of Object.entries(this.options.substitutions)) out = out.split(from).join(to);
      files.set(name, out);
    }
    // The same test rules as a Metadata API deploy: in production, NoTestRun is refused and a
    // package with Apex needs tests, which cannot run here.
    const testsRequired = deployTestRequirement(files, options, this.deployRules());
    const assumed = testsRequired && options.assumeTestsPassed === true;
    const outcome = this.deployFiles(files, { checkOnly: testsRequired && !assumed });
    if (outcome.success && testsRequired && !assumed)
      throw new DeployRefused('UNSUPPORTED_APEX_TEST_RUN', APEX_TESTS_UNAVAILABLE);
    if (outcome.success && assumed)
      this.warn('metadata', `deploySource(${dir}) applied without running Apex tests (assumeTestsPassed)`);
    if (!outcome.success) {
      const lines = outcome.messages
        .filter((m) => !m.success)
        .map(
          (m) =>
            `${m.componentType} ${m.fullName} (${m.fileName}${m.lineNumber ? `:${m.lineNumber}:${m.columnNumber}` : ''}): ${m.problem}`,
        );
      throw new Error(`Deploy of ${dir} failed:\n${lines.join('\n')}`);
    }
    return outcome;
  }

  /** deployRecentValidation: deploys a successful check-only deploy's package again, without tests. */
  quickDeploy(validationId: string, user: { id: string; name: string }): DeployJob | undefined {
    const validation = this.deploys.validation(validationId);
    if (!validation) return undefined;
    return this.deploys.start(
      validation.files,
      { ...validation.options, checkOnly: false, testLevel: 'NoTestRun' },
      user,
      validation.id,
    );
  }

  /** Applies metadata components (the apply step of every deploy; no validation of its own). */
  applyMetadata(components: MetadataComponent[]): ApplyOutcome[] {
    const outcomes = this.schema.apply(components);
    this.db.refreshTables();
    this.subscribeTriggers();
    return outcomes;
  }

  private afterApply(component: MetadataComponent): void {
    if (component.type !== 'CustomMetadata') return;
    const dot = component.fullName.indexOf('.');
    const key = `${component.fullName.slice(0, dot)}__mdt.${component.fullName.slice(dot + 1)}`;
    const def = this.schema.customMetadataRecords.get(key);
    const type = def ? this.schema.object(def.type) : undefined;
    if (!def || !type) return;
    const table = this.db.table(type.name);
    const existing = [...table.rows.values()].find((r) => r.DeveloperName === def.developerName);
    const id = (existing?.Id as string | undefined) ?? this.ids.next(type.keyPrefix);
    table.put(id, {
      ...Object.fromEntries(type.fields.map((f) => [f.name, null])),
      ...def.values,
      Id: id,
      DeveloperName: def.developerName,
      MasterLabel: def.label,
      Label: def.label,
      QualifiedApiName: def.developerName,
      Language: 'en_US',
      NamespacePrefix: null,
      SystemModstamp: this.db.now(),
    });
  }

  logRequest(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > 10_000) this.requestLog.splice(0, this.requestLog.length - 10_000);
  }

  /**
   * Runs DML as a user, as a person working in the org would (e.g. restoring Tasks from the
   * recycle bin, which the REST API cannot do): triggers, flows and outbound messages fire.
   */
  transaction<T>(user: string, body: (tx: Transaction) => T): T {
    return this.db.transaction(this.runAs(user), body);
  }

  /**
   * Archives activities as Salesforce's nightly job does: closed Tasks whose due date (or, without
   * one, creation date) is more than 365 days before `now` get IsArchived = true and drop out of
   * `query` (queryAll still returns them). Returns how many were archived.
   */
  archiveActivities(now = this.clock.now()): number {
    const table = this.db.table('Task');
    const cutoff = now - 365 * 86_400_000;
    let archived = 0;
    for (const [id, row] of table.rows) {
      if (row.IsArchived === true || row.IsClosed !== true || row.IsDeleted === true) continue;
      const due =
        typeof row.ActivityDate === 'number' ? row.ActivityDate * 86_400_000 : (row.CreatedDate as number);
      if (due >= cutoff) continue;
      table.put(id, { ...row, IsArchived: true });
      archived += 1;
    }
    return archived;
  }

  /** The running-user view of a user. */
  runAs(idOrUsername: string): RunAs {
    return this.users.runAs(idOrUsername);
  }

  private triggerActive(trigger: TriggerDefinition): boolean {
    const mode = this.options.apex.triggers;
    if (mode === 'off') return false;
    if (mode === 'always') return true;
    // The transliteration runs only when the trigger and every class it runs were deployed.
    return (
      this.schema.apexTriggers.has(trigger.name) &&
      trigger.classes.every((c) => this.schema.apexClasses.has(c))
    );
  }

  private asSObjects(object: ObjectDef, records: StoredRecord[]): SObject[] {
    return records.map((r) => ({ ...r, [SOBJECT_TYPE]: object.name }));
  }

  private runRecordTriggers(
    tx: Transaction,
    object: ObjectDef,
    operation: TriggerOperation,
    records: StoredRecord[],
  ): void {
    for (const trigger of TRIGGERS) {
      if (
        trigger.object !== object.name ||
        !trigger.operations.includes(operation) ||
        !this.triggerActive(trigger)
      )
        continue;
      this.apex.runInTransaction(tx, trigger.name, (apex) =>
        trigger.run(apex, operation, this.asSObjects(object, records)),
      );
    }
  }

  private hooks(): DmlHooks {
    return {
      afterSave: (tx, object, event, record, prior) => {
        if (!this.schema.flows.size) return;
        const run = runRecordTriggeredFlows(this.schema.flows.values(), {
          object,
          event,
          record,
          prior,
          hasCustomPermission: (name) => tx.user.hasCustomPermission(name),
        });
        for (const warning of run.warnings) this.warn('flow', warning);
        for (const action of run.actions) {
          if (action.actionType !== 'outboundMessage') {
            this.warn('flow', `${action.flow}: action type ${action.actionType} is not run by the emulator`);
            continue;
          }
          if (!this.schema.outboundMessages.has(action.actionName)) {
            this.warn('flow', `${action.flow}: outbound message ${action.actionName} does not exist`);
            continue;
          }
          const id = record.Id as string;
          tx.onCommit(() => this.outbound.enqueue(action.actionName, id));
        }
      },
      afterDelete: (tx, object, records) => this.runRecordTriggers(tx, object, 'AFTER_DELETE', records),
      afterUndelete: (tx, object, records) => this.runRecordTriggers(tx, object, 'AFTER_UNDELETE', records),
      publishEvents: (tx, object, events) => this.publishEvents(tx, object, events),
    };
  }

  /** Platform events: after commit (PublishAfterCommit) or at once (PublishImmediately). */
  private publishEvents(tx: Transaction, object: ObjectDef, events: StoredRecord[]): void {
    if (object.publishBehavior === 'PublishImmediately') this.bus.publish(object.name, events);
    else tx.onCommit(() => this.bus.publish(object.name, events));
  }

  /** Delivers platform events to the Apex trigger transliterations, as the subscriber config's user. */
  private readonly subscribedTriggers = new Set<string>();

  private subscribeTriggers(): void {
    for (const trigger of TRIGGERS) {
      const object = this.schema.object(trigger.object);
      if (!object || object.kind !== 'platformEvent' || this.subscribedTriggers.has(trigger.name)) continue;
      this.subscribedTriggers.add(trigger.name);
      const config = this.schema.subscriberConfigs.get(trigger.name.toLowerCase());
      this.bus.subscribe({
        name: trigger.name,
        object: object.name,
        batchSize: config?.batchSize ?? 2000,
        deliver: async (events: PublishedEvent[]) => {
          if (!this.triggerActive(trigger)) return;
          const current = this.schema.subscriberConfigs.get(trigger.name.toLowerCase());
          let user = current?.user ? this.users.byUsername(current.user) : undefined;
          if (current?.user && !user) {
            this.warn(
              'apex',
              `${trigger.name}: subscriber config user ${current.user} does not exist; running as Automated Process`,
            );
          }
          user ??= this.users.byId(this.automatedProcessUserId);
          await this.apex.runTrigger(trigger.name, this.runAs(user!.Id as string), (apex) =>
            trigger.run(
              apex,
              'AFTER_INSERT',
              this.asSObjects(
                object,
                events.map((e) => e.record),
              ),
            ),
          );
        },
      });
    }
  }

  /**
   * Publishes platform events in-process as `user` (default: the integration user), as a REST
   * create would — validation, ids, after-commit delivery.
   */
  publish(
    eventObject: string,
    records: Record<string, Value>[],
    user = this.integrationUserId,
  ): SaveResult[] {
    const object = this.schema.object(eventObject);
    if (!object || object.kind !== 'platformEvent') throw new Error(`${eventObject} is not a platform event`);
    return this.db.transaction(this.runAs(user), (tx) =>
      tx.insert(
        object.name,
        records.map((r) => parseJsonRecord(object, r)),
        { allOrNone: false },
      ),
    );
  }

  /** Events published on a channel so far. */
  published(eventObject: string): PublishedEvent[] {
    return this.bus.published(eventObject);
  }

  /** Subscribes a test observer to a platform event channel. */
  onEvent(eventObject: string, listener: (events: PublishedEvent[]) => void, batchSize = 2000): () => void {
    return this.bus.subscribe({
      name: `observer:${eventObject}`,
      object: eventObject,
      batchSize,
      deliver: listener,
    });
  }

  /** Points the Apex side at the proxy: Named Credential URL and the External Credential's ApiKey. */
  setProxy(settings: { url: string; apiKey: string }): void {
    this.apex.setNamedCredentialUrl('Custompms_Proxy', settings.url);
    this.apex.setCredentialParameter('Custompms_Proxy', 'ApiKey', settings.apiKey);
  }

  /**
   * Flips the org's "Deploy processes and flows as active" setting (FlowSettings
   * enableFlowDeployAsActiveEnabled), as an admin does in Setup → Process Automation Settings.
   */
  setFlowDeployAsActive(enabled: boolean): void {
    this.schema.flowDeployAsActive = enabled;
  }

  /**
   * Activates a Flow version (default: the latest; null deactivates), as an admin does in Setup
   * or a Tooling API `PATCH tooling/sobjects/FlowDefinition/{id}` with
   * `{"Metadata":{"activeVersionNumber":n}}` does.
   */
  activateFlow(name: string, versionNumber?: number | null): void {
    const versions = this.schema.flowVersions.get(name);
    if (!versions) throw new Error(`no flow named ${name}`);
    this.schema.activateFlow(name, versionNumber === undefined ? versions.length : versionNumber);
  }

  private readonly flowIds = new Map<string, string>();

  /** Stable ids for FlowDefinition / Flow version records (the Tooling API's). */
  flowDefinitionId(key: string, prefix: string): string {
    let id = this.flowIds.get(key);
    if (!id) this.flowIds.set(key, (id = this.ids.next(prefix)));
    return id;
  }

  /** Points outbound messages (all, or one by `Object.Name`) at a URL. */
  setOutboundEndpoint(url: string, message?: string): void {
    this.outbound.setEndpoint(url, message);
  }

  /** Waits until events, Apex jobs, outbound deliveries due now and bulk jobs have settled. */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.bus.idle();
      await this.apex.idle();
      await this.bulk.idle();
      await this.outbound.dispatch();
      const busy = this.apex.jobs.some((j) => j.Status === 'Queued' || j.Status === 'Processing');
      if (!busy) {
        await this.bus.idle();
        if (!this.apex.jobs.some((j) => j.Status === 'Queued' || j.Status === 'Processing')) return;
      }
      if (Date.now() > deadline) throw new Error('the org did not settle in time');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  start(): void {
    this.outbound.start();
  }

  async stop(): Promise<void> {
    this.deploys.stop();
    this.apex.stop();
    await this.outbound.stop();
  }
}
