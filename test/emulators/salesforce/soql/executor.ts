/**
 * Binds a parsed SOQL query to the org's schema (unknown objects → INVALID_TYPE, unknown fields
 * → INVALID_FIELD, wrongly typed filter values → INVALID_QUERY_FILTER_OPERATOR, with Salesforce's
 * messages), compiles its WHERE clause to a predicate and runs it over a table. String
 * comparisons are case-insensitive, as in SOQL; `!=` and `NOT IN` match nulls; ids compare in
 * their 18-character form; date literals (TODAY, LAST_N_DAYS:n, ...) are UTC day ranges.
 */
import { canonicalId } from '../ids';
import type { Database } from '../data/database';
import type { StoredRecord, Value } from '../data/values';
import type { OrgSchema } from '../schema/org-schema';
import { findField, TEXT_TYPES, type FieldDef, type ObjectDef } from '../schema/types';
import { epochDayOf, parseDate, parseDateTime } from '../time';
import { SoqlError } from './lexer';
import { parseSoql, type Condition, type FieldPath, type Literal, type SoqlQuery } from './parser';

export interface Column {
  /** Output key: the field, or the relationship holding it. */
  path: string[];
  /** The reference field followed, for relationship columns. */
  via?: FieldDef;
  target?: ObjectDef;
  field: FieldDef;
  get(row: StoredRecord): Value;
}

export interface CompiledQuery {
  query: SoqlQuery;
  object: ObjectDef;
  count: boolean;
  columns: Column[];
  predicate: (row: StoredRecord) => boolean;
  /** Candidate ids from an index, when the WHERE clause pins an indexed field. */
  candidates?: (db: Database) => string[];
  order: { get(row: StoredRecord): Value; descending: boolean; nullsLast: boolean; text: boolean }[];
  limit?: number;
  offset?: number;
}

/** Text types, and `time` (compared and filtered as its string form). */
const TEXT = new Set<string>([...TEXT_TYPES, 'time']);
const NUMERIC = new Set(['int', 'double', 'currency', 'percent']);

/** The type name Salesforce's filter errors use (text-like fields are all `string`). */
function typeName(def: FieldDef): string {
  if (def.type === 'datetime') return 'dateTime';
  if (def.type === 'reference' || def.type === 'id') return 'id';
  if (TEXT.has(def.type)) return 'string';
  return def.type;
}

type Range = [number, number];

/** A date literal as a [start, end) range of UTC epoch days. */
export function dateLiteralRange(name: string, n: number | undefined, nowMs: number): Range {
  const today = epochDayOf(nowMs);
  const date = new Date(today * 86_400_000);
  const weekStart = today - date.getUTCDay();
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth();
  const day = (yy: number, mm: number): number => Math.round(Date.UTC(yy, mm, 1) / 86_400_000);
  switch (name) {
    case 'TODAY':
      return [today, today + 1];
    case 'YESTERDAY':
      return [today - 1, today];
    case 'TOMORROW':
      return [today + 1, today + 2];
    case 'LAST_WEEK':
      return [weekStart - 7, weekStart];
    case 'THIS_WEEK':
      return [weekStart, weekStart + 7];
    case 'NEXT_WEEK':
      return [weekStart + 7, weekStart + 14];
    case 'LAST_MONTH':
      return [day(y, m - 1), day(y, m)];
    case 'THIS_MONTH':
      return [day(y, m), day(y, m + 1)];
    case 'NEXT_MONTH':
      return [day(y, m + 1), day(y, m + 2)];
    case 'THIS_YEAR':
      return [day(y, 0), day(y + 1, 0)];
    case 'LAST_YEAR':
      return [day(y - 1, 0), day(y, 0)];
    case 'NEXT_YEAR':
      return [day(y + 1, 0), day(y + 2, 0)];
    case 'LAST_90_DAYS':
      return [today - 90, today + 1];
    case 'NEXT_90_DAYS':
      return [today + 1, today + 91];
    case 'LAST_N_DAYS':
      return [today - (n ?? 0), today + 1];
    case 'NEXT_N_DAYS':
      return [today + 1, today + 1 + (n ?? 0)];
    case 'N_DAYS_AGO':
      return [today - (n ?? 0), today - (n ?? 0) + 1];
    case 'LAST_N_WEEKS':
      return [weekStart - 7 * (n ?? 0), weekStart];
    case 'NEXT_N_WEEKS':
      return [weekStart + 7, weekStart + 7 + 7 * (n ?? 0)];
    default:
      throw new Error(`unknown date literal ${name}`);
  }
}

class Binder {
  constructor(
    private readonly schema: SchemaLike,
    private readonly db: Database,
    private readonly query: SoqlQuery,
    private readonly object: ObjectDef,
    private readonly nowMs: number,
  ) {}

  private error(code: SoqlError['errorCode'], detail: string, offset: number): never {
    throw new SoqlError(code, detail, offset, this.query.text);
  }

  column(path: FieldPath): Column {
    const { parts } = path;
    if (parts.length === 1) {
      const def = findField(this.object, parts[0]!);
      if (!def) {
        this.error(
          'INVALID_FIELD',
          `No such column '${parts[0]}' on entity '${this.object.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
          path.offset,
        );
      }
      return { path: [def.name], field: def, get: (row) => row[def.name] ?? null };
    }
    if (parts.length > 2) {
      this.error('MALFORMED_QUERY', 'The emulator supports one level of relationship fields', path.offset);
    }
    const relationship = parts[0]!.toLowerCase();
    const via = this.object.fields.find((f) => f.relationshipName?.toLowerCase() === relationship);
    if (!via) {
      this.error(
        'INVALID_FIELD',
        `Didn't understand relationship '${parts[0]}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
        path.offset,
      );
    }
    // Polymorphic Owner (User or Group): the emulator holds Users only.
    const targetName = via.referenceTo.includes('User') ? 'User' : via.referenceTo[0];
    const target = targetName ? this.schema.object(targetName) : undefined;
    const def = target ? findField(target, parts[1]!) : undefined;
    if (!target || !def) {
      this.error(
        'INVALID_FIELD',
        `No such column '${parts[1]}' on entity '${targetName ?? parts[0]}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
        path.offset,
      );
    }
    const db = this.db;
    return {
      path: [via.relationshipName!, def.name],
      via,
      target,
      field: def,
      get: (row) => {
        const ref = row[via.name];
        if (typeof ref !== 'string') return null;
        const found = db.findById(ref);
        return found?.record[def.name] ?? null;
      },
    };
  }

  private valueError(def: FieldDef, offset: number): never {
    return this.error(
      'INVALID_QUERY_FILTER_OPERATOR',
      `value of filter criterion for field '${def.name}' must be of type ${typeName(def)} and should not be enclosed in quotes`,
      offset,
    );
  }

  /** A literal → comparable value (or a day range for date literals). */
  private operand(def: FieldDef, literal: Literal, offset: number): Value | Range {
    if (literal.kind === 'null') return null;
    if (def.type === 'id' || def.type === 'reference') {
      if (literal.kind !== 'string') this.valueError(def, offset);
      const id = canonicalId(literal.value);
      if (!id) this.error('INVALID_QUERY_FILTER_OPERATOR', `invalid ID field: ${literal.value}`, offset);
      return id;
    }
    if (TEXT.has(def.type)) {
      if (literal.kind !== 'string') this.valueError(def, offset);
      return literal.value.toLowerCase();
    }
    if (def.type === 'boolean') {
      if (literal.kind !== 'boolean') this.valueError(def, offset);
      return literal.value;
    }
    if (NUMERIC.has(def.type)) {
      if (literal.kind !== 'number') this.valueError(def, offset);
      return literal.value;
    }
    if (def.type === 'date') {
      if (literal.kind === 'date') return parseDate(literal.value) ?? this.valueError(def, offset);
      if (literal.kind === 'dateLiteral') return dateLiteralRange(literal.name, literal.n, this.nowMs);
      return this.valueError(def, offset);
    }
    if (def.type === 'datetime') {
      if (literal.kind === 'datetime') return parseDateTime(literal.value) ?? this.valueError(def, offset);
      if (literal.kind === 'dateLiteral') {
        const [a, b] = dateLiteralRange(literal.name, literal.n, this.nowMs);
        return [a * 86_400_000, b * 86_400_000];
      }
      return this.valueError(def, offset);
    }
    return this.valueError(def, offset);
  }

  condition(condition: Condition): (row: StoredRecord) => boolean {
    switch (condition.kind) {
      case 'and': {
        const items = condition.items.map((c) => this.condition(c));
        return (row) => items.every((f) => f(row));
      }
      case 'or': {
        const items = condition.items.map((c) => this.condition(c));
        return (row) => items.some((f) => f(row));
      }
      case 'not': {
        const item = this.condition(condition.item);
        return (row) => !item(row);
      }
      case 'like': {
        const column = this.filterable(condition.field);
        if (!TEXT.has(column.field.type)) {
          this.error(
            'INVALID_QUERY_FILTER_OPERATOR',
            `invalid operator on ${typeName(column.field)} field: LIKE`,
            condition.valueOffset,
          );
        }
        const regex = likeRegex(condition.pattern);
        return (row) => {
          const value = column.get(row);
          return typeof value === 'string' && regex.test(value);
        };
      }
      case 'in': {
        const column = this.filterable(condition.field);
        const operands = condition.values.map((v) => this.operand(column.field, v, condition.valueOffset));
        if (operands.some((o) => Array.isArray(o))) {
          this.error(
            'MALFORMED_QUERY',
            'Date literals are not allowed in IN lists by the emulator',
            condition.valueOffset,
          );
        }
        const set = new Set(operands as Value[]);
        const norm = normaliser(column.field);
        return condition.negated
          ? (row) => !set.has(norm(column.get(row)))
          : (row) => {
              const v = norm(column.get(row));
              return v !== null && set.has(v);
            };
      }
      case 'compare': {
        const column = this.filterable(condition.field);
        const operand = this.operand(column.field, condition.value, condition.valueOffset);
        const { op } = condition;
        const def = column.field;
        if (
          (def.type === 'boolean' || def.type === 'id' || def.type === 'reference') &&
          !['=', '!='].includes(op)
        ) {
          if (def.type === 'boolean') {
            this.error(
              'INVALID_QUERY_FILTER_OPERATOR',
              `invalid operator on boolean field: ${op}`,
              condition.valueOffset,
            );
          }
        }
        if (operand === null) {
          if (op !== '=' && op !== '!=') {
            this.error(
              'INVALID_QUERY_FILTER_OPERATOR',
              `invalid operator on null: ${op}`,
              condition.valueOffset,
            );
          }
          return op === '=' ? (row) => column.get(row) === null : (row) => column.get(row) !== null;
        }
        const norm = normaliser(def);
        if (Array.isArray(operand)) {
          const [start, end] = operand;
          const test = rangeTest(op, start, end);
          return (row) => {
            const v = column.get(row);
            if (v === null) return op === '!=';
            return test(v as number);
          };
        }
        const cmp = (a: Value, b: Value): number =>
          (a as number | string) < (b as number | string) ? -1 : a === b ? 0 : 1;
        return (row) => {
          const v = norm(column.get(row));
          if (v === null) return op === '!=';
          const c = cmp(v, operand);
          switch (op) {
            case '=':
              return c === 0;
            case '!=':
              return c !== 0;
            case '<':
              return c < 0;
            case '<=':
              return c <= 0;
            case '>':
              return c > 0;
            default:
              return c >= 0;
          }
        };
      }
    }
  }

  private filterable(path: FieldPath): Column {
    const column = this.column(path);
    if (!column.field.filterable) {
      this.error(
        'INVALID_FIELD',
        `field '${column.field.name}' can not be filtered in a query call`,
        path.offset,
      );
    }
    return column;
  }
}

function rangeTest(op: string, start: number, end: number): (v: number) => boolean {
  switch (op) {
    case '=':
      return (v) => v >= start && v < end;
    case '!=':
      return (v) => v < start || v >= end;
    case '<':
      return (v) => v < start;
    case '<=':
      return (v) => v < end;
    case '>':
      return (v) => v >= end;
    default:
      return (v) => v >= start;
  }
}

/** Stored value → the form literals are compared in. */
function normaliser(def: FieldDef): (v: Value) => Value {
  if (TEXT.has(def.type)) return (v) => (typeof v === 'string' ? v.toLowerCase() : v);
  if (def.type === 'id' || def.type === 'reference')
    return (v) => (typeof v === 'string' ? (canonicalId(v) ?? v) : v);
  return (v) => v;
}

/** LIKE pattern → regex: `%` any run, `_` one character, `\%` `\_` literal; case-insensitive. */
export function likeRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i]!;
    if (c === '\\' && (pattern[i + 1] === '%' || pattern[i + 1] === '_')) {
      out += pattern[i + 1] === '%' ? '%' : '_';
      i += 1;
    } else if (c === '%') out += '[\\s\\S]*';
    else if (c === '_') out += '[\\s\\S]';
    else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'i');
}

/** Ids named by the WHERE clause through an index (`Id = …`, `ExtId__c IN (…)`), if any. */
function indexCandidates(
  where: Condition | undefined,
  object: ObjectDef,
  binder: Binder,
): ((db: Database) => string[]) | undefined {
  if (!where) return undefined;
  const conjuncts = where.kind === 'and' ? where.items : [where];
  for (const c of conjuncts) {
    if (
      (c.kind === 'compare' && c.op === '=' && c.value.kind === 'string') ||
      (c.kind === 'in' && !c.negated)
    ) {
      const column = binder.column(c.field);
      if (column.via) continue;
      const def = column.field;
      const values = (c.kind === 'compare' ? [c.value] : c.values)
        .filter((v): v is Extract<Literal, { kind: 'string' }> => v.kind === 'string')
        .map((v) => v.value);
      if (c.kind === 'in' && values.length !== c.values.length) continue;
      if (def.name === 'Id') {
        return () => values.map((v) => canonicalId(v)).filter((v): v is string => v !== undefined);
      }
      if (def.unique || def.externalId) {
        return (db) => {
          const table = db.table(object.name);
          return [...new Set(values.flatMap((v) => table.lookup(def, v)))];
        };
      }
    }
  }
  return undefined;
}

/**
 * The schema a query binds against: the org's, or a user's view of it (security/access.ts), in
 * which fields hidden by field-level security do not exist (INVALID_FIELD "No such column") and
 * objects the user cannot read are unknown (INVALID_TYPE).
 */
export type SchemaLike = Pick<OrgSchema, 'object'>;

export function compileQuery(text: string, schema: SchemaLike, db: Database, nowMs: number): CompiledQuery {
  const query = parseSoql(text);
  const object = schema.object(query.object);
  if (!object || !object.queryable) {
    throw new SoqlError(
      'INVALID_TYPE',
      `sObject type '${query.object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
      query.objectOffset,
      text,
    );
  }
  const binder = new Binder(schema, db, query, object, nowMs);
  const columns: Column[] = [];
  const seen = new Set<string>();
  for (const path of query.fields) {
    const column = binder.column(path);
    const key = column.path.join('.').toLowerCase();
    if (seen.has(key)) {
      throw new SoqlError(
        'MALFORMED_QUERY',
        `duplicate field selected: ${column.path.join('.')}`,
        path.offset,
        text,
      );
    }
    seen.add(key);
    columns.push(column);
  }
  const predicate = query.where ? binder.condition(query.where) : () => true;
  const order = query.orderBy.map((item) => {
    const column = binder.column(item.field);
    if (!column.field.sortable) {
      throw new SoqlError(
        'INVALID_FIELD',
        `field '${column.field.name}' can not be sorted in a query call`,
        item.field.offset,
        text,
      );
    }
    return {
      get: column.get,
      descending: item.descending,
      nullsLast: item.nullsLast,
      text: TEXT.has(column.field.type),
    };
  });
  return {
    query,
    object,
    count: query.count,
    columns,
    predicate,
    candidates: indexCandidates(query.where, object, binder),
    order,
    limit: query.limit,
    offset: query.offset,
  };
}

/**
 * Runs a compiled query: matching rows, ordered, offset and limited. `visible` is the running
 * user's record access (sharing): rows it refuses are not there for the query, before LIMIT,
 * OFFSET and COUNT() apply.
 */
export function executeQuery(
  compiled: CompiledQuery,
  db: Database,
  includeDeleted: boolean,
  visible?: (row: StoredRecord) => boolean,
): StoredRecord[] {
  const table = db.table(compiled.object.name);
  // query hides deleted rows and archived activities; queryAll returns both (SALESFORCE.md, Task).
  const live = (row: StoredRecord): boolean =>
    (includeDeleted || (row.IsDeleted !== true && row.IsArchived !== true)) && (!visible || visible(row));
  let rows: StoredRecord[] = [];
  // The indexes hold live records only: queryAll scans, so a filter on an external id still finds
  // the deleted record (Salesforce's queryAll returns it with IsDeleted = true).
  if (compiled.candidates && !includeDeleted) {
    for (const id of compiled.candidates(db)) {
      const row = table.get(id);
      if (row && live(row) && compiled.predicate(row)) rows.push(row);
    }
  } else {
    for (const row of table.rows.values()) if (live(row) && compiled.predicate(row)) rows.push(row);
  }
  if (compiled.order.length) rows = sortRows(rows, compiled.order);
  const start = compiled.offset ?? 0;
  const end = compiled.limit === undefined ? undefined : start + compiled.limit;
  return start || end !== undefined ? rows.slice(start, end) : rows;
}

/** Decorate-sort-undecorate: keys computed once per row (lower-cased for text). */
function sortRows(rows: StoredRecord[], order: CompiledQuery['order']): StoredRecord[] {
  const keys = rows.map((row) =>
    order.map((o) => {
      const v = o.get(row);
      return o.text && typeof v === 'string' ? v.toLowerCase() : v;
    }),
  );
  const index = rows.map((_, i) => i);
  index.sort((a, b) => {
    for (let k = 0; k < order.length; k += 1) {
      const o = order[k]!;
      const x = keys[a]![k] ?? null;
      const y = keys[b]![k] ?? null;
      if (x === y) continue;
      if (x === null) return o.nullsLast ? 1 : -1;
      if (y === null) return o.nullsLast ? -1 : 1;
      const c = x < y ? -1 : 1;
      return o.descending ? -c : c;
    }
    return a - b;
  });
  return index.map((i) => rows[i]!);
}
