/**
 * Record rules: defaults on create, derived fields and validation, with Salesforce's error codes
 * and message shapes (SOAP API Developer Guide, "StatusCode" list; messages as the REST API
 * returns them, e.g. `Subject: data value too large: … (max length=255)`).
 */
import { recordError, type RecordError } from '../errors';
import { canonicalId } from '../ids';
import type { FieldDef, ObjectDef } from '../schema/types';
import type { Value } from './values';

export type MutableRecord = Record<string, Value>;

/** What the rules may ask about the org. */
export interface RuleContext {
  now: number;
  userId: string;
  /** Does a live record with this id exist (any object)? */
  exists(id: string): { object: string; record: Readonly<MutableRecord> } | undefined;
  /** Is `id` a live record of `objectName`? (id picklists such as Task.Division) */
  isLiveRecordOf(objectName: string, id: string): boolean;
  /** The default division of a user, when divisions are enabled. */
  defaultDivisionOf(userId: string): string | undefined;
  objectByPrefix(prefix: string): ObjectDef | undefined;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function shown(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}...` : value;
}

/** Values defaulted on create when the input leaves them out. */
export function applyCreateDefaults(object: ObjectDef, record: MutableRecord, ctx: RuleContext): void {
  for (const def of object.fields) {
    if (record[def.name] !== undefined && record[def.name] !== null) continue;
    if (def.system) continue;
    if (def.name === 'OwnerId' && def.defaultedOnCreate) record.OwnerId = ctx.userId;
    else if (def.defaultValue !== undefined) record[def.name] = def.defaultValue;
    else if (def.type === 'picklist' && def.defaultedOnCreate && !def.picklistOfIds) {
      const preset = def.picklistValues.find((v) => v.defaultValue && v.active);
      if (preset) record[def.name] = preset.value;
    }
  }
  if (object.name === 'Task' && object.index.has('division') && !record.Division) {
    const division = ctx.defaultDivisionOf(String(record.OwnerId ?? ctx.userId));
    if (division) record.Division = division;
  }
}

/** Fields the platform derives from others. */
export function deriveFields(
  object: ObjectDef,
  record: MutableRecord,
  prior: Readonly<MutableRecord> | undefined,
  ctx: RuleContext,
): void {
  if (object.name === 'Task') {
    const status = object.index.get('status')?.picklistValues.find((v) => v.value === record.Status);
    const closed = status?.closed === true;
    record.IsClosed = closed;
    const priority = object.index.get('priority')?.picklistValues.find((v) => v.value === record.Priority);
    record.IsHighPriority = priority?.highPriority === true;
    if (closed && prior?.IsClosed !== true) record.CompletedDateTime = ctx.now;
    if (!closed) record.CompletedDateTime = null;
    record.IsArchived ??= false;
    record.AccountId ??= null;
  }
  if (object.name === 'Division' && !prior) record.IsGlobalDivision = false;
}

function validateValue(def: FieldDef, value: Value, ctx: RuleContext): RecordError | undefined {
  if (value === null) return undefined;
  if (typeof value === 'string' && def.length > 0 && def.type !== 'id' && def.type !== 'reference') {
    if (value.length > def.length) {
      return recordError(
        'STRING_TOO_LONG',
        `${def.label}: data value too large: ${shown(value)} (max length=${def.length})`,
        [def.name],
      );
    }
  }
  if ((def.type === 'picklist' || def.type === 'multipicklist') && def.restrictedPicklist) {
    const given = def.type === 'multipicklist' ? String(value).split(';') : [String(value)];
    const picklistOfIds = def.picklistOfIds;
    const active = new Set(def.picklistValues.filter((v) => v.active).map((v) => v.value));
    const bad = given.find((v) =>
      picklistOfIds ? !ctx.isLiveRecordOf(picklistOfIds, canonicalId(v) ?? v) : !active.has(v),
    );
    if (bad !== undefined) {
      return recordError(
        'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
        `${def.label}: bad value for restricted picklist field: ${bad}`,
        [def.name],
      );
    }
  }
  if (def.type === 'email' && !EMAIL_RE.test(String(value))) {
    return recordError('INVALID_EMAIL_ADDRESS', `${def.label}: invalid email address: ${String(value)}`, [
      def.name,
    ]);
  }
  if ((def.type === 'double' || def.type === 'currency' || def.type === 'percent') && def.precision > 0) {
    const limit = 10 ** (def.precision - def.scale);
    if (Math.abs(value as number) >= limit) {
      return recordError(
        'NUMBER_OUTSIDE_VALID_RANGE',
        `${def.label}: value outside of valid range on numeric field: ${String(value)}`,
        [def.name],
      );
    }
  }
  if (def.type === 'reference') {
    const id = canonicalId(String(value));
    const target = id ? ctx.objectByPrefix(id.slice(0, 3)) : undefined;
    if (!id || (target && !def.referenceTo.includes(target.name))) {
      return recordError('MALFORMED_ID', `${def.label}: id value of incorrect type: ${String(value)}`, [
        def.name,
      ]);
    }
    const found = ctx.exists(id);
    if (!found) {
      return recordError('INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [def.name]);
    }
    if (def.name === 'OwnerId' && found.object === 'User' && found.record.IsActive === false) {
      return recordError('INACTIVE_OWNER_OR_USER', 'owner or user is inactive.', [def.name]);
    }
  }
  return undefined;
}

/**
 * Validates a record about to be saved. `changed` names the fields the input set (only those get
 * value checks on update, as stored values were valid when written); required fields are checked
 * on the whole record.
 */
export function validateRecord(
  object: ObjectDef,
  record: MutableRecord,
  changed: Iterable<string>,
  ctx: RuleContext,
): RecordError[] {
  const errors: RecordError[] = [];
  const missing: string[] = [];
  for (const def of object.fields) {
    if (def.system || def.nillable || def.type === 'boolean') continue;
    const value = record[def.name];
    if (value === null || value === undefined || value === '') missing.push(def.name);
  }
  if (missing.length) {
    errors.push(
      recordError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing),
    );
  }
  for (const name of changed) {
    const def = object.index.get(name.toLowerCase());
    if (!def || missing.includes(def.name)) continue;
    const error = validateValue(def, record[def.name] ?? null, ctx);
    if (error) errors.push(error);
  }
  return errors;
}

/** Fields the input may not set on this operation. */
export function checkWritable(
  object: ObjectDef,
  fields: Iterable<string>,
  operation: 'create' | 'update',
): RecordError[] {
  const bad: string[] = [];
  for (const name of fields) {
    const def = object.index.get(name.toLowerCase());
    if (!def) continue;
    if (def.name === 'Id') {
      if (operation === 'create') {
        return [
          recordError('INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', ['Id']),
        ];
      }
      continue;
    }
    if (operation === 'create' ? !def.createable : !def.updateable) bad.push(def.name);
  }
  if (!bad.length) return [];
  return [
    recordError(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${bad.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      bad,
    ),
  ];
}
