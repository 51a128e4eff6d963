/**
 * The org's data and its DML: insert, update, upsert by external id, delete and undelete, each
 * inside a transaction with savepoints (allOrNone rolls back; the platform's after-commit work —
 * outbound messages, PublishAfterCommit events — runs only when the transaction commits).
 * Record-triggered automation is reached through `DmlHooks`, which the org wires to its Flow
 * interpreter, the Apex trigger transliterations and the event bus.
 */
import { randomUUID } from 'node:crypto';
import { recordError, type RecordError } from '../errors';
import { canonicalId, type IdFactory } from '../ids';
import type { OrgSchema } from '../schema/org-schema';
import { findField, type FieldDef, type ObjectDef } from '../schema/types';
import type { Clock } from '../time';
import { toStoredDateTime } from '../time';
import {
  applyCreateDefaults,
  checkWritable,
  deriveFields,
  validateRecord,
  type MutableRecord,
  type RuleContext,
} from './rules';
import { Table } from './table';
import type { Enforcement, UserAccess } from '../security/access';
import type { FieldValues, ParsedInput, StoredRecord, Value } from './values';

export interface SaveResult {
  id?: string;
  success: boolean;
  errors: RecordError[];
  created?: boolean;
  /** Platform events: the EventUuid given to the published event (not part of the wire shape). */
  eventUuid?: string;
}

/** The user a transaction runs as. */
export interface RunAs {
  id: string;
  username: string;
  hasCustomPermission(name: string): boolean;
  /** The user's object permissions, field-level security and record access. */
  access(): UserAccess;
}

export interface DmlOptions {
  allOrNone: boolean;
  /**
   * What the statement enforces for the running user (security/access.ts): the REST, Bulk and
   * Apex user-mode paths pass USER_MODE; Apex system mode in a `with sharing` class passes
   * SYSTEM_MODE_WITH_SHARING. Undefined: nothing (platform work — triggers' system-mode DML,
   * flows, setup data, `org.transaction`).
   */
  security?: Enforcement;
  /** Fault injection: an error to fail this record with (UNABLE_TO_LOCK_ROW, ...). */
  recordFault?: () => RecordError | undefined;
}

export interface DmlHooks {
  afterSave(
    tx: Transaction,
    object: ObjectDef,
    event: 'create' | 'update',
    record: StoredRecord,
    prior?: StoredRecord,
  ): void;
  afterDelete(tx: Transaction, object: ObjectDef, records: StoredRecord[]): void;
  afterUndelete(tx: Transaction, object: ObjectDef, records: StoredRecord[]): void;
  publishEvents(tx: Transaction, object: ObjectDef, events: StoredRecord[]): void;
}

const noHooks: DmlHooks = {
  afterSave: () => undefined,
  afterDelete: () => undefined,
  afterUndelete: () => undefined,
  publishEvents: () => undefined,
};

/** A DML statement's default (Apex `insert records;`): all records or none. */
export const ALL_OR_NONE: DmlOptions = { allOrNone: true };

export const ROLLED_BACK = (): RecordError =>
  recordError(
    'ALL_OR_NONE_OPERATION_ROLLED_BACK',
    'Record rolled back because not all records were valid and the request was using AllOrNone header',
  );

interface UndoEntry {
  table: Table;
  id: string;
  before: StoredRecord | undefined;
  deletedAt: number | undefined;
}

export class Database {
  private readonly tables = new Map<string, Table>();
  hooks: DmlHooks = noHooks;

  constructor(
    readonly schema: OrgSchema,
    readonly clock: Clock,
    readonly ids: IdFactory,
  ) {}

  /** The table of a queryable/storable object (created on first use). */
  table(objectName: string): Table {
    const object = this.schema.object(objectName);
    if (!object) throw new Error(`unknown object ${objectName}`);
    let table = this.tables.get(object.name.toLowerCase());
    if (!table) {
      table = new Table(object);
      this.tables.set(object.name.toLowerCase(), table);
    }
    return table;
  }

  /** After a deploy: tables pick up new unique/external-id fields. */
  refreshTables(): void {
    for (const [name, table] of this.tables) {
      const object = this.schema.object(name);
      if (object) table.rebuildIndexes(object);
    }
  }

  /** A record by id, whatever its object. */
  findById(id: string): { object: ObjectDef; table: Table; record: StoredRecord } | undefined {
    const id18 = canonicalId(id);
    if (!id18) return undefined;
    const object = this.schema.objectByPrefix(id18.slice(0, 3));
    if (!object || object.kind === 'platformEvent') return undefined;
    const table = this.table(object.name);
    const record = table.get(id18);
    return record ? { object, table, record } : undefined;
  }

  now(): number {
    return toStoredDateTime(this.clock.now());
  }

  /** Runs `fn` in one transaction: commit hooks run after it returns, everything rolls back if it throws. */
  transaction<T>(user: RunAs, fn: (tx: Transaction) => T): T {
    const tx = new Transaction(this, user);
    let result: T;
    try {
      result = fn(tx);
    } catch (error) {
      tx.rollbackTo(0);
      throw error;
    }
    tx.commit();
    return result;
  }

  /** The same for Apex-style work that awaits callouts between statements. */
  async transactionAsync<T>(user: RunAs, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const tx = new Transaction(this, user);
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      tx.rollbackTo(0);
      throw error;
    }
    tx.commit();
    return result;
  }

  /** Inserts a record as the platform does for setup data (users, divisions at start). */
  systemInsert(objectName: string, values: Record<string, Value>, createdById?: string): StoredRecord {
    const object = this.schema.object(objectName)!;
    const id = (values.Id as string | undefined) ?? this.ids.next(object.keyPrefix);
    const now = this.now();
    const record: MutableRecord = {};
    for (const def of object.fields) record[def.name] = null;
    Object.assign(record, values, { Id: id });
    const by = createdById ?? (values.CreatedById as string | undefined) ?? id;
    if (object.index.has('createddate')) record.CreatedDate ??= now;
    if (object.index.has('createdbyid')) record.CreatedById ??= by;
    if (object.index.has('lastmodifieddate')) record.LastModifiedDate ??= now;
    if (object.index.has('lastmodifiedbyid')) record.LastModifiedById ??= by;
    if (object.index.has('systemmodstamp')) record.SystemModstamp ??= now;
    if (object.index.has('isdeleted')) record.IsDeleted = false;
    this.table(objectName).put(id, record);
    return record;
  }

  ruleContext(user: RunAs): RuleContext {
    return {
      now: this.now(),
      userId: user.id,
      exists: (id) => {
        const found = this.findById(id);
        if (!found || found.record.IsDeleted === true) return undefined;
        return { object: found.object.name, record: found.record };
      },
      isLiveRecordOf: (objectName, id) => {
        if (!this.schema.object(objectName)) return false;
        const row = this.table(objectName).get(id);
        return row !== undefined && row.IsDeleted !== true;
      },
      defaultDivisionOf: (userId) => {
        const user = this.table('User').get(canonicalId(userId) ?? userId);
        return (user?.DefaultDivision as string | undefined) ?? undefined;
      },
      objectByPrefix: (prefix) => this.schema.objectByPrefix(prefix),
    };
  }
}

export class Transaction {
  private readonly undo: UndoEntry[] = [];
  private commitHooks: { at: number; fn: () => void }[] = [];
  private committed = false;
  /** Number of DML statements (Apex governor limit: 150). */
  dmlStatements = 0;
  private userAccess: UserAccess | undefined;

  constructor(
    readonly db: Database,
    readonly user: RunAs,
  ) {}

  get hasUncommittedWork(): boolean {
    return this.undo.length > 0;
  }

  savepoint(): number {
    return this.undo.length;
  }

  rollbackTo(savepoint: number): void {
    while (this.undo.length > savepoint) {
      const entry = this.undo.pop()!;
      entry.table.put(entry.id, entry.before);
      if (entry.deletedAt === undefined) entry.table.deletedAt.delete(entry.id);
      else entry.table.deletedAt.set(entry.id, entry.deletedAt);
    }
    this.commitHooks = this.commitHooks.filter((h) => h.at <= savepoint);
  }

  /** Work for after commit (outbound messages, PublishAfterCommit events). */
  onCommit(fn: () => void): void {
    if (this.committed) fn();
    else this.commitHooks.push({ at: this.undo.length, fn });
  }

  commit(): void {
    this.committed = true;
    const hooks = this.commitHooks;
    this.commitHooks = [];
    for (const hook of hooks) hook.fn();
  }

  /** The running user's access, computed once per transaction. */
  access(): UserAccess {
    this.userAccess ??= this.user.access();
    return this.userAccess;
  }

  /**
   * What the running user may not do in this write, when the statement enforces security: object
   * permission, record access (sharing), then field-level security (security/access.ts).
   * Record access failures are INSUFFICIENT_ACCESS_OR_READONLY "insufficient access rights on
   * object id" (SOAP API StatusCode; what the REST API and Apex DmlException report).
   */
  private accessErrors(
    object: ObjectDef,
    operation: 'create' | 'update' | 'delete',
    fieldNames: Iterable<string>,
    security: Enforcement | undefined,
    record?: StoredRecord,
  ): RecordError[] {
    if (!security) return [];
    const access = this.access();
    if (security.crud) {
      const p = access.objectAccess(object);
      const allowed =
        operation === 'create' ? p.allowCreate : operation === 'update' ? p.allowEdit : p.allowDelete;
      if (!allowed) {
        return [
          recordError(
            'INSUFFICIENT_ACCESS_OR_READONLY',
            `insufficient access rights on object id: you cannot ${operation} ${object.name} records`,
          ),
        ];
      }
    }
    if (security.sharing && record && !access.canEdit(object, record)) {
      return [recordError('INSUFFICIENT_ACCESS_OR_READONLY', 'insufficient access rights on object id')];
    }
    if (!security.fls || operation === 'delete') return [];
    const errors: RecordError[] = [];
    const readOnly: string[] = [];
    for (const name of fieldNames) {
      const def = object.index.get(name.toLowerCase());
      if (!def || def.name === 'Id') continue;
      const fls = access.fieldAccess(object, def);
      if (fls === 'none') {
        errors.push(
          recordError('INVALID_FIELD', `No such column '${def.name}' on sobject of type ${object.name}`, [
            def.name,
          ]),
        );
      } else if (fls === 'read' && !def.system) {
        readOnly.push(def.name);
      }
    }
    if (readOnly.length) {
      errors.push(
        recordError(
          'INVALID_FIELD_FOR_INSERT_UPDATE',
          `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          readOnly,
        ),
      );
    }
    return errors;
  }

  private write(table: Table, id: string, next: StoredRecord): void {
    const before = table.get(id);
    this.undo.push({ table, id, before, deletedAt: table.deletedAt.get(id) });
    table.put(id, next);
  }

  private duplicateErrors(table: Table, record: MutableRecord, selfId: string | undefined): RecordError[] {
    const errors: RecordError[] = [];
    for (const def of table.object.fields) {
      if (!def.unique) continue;
      const value = record[def.name];
      if (value === null || value === undefined || value === '') continue;
      const others = table.lookup(def, String(value)).filter((id) => id !== selfId);
      if (others.length) {
        errors.push(
          recordError(
            'DUPLICATE_VALUE',
            `duplicate value found: ${def.name} duplicates value on record with id: ${others[0]}`,
          ),
        );
      }
    }
    return errors;
  }

  private finish(results: SaveResult[], savepoint: number, options: DmlOptions): SaveResult[] {
    if (options.allOrNone && results.some((r) => !r.success)) {
      this.rollbackTo(savepoint);
      return results.map((r) => (r.success ? { success: false, errors: [ROLLED_BACK()] } : r));
    }
    return results;
  }

  private stamp(record: MutableRecord, object: ObjectDef, now: number, create: boolean): void {
    const has = (name: string): boolean => object.index.has(name);
    if (create) {
      if (has('createddate')) record.CreatedDate = now;
      if (has('createdbyid')) record.CreatedById = this.user.id;
      if (has('isdeleted')) record.IsDeleted = false;
    }
    if (has('lastmodifieddate')) record.LastModifiedDate = now;
    if (has('lastmodifiedbyid')) record.LastModifiedById = this.user.id;
    if (has('systemmodstamp')) record.SystemModstamp = now;
  }

  /** Inserts records (platform events are published instead of stored). */
  insert(objectName: string, inputs: ParsedInput[], options: DmlOptions = ALL_OR_NONE): SaveResult[] {
    const object = this.db.schema.object(objectName)!;
    this.dmlStatements += 1;
    const savepoint = this.savepoint();
    const ctx = this.db.ruleContext(this.user);
    const events: StoredRecord[] = [];
    const results = inputs.map((input): SaveResult => {
      const errors = [...input.errors];
      if (!object.createable) {
        errors.push(
          recordError('INVALID_TYPE_FOR_OPERATION', `entity type ${object.name} does not support insert`),
        );
      }
      if (errors.length) return { success: false, errors };
      errors.push(...this.accessErrors(object, 'create', input.values.keys(), options.security));
      if (errors.length) return { success: false, errors };
      errors.push(...checkWritable(object, input.values.keys(), 'create'));
      const record: MutableRecord = {};
      for (const def of object.fields) record[def.name] = null;
      for (const [name, value] of input.values) record[name] = value;
      applyCreateDefaults(object, record, ctx);
      deriveFields(object, record, undefined, ctx);
      const setFields = object.fields.filter((f) => !f.system && record[f.name] !== null).map((f) => f.name);
      errors.push(...validateRecord(object, record, setFields, ctx));
      const fault = options.recordFault?.();
      if (fault) errors.push(fault);
      if (object.kind === 'platformEvent') {
        if (errors.length) return { success: false, errors };
        const id = this.db.ids.next(object.keyPrefix);
        const eventUuid = randomUUID();
        Object.assign(record, {
          Id: id,
          CreatedDate: ctx.now,
          CreatedById: this.user.id,
          EventUuid: eventUuid,
        });
        events.push(record);
        return { id, success: true, errors: [], eventUuid };
      }
      const table = this.db.table(object.name);
      errors.push(...this.duplicateErrors(table, record, undefined));
      if (errors.length) return { success: false, errors };
      const id = this.db.ids.next(object.keyPrefix);
      record.Id = id;
      this.stamp(record, object, ctx.now, true);
      this.write(table, id, record);
      this.db.hooks.afterSave(this, object, 'create', record);
      return { id, success: true, errors: [] };
    });
    const finished = this.finish(results, savepoint, options);
    if (events.length && finished.every((r) => r.success || !options.allOrNone)) {
      this.db.hooks.publishEvents(this, object, events);
    }
    return finished;
  }

  /** Updates records by id. */
  update(
    objectName: string,
    inputs: { id: string; input: ParsedInput }[],
    options: DmlOptions = ALL_OR_NONE,
  ): SaveResult[] {
    const object = this.db.schema.object(objectName)!;
    this.dmlStatements += 1;
    const savepoint = this.savepoint();
    const ctx = this.db.ruleContext(this.user);
    const table = object.kind === 'platformEvent' ? undefined : this.db.table(object.name);
    const seen = new Set<string>();
    const results = inputs.map(({ id, input }): SaveResult => {
      const errors = [...input.errors];
      if (!object.updateable || !table) {
        return {
          success: false,
          errors: [
            recordError('INVALID_TYPE_FOR_OPERATION', `entity type ${object.name} does not support update`),
          ],
        };
      }
      const id18 = canonicalId(id);
      if (!id18 || id18.slice(0, 3) !== object.keyPrefix) {
        return {
          success: false,
          errors: [
            recordError('MALFORMED_ID', `${object.label} ID: id value of incorrect type: ${id}`, ['Id']),
          ],
        };
      }
      if (seen.has(id18)) {
        return { success: false, errors: [recordError('DUPLICATE_ID', `Duplicate id in list: ${id18}`)] };
      }
      seen.add(id18);
      const prior = table.get(id18);
      if (!prior || prior.IsDeleted === true) {
        return { success: false, errors: [recordError('ENTITY_IS_DELETED', 'entity is deleted')] };
      }
      if (errors.length) return { success: false, errors };
      return this.applyUpdate(object, table, id18, prior, input.values, ctx, options);
    });
    return this.finish(results, savepoint, options);
  }

  private applyUpdate(
    object: ObjectDef,
    table: Table,
    id: string,
    prior: StoredRecord,
    values: FieldValues,
    ctx: RuleContext,
    options: DmlOptions,
  ): SaveResult {
    const changedNames = [...values.keys()].filter((n) => n !== 'Id');
    const denied = this.accessErrors(object, 'update', changedNames, options.security, prior);
    if (denied.length) return { success: false, errors: denied };
    const errors = checkWritable(object, changedNames, 'update');
    const record: MutableRecord = { ...prior };
    for (const name of changedNames) record[name] = values.get(name) ?? null;
    // Clearing a defaulted picklist/owner is not allowed: it is required.
    deriveFields(object, record, prior, ctx);
    errors.push(...validateRecord(object, record, changedNames, ctx));
    errors.push(...this.duplicateErrors(table, record, id));
    const fault = options.recordFault?.();
    if (fault) errors.push(fault);
    if (errors.length) return { success: false, errors };
    this.stamp(record, object, ctx.now, false);
    this.write(table, id, record);
    this.db.hooks.afterSave(this, object, 'update', record, prior);
    return { id, success: true, errors: [] };
  }

  /**
   * Upsert on an external-id field: no match inserts, one match updates, several fail
   * (DUPLICATE_EXTERNAL_ID; the REST single-record route answers 300 instead).
   */
  upsert(
    objectName: string,
    externalIdField: string,
    inputs: ParsedInput[],
    options: DmlOptions = ALL_OR_NONE,
  ): SaveResult[] {
    const object = this.db.schema.object(objectName)!;
    const def = findField(object, externalIdField);
    this.dmlStatements += 1;
    const savepoint = this.savepoint();
    if (!def || !(def.externalId || def.name === 'Id' || def.idLookup)) {
      const error = recordError(
        'INVALID_FIELD',
        `Field name provided, ${externalIdField} is not an External ID or indexed field for ${object.name}`,
      );
      return inputs.map(() => ({ success: false, errors: [error] }));
    }
    const table = this.db.table(object.name);
    const ctx = this.db.ruleContext(this.user);
    const keys = inputs.map((i) => this.externalKey(def, i.values.get(def.name)));
    const counts = new Map<string, number>();
    for (const key of keys) if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
    const results = inputs.map((input, i): SaveResult => {
      const key = keys[i];
      const value = input.values.get(def.name);
      if (input.errors.length) return { success: false, errors: input.errors };
      if (key === undefined) {
        return {
          success: false,
          errors: [recordError('MISSING_ARGUMENT', `${def.name} not specified`, [def.name])],
        };
      }
      if ((counts.get(key) ?? 0) > 1) {
        return {
          success: false,
          errors: [
            recordError('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${String(value)}`, [
              def.name,
            ]),
          ],
        };
      }
      const matches =
        def.name === 'Id'
          ? [canonicalId(String(value)) ?? ''].filter((id) => table.get(id))
          : table.lookup(def, String(value));
      if (matches.length > 1) {
        return {
          success: false,
          errors: [
            recordError(
              'DUPLICATE_EXTERNAL_ID',
              `${def.name}: more than one record found for external id field: [${matches.join(', ')}]`,
              [def.name],
            ),
          ],
        };
      }
      if (matches.length === 1) {
        const id = matches[0]!;
        const prior = table.get(id)!;
        const values = new Map(input.values);
        values.delete(def.name);
        const result = this.applyUpdate(object, table, id, prior, values, ctx, options);
        return { ...result, ...(result.success ? { id } : {}), created: false };
      }
      const inserted = this.insertOne(object, input, ctx, options)[0]!;
      return { ...inserted, created: inserted.success };
    });
    return this.finish(results, savepoint, options);
  }

  private externalKey(def: FieldDef, value: Value | undefined): string | undefined {
    if (value === null || value === undefined || value === '') return undefined;
    const s = String(value);
    if (def.type === 'id') return canonicalId(s) ?? s;
    return def.caseSensitive ? s : s.toLowerCase();
  }

  /** One insert inside another operation's statement (upsert). */
  private insertOne(
    object: ObjectDef,
    input: ParsedInput,
    ctx: RuleContext,
    options: DmlOptions,
  ): SaveResult[] {
    this.dmlStatements -= 1;
    return this.insert(object.name, [input], { ...options, allOrNone: false });
  }

  /** Deletes records by id (any objects), moving them to the recycle bin. */
  delete(ids: string[], options: DmlOptions = ALL_OR_NONE): SaveResult[] {
    this.dmlStatements += 1;
    const savepoint = this.savepoint();
    const now = this.db.now();
    const deleted = new Map<ObjectDef, StoredRecord[]>();
    const results = ids.map((id): SaveResult => {
      const id18 = canonicalId(id);
      const object = id18 ? this.db.schema.objectByPrefix(id18.slice(0, 3)) : undefined;
      if (!id18 || !object) {
        return { id, success: false, errors: [recordError('MALFORMED_ID', `malformed id ${id}`)] };
      }
      if (!object.deletable) {
        return {
          id: id18,
          success: false,
          errors: [
            recordError('INVALID_TYPE_FOR_OPERATION', `entity type ${object.name} does not support delete`),
          ],
        };
      }
      const table = this.db.table(object.name);
      const prior = table.get(id18);
      if (!prior || prior.IsDeleted === true) {
        return { id: id18, success: false, errors: [recordError('ENTITY_IS_DELETED', 'entity is deleted')] };
      }
      const denied = this.accessErrors(object, 'delete', [], options.security, prior);
      if (denied.length) return { id: id18, success: false, errors: denied };
      const fault = options.recordFault?.();
      if (fault) return { id: id18, success: false, errors: [fault] };
      const record: MutableRecord = { ...prior, IsDeleted: true };
      this.stamp(record, object, now, false);
      this.write(table, id18, record);
      table.deletedAt.set(id18, now);
      const list = deleted.get(object) ?? [];
      list.push(prior);
      deleted.set(object, list);
      return { id: id18, success: true, errors: [] };
    });
    const finished = this.finish(results, savepoint, options);
    if (finished.some((r) => r.success)) {
      for (const [object, records] of deleted) this.db.hooks.afterDelete(this, object, records);
    }
    return finished;
  }

  /** Restores records from the recycle bin. */
  undelete(ids: string[], options: DmlOptions = ALL_OR_NONE): SaveResult[] {
    this.dmlStatements += 1;
    const savepoint = this.savepoint();
    const now = this.db.now();
    const restored = new Map<ObjectDef, StoredRecord[]>();
    const results = ids.map((id): SaveResult => {
      const id18 = canonicalId(id);
      const object = id18 ? this.db.schema.objectByPrefix(id18.slice(0, 3)) : undefined;
      if (!id18 || !object) {
        return { id, success: false, errors: [recordError('MALFORMED_ID', `malformed id ${id}`)] };
      }
      const table = this.db.table(object.name);
      const prior = table.get(id18);
      if (!object.undeletable || !prior || prior.IsDeleted !== true) {
        return {
          id: id18,
          success: false,
          errors: [recordError('UNDELETE_FAILED', 'Entity is not in the recycle bin')],
        };
      }
      const denied = this.accessErrors(object, 'delete', [], options.security, prior);
      if (denied.length) return { id: id18, success: false, errors: denied };
      const record: MutableRecord = { ...prior, IsDeleted: false };
      const duplicates = this.duplicateErrors(table, record, id18);
      if (duplicates.length) return { id: id18, success: false, errors: duplicates };
      this.stamp(record, object, now, false);
      this.write(table, id18, record);
      table.deletedAt.delete(id18);
      const list = restored.get(object) ?? [];
      list.push(record);
      restored.set(object, list);
      return { id: id18, success: true, errors: [] };
    });
    const finished = this.finish(results, savepoint, options);
    if (finished.some((r) => r.success)) {
      for (const [object, records] of restored) this.db.hooks.afterUndelete(this, object, records);
    }
    return finished;
  }
}
