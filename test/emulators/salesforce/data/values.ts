/**
 * Field values: how they are held (dates as epoch days, datetimes as epoch ms, everything else as
 * JSON scalars), read from JSON and CSV input, and written back out in Salesforce's formats.
 */
import { recordError, type RecordError } from '../errors';
import { canonicalId } from '../ids';
import type { FieldDef, ObjectDef } from '../schema/types';
import { findField, TEXT_TYPES } from '../schema/types';
import { formatDate, formatDateTime, parseDate, parseDateTime, toStoredDateTime } from '../time';

export type Value = string | number | boolean | null;
export type StoredRecord = Readonly<Record<string, Value>>;

/** Input for one record after parsing: canonical field name → value. */
export type FieldValues = Map<string, Value>;

export interface ParsedInput {
  values: FieldValues;
  errors: RecordError[];
}

/** Which wire the value arrived on; error codes and rules differ (JSON vs Bulk CSV). */
export type InputFormat = 'json' | 'csv';

/** Text of any input value; objects as JSON (never "[object Object]"). */
export function scalarText(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') return raw.toString();
  if (raw === undefined) return 'undefined';
  return JSON.stringify(raw);
}

export class ValueError extends Error {
  constructor(
    readonly field: FieldDef,
    readonly raw: unknown,
    readonly typeName: string,
  ) {
    super(`'${scalarText(raw)}' is not a valid value for the type ${typeName}`);
  }
}

function xsdName(def: FieldDef): string {
  switch (def.type) {
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    case 'boolean':
      return 'xsd:boolean';
    case 'int':
      return 'xsd:int';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    default:
      return 'xsd:string';
  }
}

/** One input value → stored value. Throws ValueError for a value of the wrong type. */
export function coerceValue(def: FieldDef, raw: unknown, format: InputFormat): Value {
  if (raw === null || raw === undefined) return null;
  const fail = (): never => {
    throw new ValueError(def, raw, xsdName(def));
  };
  if (typeof raw === 'object') fail();
  switch (def.type) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const s = scalarText(raw).trim().toLowerCase();
      if (s === 'true' || (format === 'csv' && (s === '1' || s === 'yes'))) return true;
      if (s === 'false' || (format === 'csv' && (s === '0' || s === 'no'))) return false;
      return fail();
    }
    case 'date': {
      if (typeof raw !== 'string') return fail();
      const day = parseDate(raw.trim());
      if (day !== undefined) return day;
      // A datetime given for a date keeps its (UTC) calendar day, as the API does.
      const ms = parseDateTime(raw.trim());
      return ms === undefined ? fail() : Math.floor(ms / 86_400_000);
    }
    case 'datetime': {
      if (typeof raw !== 'string') return fail();
      const ms = parseDateTime(raw.trim());
      return ms === undefined ? fail() : toStoredDateTime(ms);
    }
    case 'int':
    case 'double':
    case 'currency':
    case 'percent': {
      const n = typeof raw === 'number' ? raw : Number(scalarText(raw).trim());
      if (!Number.isFinite(n) || (typeof raw === 'string' && raw.trim() === '')) return fail();
      if (def.type === 'int' && !Number.isInteger(n)) return fail();
      return n;
    }
    case 'id':
    case 'reference': {
      const s = scalarText(raw).trim();
      return s === '' ? null : s;
    }
    default:
      if (TEXT_TYPES.has(def.type) || def.type === 'time')
        return typeof raw === 'string' ? raw : scalarText(raw);
      return fail();
  }
}

/**
 * A JSON record body → field values. Unknown fields and values of the wrong type become record
 * errors (the single-record routes turn them into a 400 for the whole request).
 */
export function parseJsonRecord(object: ObjectDef, body: Record<string, unknown>): ParsedInput {
  const values: FieldValues = new Map();
  const errors: RecordError[] = [];
  for (const [key, raw] of Object.entries(body)) {
    if (key === 'attributes') continue;
    const def = findField(object, key);
    if (!def) {
      errors.push(
        recordError('INVALID_FIELD', `No such column '${key}' on sobject of type ${object.name}`, [key]),
      );
      continue;
    }
    try {
      values.set(def.name, coerceValue(def, raw, 'json'));
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      errors.push(
        recordError(
          'JSON_PARSER_ERROR',
          `Cannot deserialize instance of ${def.type} from ${typeof raw === 'string' ? 'VALUE_STRING' : 'VALUE_' + typeof raw} value ${scalarText(raw)} or request may be missing a required field`,
          [def.name],
        ),
      );
    }
  }
  return { values, errors };
}

/** The stored value → its JSON form in REST answers. */
export function formatValue(def: FieldDef, value: Value | undefined): Value {
  if (value === null || value === undefined) return null;
  if (def.type === 'date') return formatDate(value as number);
  if (def.type === 'datetime') return formatDateTime(value as number);
  return value;
}

/** SOAP/XML text of a stored value (outbound messages use the enterprise WSDL's types). */
export function formatSoapValue(def: FieldDef, value: Value): string {
  if (value === null) return '';
  if (def.type === 'date') return formatDate(value as number);
  if (def.type === 'datetime') return new Date(value as number).toISOString();
  return String(value);
}

/** CSV text of a stored value (Bulk API results echo input; this is for generated values). */
export function formatCsvValue(def: FieldDef, value: Value): string {
  if (value === null) return '';
  if (def.type === 'date') return formatDate(value as number);
  if (def.type === 'datetime') return new Date(value as number).toISOString().replace('Z', '+0000');
  return String(value);
}

/** Key for unique and external-id indexes. */
export function indexKey(def: FieldDef, value: Value): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (def.type === 'id' || def.type === 'reference') return canonicalId(String(value)) ?? String(value);
  const s = String(value);
  return def.caseSensitive ? s : s.toLowerCase();
}
