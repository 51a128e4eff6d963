/**
 * Field conversion between the two sides, driven by a row's `kind`. Every outcome is data: a
 * value (perhaps with a warning), a skipped field with its problem, or a missing dependency.
 */
import { type SyncContext } from './context';
import { type FieldMapping, type FlowName, type Side } from './mapping';
import { type Problem } from './problems';
import {
  INVALID,
  type Invalid,
  type RawRecord,
  type Scalar,
  type Values,
  canonical,
  truncate,
} from './values';

/** A record the change needs on the other side that is not linked yet. */
export type Dependency =
  /** The Division linked to this Custompms customer. */
  | { readonly kind: 'customer_division'; readonly customerId: string }
  /** The Custompms customer linked to this Division. */
  | { readonly kind: 'division_customer'; readonly divisionId: string }
  /** The link of this Custompms project. */
  | { readonly kind: 'project'; readonly projectId: string };

/** The result of converting one field. */
export type Conversion =
  | { readonly value: Scalar; readonly problem?: Problem }
  | { readonly skip: Problem }
  | { readonly wait: Dependency };

/** The field name a row uses on a side (`null` for a constant's Custompms side). */
export function fieldOn(field: FieldMapping, side: Side): string | null {
  return side === 'custompms' ? field.custompms : field.salesforce;
}

/** Whether a row is in play at all in this context (Division rows need divisions). */
export function isActiveRow(field: FieldMapping, context: Pick<SyncContext, 'divisionsEnabled'>): boolean {
  if (!field.enabled) return false;
  if (field.kind === 'customer_division' || field.kind === 'project_division')
    return context.divisionsEnabled;
  return true;
}

/** Whether a row carries values from `source` to the other side. */
export function flowsFrom(field: FieldMapping, source: Side): boolean {
  if (source === 'custompms') return field.direction !== 'to_custompms';
  return field.custompms !== null && field.direction !== 'to_salesforce';
}

function problem(
  flow: FlowName,
  field: FieldMapping,
  code: Problem['code'],
  severity: Problem['severity'],
  message: string,
  value?: unknown,
): Problem {
  return { code, severity, message, flow, field: field.key, ...(value === undefined ? {} : { value }) };
}

/**
 * Reads a raw value of `field` on `side` into its canonical form. A value of the wrong type is
 * reported, never coerced by guesswork.
 */
export function readField(
  flow: FlowName,
  field: FieldMapping,
  side: Side,
  record: RawRecord,
): { value: Scalar } | { problem: Problem } {
  const value = readValue(field, side, record);
  return value === INVALID ? { problem: invalidValue(flow, field, side, record) } : { value };
}

/** `readField` without the allocation, for the hot path: the canonical value or `INVALID`. */
export function readValue(field: FieldMapping, side: Side, record: RawRecord): Scalar | Invalid {
  const name = side === 'custompms' ? field.custompms : field.salesforce;
  return name === null ? null : canonical(field.kind, side, record[name]);
}

/** The problem for a value `readValue` found invalid. */
export function invalidValue(flow: FlowName, field: FieldMapping, side: Side, record: RawRecord): Problem {
  const name = fieldOn(field, side)!;
  return problem(flow, field, 'invalid_value', 'error', `${name} is not a valid ${field.kind}`, record[name]);
}

function lookupMap(map: Readonly<Record<string, string>> | undefined, key: string): string | undefined {
  // Own keys only: a status called "constructor" must not find Object.prototype.
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

function toSalesforce(flow: FlowName, field: FieldMapping, value: Scalar, context: SyncContext): Conversion {
  switch (field.kind) {
    case 'constant':
      return { value: field.constant ?? null };
    case 'id':
    case 'project_ref': {
      if (value === null) return { value: null };
      const id = String(value);
      if (field.maxLength !== undefined && id.length > field.maxLength) {
        // An id cut short would name another record: refuse instead of truncating.
        return {
          skip: problem(
            flow,
            field,
            'invalid_value',
            'error',
            `id longer than ${field.maxLength} characters`,
            id,
          ),
        };
      }
      if (field.kind === 'project_ref' && context.linkedProjects.get(id) === undefined) {
        return { wait: { kind: 'project', projectId: id } };
      }
      return { value: id };
    }
    case 'string':
    case 'textarea': {
      if (value === null || field.maxLength === undefined || String(value).length <= field.maxLength) {
        return { value };
      }
      const text = String(value);
      return {
        value: truncate(text, field.maxLength),
        problem: problem(
          flow,
          field,
          'truncated',
          'warning',
          `${field.salesforce} truncated from ${text.length} to ${field.maxLength} characters`,
        ),
      };
    }
    case 'picklist': {
      if (value === null) return { value: null };
      const mapped = lookupMap(field.toSalesforce, String(value));
      if (mapped === undefined) {
        return {
          skip: problem(
            flow,
            field,
            'unmapped_value',
            'warning',
            `no Salesforce ${field.salesforce} for ${field.custompms} "${String(value)}"`,
            value,
          ),
        };
      }
      return { value: mapped };
    }
    case 'owner': {
      const { owners } = context;
      if (value === null) return { value: owners.integrationUserId };
      const ids = owners.usersByEmail.get(String(value).toLowerCase()) ?? [];
      if (ids.length > 1) {
        return {
          skip: problem(
            flow,
            field,
            'owner_ambiguous',
            'error',
            `several active users have this email`,
            value,
          ),
        };
      }
      if (ids.length === 1) return { value: ids[0]! };
      return {
        value: owners.integrationUserId,
        problem: problem(
          flow,
          field,
          'owner_not_found',
          'warning',
          'no active user has this email; the integration user owns the record',
          value,
        ),
      };
    }
    case 'customer_division': {
      if (value === null) return { value: null };
      const division = context.divisionByCustomer.get(String(value));
      return division === undefined
        ? { wait: { kind: 'customer_division', customerId: String(value) } }
        : { value: division };
    }
    case 'project_division': {
      if (value === null) return { value: null };
      const project = context.linkedProjects.get(String(value));
      if (project === undefined) return { wait: { kind: 'project', projectId: String(value) } };
      if (project.customerId === null) return { value: null };
      const division = context.divisionByCustomer.get(project.customerId);
      return division === undefined
        ? { wait: { kind: 'customer_division', customerId: project.customerId } }
        : { value: division };
    }
    default:
      return { value };
  }
}

function toCustompms(flow: FlowName, field: FieldMapping, value: Scalar, context: SyncContext): Conversion {
  switch (field.kind) {
    case 'picklist': {
      if (value === null) return { value: null };
      const mapped = lookupMap(field.toCustompms, String(value));
      if (mapped === undefined) {
        return {
          skip: problem(
            flow,
            field,
            'unmapped_value',
            'warning',
            `no Custompms ${field.custompms} for ${field.salesforce} "${String(value)}"`,
            value,
          ),
        };
      }
      return { value: mapped };
    }
    case 'owner': {
      if (value === null || value === context.owners.integrationUserId) return { value: null };
      const email = context.owners.emailByUser.get(String(value));
      if (email === undefined) {
        return {
          skip: problem(
            flow,
            field,
            'owner_unknown',
            'warning',
            'the owner is not a known user (a queue?)',
            value,
          ),
        };
      }
      return { value: email };
    }
    case 'customer_division': {
      if (value === null) return { value: null };
      const customer = context.customerByDivision.get(String(value));
      return customer === undefined
        ? { wait: { kind: 'division_customer', divisionId: String(value) } }
        : { value: customer };
    }
    case 'project_ref': {
      if (value === null) return { value: null };
      return context.linkedProjects.get(String(value)) === undefined
        ? { wait: { kind: 'project', projectId: String(value) } }
        : { value };
    }
    default:
      return { value };
  }
}

/**
 * Converts one canonical value of `field` to `target`'s form. Empty values for fields the
 * target requires become `required` errors (MAPPING.md: never clear Subject/Name).
 */
export function convertField(
  flow: FlowName,
  field: FieldMapping,
  target: Side,
  value: Scalar,
  context: SyncContext,
): Conversion {
  const result =
    target === 'salesforce'
      ? toSalesforce(flow, field, value, context)
      : toCustompms(flow, field, value, context);
  if ('value' in result && result.value === null) {
    const required = target === 'salesforce' ? field.requiredInSalesforce : field.requiredInCustompms;
    if (required) {
      const name = fieldOn(field, target);
      return { skip: problem(flow, field, 'required', 'error', `${name} is required and cannot be empty`) };
    }
  }
  return result;
}

/** Result of mapping a whole record (used by creates and by tests). */
export interface MappedRecord {
  /** Target field values (canonical). */
  readonly values: Values;
  readonly problems: readonly Problem[];
  readonly waits: readonly Dependency[];
}

/**
 * Maps every row that flows from `source` of one record to the other side. Constants and ids
 * are included (a create needs them). Pure and total: problems are collected, never thrown.
 */
export function mapRecord(
  flow: FlowName,
  fields: readonly FieldMapping[],
  source: Side,
  record: RawRecord,
  context: SyncContext,
): MappedRecord {
  const target: Side = source === 'custompms' ? 'salesforce' : 'custompms';
  const values: Record<string, Scalar> = {};
  const problems: Problem[] = [];
  const waits: Dependency[] = [];
  for (const field of fields) {
    if (!isActiveRow(field, context) || !flowsFrom(field, source)) continue;
    const read = readField(flow, field, source, record);
    if ('problem' in read) {
      problems.push(read.problem);
      continue;
    }
    const converted = convertField(flow, field, target, read.value, context);
    if ('wait' in converted) waits.push(converted.wait);
    else if ('skip' in converted) problems.push(converted.skip);
    else {
      values[fieldOn(field, target)!] = converted.value;
      if (converted.problem) problems.push(converted.problem);
    }
  }
  return { values, problems, waits };
}
