/**
 * Canonical values: one comparable form per field kind, so that "did this field change?" is a
 * plain `===` and echo detection is exact. Reading a raw value never throws: anything that is
 * not of the field's type comes back as `INVALID` and the caller reports it.
 */
import { type FieldKind } from './mapping';

/** A canonical field value. Text is never trimmed; an empty string is `null` (Salesforce stores it so). */
export type Scalar = string | number | boolean | null;

/** Canonical values of one side, keyed by that side's field names. */
export type Values = Readonly<Record<string, Scalar>>;

/** A record as an adapter delivers it: a Custompms resource or Salesforce field values. */
export type RawRecord = Readonly<Record<string, unknown>>;

/** Marks a raw value that is not of its field's type. */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// ISO-8601 with a zone (`Z`, `±hh:mm` or Salesforce's `±hhmm`); fractions of any length.
const DATETIME =
  /^(\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/;
const SALESFORCE_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const ID_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return DAYS_IN_MONTH[month]!;
}

/** A calendar date `YYYY-MM-DD` that exists, or `INVALID`. Never converted through `Date`: no zone shift. */
export function canonicalDate(raw: unknown): string | null | Invalid {
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw !== 'string') return INVALID;
  const match = DATE.exec(raw);
  if (!match) return INVALID;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return INVALID;
  return raw;
}

const CANONICAL_DATETIME = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** An instant as UTC ISO-8601 with milliseconds (`2024-01-02T03:04:05.000Z`), or `INVALID`. */
export function canonicalDateTime(raw: unknown): string | null | Invalid {
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw !== 'string') return INVALID;
  // Fast path: most versions arrive canonical already (REST and SOAP both send UTC with millis).
  const canonicalMatch = CANONICAL_DATETIME.exec(raw);
  if (canonicalMatch) return canonicalDate(canonicalMatch[1]) === INVALID ? INVALID : raw;
  const match = DATETIME.exec(raw);
  if (!match) return INVALID;
  let zone = match[2]!;
  if (zone !== 'Z' && zone.length === 5) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = canonicalDate(match[1]!.slice(0, 10));
  const millis = Date.parse(`${match[1]}${zone}`);
  if (date === INVALID || Number.isNaN(millis)) return INVALID;
  return new Date(millis).toISOString();
}

/**
 * An 18-character Salesforce id. 15-character ids (case-sensitive) get their checksum suffix so
 * the same record always compares equal, whichever API reported it.
 */
export function canonicalSalesforceId(raw: unknown): string | null | Invalid {
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw !== 'string' || !SALESFORCE_ID.test(raw)) return INVALID;
  if (raw.length === 18) return raw;
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk += 1) {
    let bits = 0;
    for (let index = 0; index < 5; index += 1) {
      const code = raw.charCodeAt(chunk * 5 + index);
      if (code >= 65 && code <= 90) bits |= 1 << index;
    }
    suffix += ID_SUFFIX[bits];
  }
  return raw + suffix;
}

function canonicalText(raw: unknown): string | null | Invalid {
  if (raw === null || raw === undefined || raw === '') return null;
  return typeof raw === 'string' ? raw : INVALID;
}

function canonicalBoolean(raw: unknown): boolean | null | Invalid {
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw === 'boolean') return raw;
  // SOAP outbound messages carry booleans as text.
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return INVALID;
}

function canonicalNumber(raw: unknown): number | null | Invalid {
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : INVALID;
  if (typeof raw === 'string' && /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  return INVALID;
}

/**
 * The canonical form of a raw value of `kind`, as held by `side`. Relational kinds are ids:
 * Salesforce ids are normalised to 18 characters, Custompms ids and emails are text.
 */
export function canonical(kind: FieldKind, side: 'custompms' | 'salesforce', raw: unknown): Scalar | Invalid {
  switch (kind) {
    case 'date':
      return canonicalDate(raw);
    case 'datetime':
      return canonicalDateTime(raw);
    case 'boolean':
      return canonicalBoolean(raw);
    case 'number':
      return canonicalNumber(raw);
    case 'owner':
    case 'customer_division':
    case 'project_division':
      return side === 'salesforce' ? canonicalSalesforceId(raw) : canonicalText(raw);
    default:
      return canonicalText(raw);
  }
}

/**
 * Cuts text to at most `maxLength` UTF-16 code units without splitting a surrogate pair. Code
 * units are never fewer than characters, so the result fits however Salesforce counts.
 */
export function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  const code = text.charCodeAt(maxLength - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? maxLength - 1 : maxLength;
  return text.slice(0, end);
}
