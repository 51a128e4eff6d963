/**
 * REST API resources under `/services/data/vNN.0/` (REST API Developer Guide): sObject rows
 * (create, retrieve, update, delete), upsert and retrieve by external id (201 created / 200
 * updated / 300 several matches), describe, get updated / get deleted, sObject Collections
 * (≤200 records, `allOrNone`, results in request order), query / queryAll with paging, limits.
 *
 * The resources are one route table (`REST_ROUTES`): the Express router serves it to direct
 * calls, and a Composite request (http/composite.ts) dispatches its subrequests to the same
 * handlers through `matchRestRoute`, so a subrequest is answered exactly as the same call on
 * its own would be.
 */
import { Router, type Request } from 'express';
import { ApiError, ApiErrorList, notFound, recordError, type RecordError } from '../errors';
import { canonicalId } from '../ids';
import type { DmlOptions, SaveResult, Transaction } from '../data/database';
import { recordJson, recordUrl } from '../data/serialize';
import { parseJsonRecord, type ParsedInput } from '../data/values';
import { describeGlobalEntry, describeObject } from '../schema/describe';
import type { ObjectDef } from '../schema/types';
import { SoqlError } from '../soql/lexer';
import { compileQuery, executeQuery } from '../soql/executor';
import { USER_MODE } from '../security/access';
import { formatDateTime, parseDateTime } from '../time';
import { context, methodNotAllowed, sendJson, type RequestContext } from './common';

const MAX_COLLECTION = 200;

/** What a REST handler reads of a request: a direct call's, or a Composite subrequest's. */
export interface RestCall {
  /** Upper case. */
  method: string;
  /** The path under `/services/data/vNN.0` (`/sobjects/Task/00T…`). */
  path: string;
  /** Path parameters, decoded. */
  params: Record<string, string>;
  /** Query parameters given once, decoded. */
  query: Record<string, string>;
  body: unknown;
  header(name: string): string | undefined;
}

/** A handler's answer: status, JSON body (none for 204) and extra headers. */
export interface RestAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type RestHandler = (ctx: RequestContext, call: RestCall) => RestAnswer;

/**
 * What a Composite request may call (REST API Developer Guide, "Send Multiple Requests Using
 * Composite": "All sObject resources (/services/data/vXX.X/sobjects/) …, The Query resource …,
 * The QueryAll resource …, The sObject Collections resource (/services/data/vXX.X/composite/sobjects).
 * Available in API version 43.0 and later"); `no` for the rest (limits, the root, …).
 */
export type CompositeUse = 'sobjects' | 'query' | 'collections' | 'no';

interface RestRoute {
  /** `*` for every method; GET routes also answer HEAD, as Express routes do. */
  method: string;
  pattern: RegExp;
  names: string[];
  composite: CompositeUse;
  handler: RestHandler;
}

function route(method: string, path: string, composite: CompositeUse, handler: RestHandler): RestRoute {
  const names: string[] = [];
  // Express semantics: literal segments match case-insensitively, `:name` one segment, and a
  // trailing slash is optional.
  const source = path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { method, pattern: new RegExp(`^${source}/?$`, 'i'), names, composite, handler };
}

/** The route a method and path reach, first match wins (as Express registers them). */
export function matchRestRoute(
  method: string,
  path: string,
): { handler: RestHandler; params: Record<string, string>; composite: CompositeUse } | undefined {
  const verb = method.toUpperCase();
  for (const candidate of REST_ROUTES) {
    if (
      candidate.method !== '*' &&
      candidate.method !== verb &&
      !(candidate.method === 'GET' && verb === 'HEAD')
    )
      continue;
    const match = candidate.pattern.exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    try {
      candidate.names.forEach((name, index) => {
        params[name] = decodeURIComponent(match[index + 1]!);
      });
    } catch {
      return undefined;
    }
    return { handler: candidate.handler, params, composite: candidate.composite };
  }
  return undefined;
}

/**
 * Runs `fn` in the request's transaction: its own (committed when it returns), or the Composite
 * request's it belongs to (committed, or rolled back, with the whole request).
 */
function transact<T>(ctx: RequestContext, fn: (tx: Transaction) => T): T {
  return ctx.tx ? fn(ctx.tx) : ctx.org.db.transaction(ctx.user, fn);
}

/**
 * The object as the running user's API sees it (security/access.ts): an object the user has no
 * access to does not exist (404 NOT_FOUND); fields hidden by field-level security are left out.
 */
function objectOf(ctx: RequestContext, name: string): ObjectDef {
  const object = ctx.org.schema.object(name);
  if (!object || !ctx.access.canAccessObject(object))
    throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
  return ctx.access.view(object);
}

function dmlOptions(ctx: RequestContext, allOrNone: boolean): DmlOptions {
  return {
    allOrNone,
    // Every API call runs as the session's user: object permissions, FLS and sharing apply.
    security: USER_MODE,
    recordFault: () =>
      ctx.faults.lockRow()
        ? recordError('UNABLE_TO_LOCK_ROW', 'unable to obtain exclusive access to this record or 1 records')
        : undefined,
  };
}

function bodyRecord(call: RestCall): Record<string, unknown> {
  const body: unknown = call.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** A single-record route fails as a whole on any record error. */
function singleInput(object: ObjectDef, body: Record<string, unknown>): ParsedInput {
  const input = parseJsonRecord(object, body);
  if (input.errors.length) throw new ApiErrorList(400, input.errors);
  return input;
}

function failOnErrors(result: SaveResult): void {
  if (result.success) return;
  const status = result.errors.some((e) => e.statusCode === 'ENTITY_IS_DELETED') ? 404 : 400;
  throw new ApiErrorList(status, result.errors);
}

/**
 * A SaveResult as the REST API writes it. A high-volume event publish also reports the enqueued
 * publish in `errors`: `{"statusCode":"OPERATION_ENQUEUED","message":"<EventUuid>"}` with
 * `success: true` (Platform Events Developer Guide, "Publish Event Messages with Salesforce APIs").
 */
function wireResult(object: ObjectDef | undefined, result: SaveResult): Record<string, unknown> {
  const { eventUuid, ...rest } = result;
  if (!result.success || !eventUuid || object?.eventType !== 'HighVolume') return rest;
  return { ...rest, errors: [{ statusCode: 'OPERATION_ENQUEUED', message: eventUuid, fields: [] }] };
}

function rowAllowed(object: ObjectDef): string[] {
  const allowed: string[] = [];
  if (object.retrieveable) allowed.push('HEAD', 'GET');
  if (object.updateable) allowed.push('PATCH');
  if (object.deletable) allowed.push('DELETE');
  return allowed;
}

/**
 * The row of a record route. A record the user cannot see is not there for a read (404
 * NOT_FOUND); a write reaches the DML layer, which refuses it with INSUFFICIENT_ACCESS_OR_READONLY
 * "insufficient access rights on object id".
 */
function findRow(ctx: RequestContext, object: ObjectDef, rawId: string, read: boolean) {
  const id = canonicalId(rawId);
  if (!id || id.slice(0, 3) !== object.keyPrefix) {
    throw new ApiError(
      404,
      'NOT_FOUND',
      `Provided external ID field does not exist or is not accessible: ${rawId}`,
    );
  }
  const row = ctx.org.db.table(object.name).get(id);
  if (!row || (read && !ctx.access.canSee(object, row))) throw notFound();
  if (row.IsDeleted === true) throw new ApiError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
  return row;
}

function selectedFields(object: ObjectDef, fields: string | undefined) {
  if (!fields) return object.fields;
  return fields.split(',').map((name) => {
    const def = object.index.get(name.trim().toLowerCase());
    if (!def) {
      throw new ApiError(
        400,
        'INVALID_FIELD',
        `No such column '${name.trim()}' on entity '${object.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    return def;
  });
}

function replicationWindow(call: RestCall, ctx: RequestContext): { start: number; end: number } {
  const rawStart = call.query.start;
  const rawEnd = call.query.end;
  if (!rawStart || !rawEnd)
    throw new ApiError(400, 'MISSING_ARGUMENT', `${rawStart ? 'end' : 'start'} was not specified`);
  const start = parseDateTime(rawStart);
  const end = parseDateTime(rawEnd);
  if (start === undefined || end === undefined) {
    throw new ApiError(
      400,
      'INVALID_REPLICATION_DATE',
      `Invalid date/time: ${start === undefined ? rawStart : rawEnd}`,
    );
  }
  const now = ctx.org.clock.now();
  const minute = 60_000;
  // The API ignores seconds: both ends are truncated to the minute, and the end cannot pass now.
  const s = Math.floor(start / minute) * minute;
  const e = Math.floor(Math.min(end, now) / minute) * minute;
  if (s > e || start >= end) {
    throw new ApiError(400, 'INVALID_REPLICATION_DATE', 'EndDate must chronologically follow the StartDate');
  }
  if (now - start > 30 * 24 * 60 * minute) {
    throw new ApiError(400, 'INVALID_REPLICATION_DATE', 'startDate cannot be more than 30 days ago');
  }
  return { start: s, end: e };
}

function batchSize(call: RestCall): number {
  const header = call.header('sforce-query-options') ?? '';
  const match = /batchSize\s*=\s*(\d+)/i.exec(header);
  if (!match) return 2000;
  return Math.min(2000, Math.max(200, Number(match[1])));
}

const json = (status: number, body: unknown, headers?: Record<string, string>): RestAnswer =>
  headers ? { status, body, headers } : { status, body };
const noContent: RestAnswer = { status: 204 };

// sObject Collections
function collectionRecords(call: RestCall): { allOrNone: boolean; records: Record<string, unknown>[] } {
  const body = bodyRecord(call);
  if (!Array.isArray(body.records)) throw new ApiError(400, 'JSON_PARSER_ERROR', 'records must be a list');
  const records = body.records as Record<string, unknown>[];
  if (records.length > MAX_COLLECTION) {
    throw new ApiError(
      400,
      'EXCEEDED_ID_LIMIT',
      'record limit reached. cannot submit more than 200 records into this call',
    );
  }
  return { allOrNone: body.allOrNone === true, records };
}

function typeOfRecord(
  ctx: RequestContext,
  record: Record<string, unknown>,
  fallback?: string,
): ObjectDef | RecordError {
  const attributes = record.attributes as { type?: unknown } | undefined;
  const name = typeof attributes?.type === 'string' ? attributes.type : fallback;
  if (!name) return recordError('INVALID_TYPE', 'sObject type is required in attributes', []);
  const object = ctx.org.schema.object(name);
  return object && ctx.access.canAccessObject(object)
    ? ctx.access.view(object)
    : recordError('INVALID_TYPE', `sObject type '${name}' is not supported.`, []);
}

function groupResults(
  ctx: RequestContext,
  records: Record<string, unknown>[],
  allOrNone: boolean,
  fallbackType: string | undefined,
  apply: (
    tx: Transaction,
    object: ObjectDef,
    items: { index: number; record: Record<string, unknown> }[],
  ) => SaveResult[],
): Record<string, unknown>[] {
  const results: (Record<string, unknown> | undefined)[] = new Array(records.length);
  transact(ctx, (tx) => {
    const savepoint = tx.savepoint();
    // Consecutive records of one type go in one statement, as Salesforce chunks them.
    let i = 0;
    while (i < records.length) {
      const type = typeOfRecord(ctx, records[i]!, fallbackType);
      if (!('name' in type)) {
        results[i] = { success: false, errors: [type] };
        i += 1;
        continue;
      }
      const items: { index: number; record: Record<string, unknown> }[] = [];
      while (i < records.length) {
        const next = typeOfRecord(ctx, records[i]!, fallbackType);
        if (!('name' in next) || next.name !== type.name) break;
        items.push({ index: i, record: records[i]! });
        i += 1;
      }
      const saved = apply(tx, type, items);
      items.forEach((item, k) => {
        results[item.index] = wireResult(type, saved[k]!);
      });
    }
    if (allOrNone && results.some((r) => r && r.success !== true)) {
      tx.rollbackTo(savepoint);
      for (let k = 0; k < results.length; k += 1) {
        if (results[k]?.success === true) {
          results[k] = {
            success: false,
            errors: [
              recordError(
                'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                'Record rolled back because not all records were valid and the request was using AllOrNone header',
              ),
            ],
          };
        }
      }
    }
  });
  return results.map((r) => r ?? { success: false, errors: [] });
}

// Query
function runQuery(ctx: RequestContext, call: RestCall, resource: 'query' | 'queryAll'): RestAnswer {
  const q = call.query.q;
  if (!q) throw new ApiError(400, 'MALFORMED_QUERY', 'A query string must be provided (parameter q)');
  try {
    // SOQL binds against the user's view of the schema (FLS) and sees only their records.
    const compiled = compileQuery(q, ctx.access.schemaView(), ctx.org.db, ctx.org.clock.now());
    const object = compiled.object;
    const rows = executeQuery(compiled, ctx.org.db, resource === 'queryAll', (row) =>
      ctx.access.canSee(object, row),
    );
    return json(200, ctx.org.queries.first(compiled, rows, resource, ctx.version, batchSize(call)));
  } catch (error) {
    if (error instanceof SoqlError) throw new ApiError(400, error.errorCode, error.message);
    throw error;
  }
}

function nextPage(ctx: RequestContext, call: RestCall): RestAnswer {
  return json(200, ctx.org.queries.next(call.params.locator!, ctx.version, batchSize(call)));
}

const REST_ROUTES: readonly RestRoute[] = [
  route('GET', '/', 'no', (ctx) => {
    const base = `/services/data/v${ctx.version}`;
    return json(200, {
      sobjects: `${base}/sobjects`,
      query: `${base}/query`,
      queryAll: `${base}/queryAll`,
      composite: `${base}/composite`,
      limits: `${base}/limits`,
      'jobs/ingest': `${base}/jobs/ingest`,
    });
  }),

  route('GET', '/limits', 'no', (ctx) => json(200, ctx.org.limits.resource())),

  route('GET', '/sobjects', 'sobjects', (ctx) =>
    json(200, {
      encoding: 'UTF-8',
      maxBatchSize: 200,
      sobjects: [...ctx.org.schema.objects.values()]
        .filter((o) => ctx.access.canAccessObject(o))
        .map((o) => describeGlobalEntry(ctx.access.view(o), ctx.version)),
    }),
  ),

  route('GET', '/sobjects/:type/describe', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    const ids = (name: string): string[] =>
      [...ctx.org.db.table(name).rows.values()]
        .filter((r) => r.IsDeleted !== true)
        .map((r) => r.Id as string);
    return json(200, describeObject(object, ctx.version, ids));
  }),

  route('GET', '/sobjects/:type/updated', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    if (!object.replicateable)
      throw new ApiError(400, 'INVALID_TYPE', `sObject type '${object.name}' is not replicable`);
    const { start, end } = replicationWindow(call, ctx);
    const ids: string[] = [];
    for (const row of ctx.org.db.table(object.name).rows.values()) {
      const stamp = row.SystemModstamp as number;
      if (row.IsDeleted !== true && stamp >= start && stamp < end && ctx.access.canSee(object, row))
        ids.push(row.Id as string);
    }
    return json(200, { ids, latestDateCovered: formatDateTime(end) });
  }),

  route('GET', '/sobjects/:type/deleted', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    if (!object.replicateable)
      throw new ApiError(400, 'INVALID_TYPE', `sObject type '${object.name}' is not replicable`);
    const { start, end } = replicationWindow(call, ctx);
    const table = ctx.org.db.table(object.name);
    const deletedRecords: { id: string; deletedDate: string }[] = [];
    for (const [id, at] of table.deletedAt) {
      const row = table.get(id);
      if (at >= start && at < end && row?.IsDeleted === true && ctx.access.canSee(object, row)) {
        deletedRecords.push({ id, deletedDate: formatDateTime(at) });
      }
    }
    return json(200, {
      deletedRecords,
      earliestDateAvailable: formatDateTime(Math.floor(ctx.org.createdAt / 60_000) * 60_000),
      latestDateCovered: formatDateTime(end),
    });
  }),

  route('GET', '/sobjects/:type', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    return json(200, { objectDescribe: describeGlobalEntry(object, ctx.version), recentItems: [] });
  }),

  route('POST', '/sobjects/:type', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    if (!object.createable) throw methodNotAllowed('POST', ['HEAD', 'GET']);
    const input = singleInput(object, bodyRecord(call));
    const [result] = transact(ctx, (tx) => tx.insert(object.name, [input], dmlOptions(ctx, true)));
    failOnErrors(result!);
    // The new record's URL in Location (REST API Developer Guide, "Composite Subrequest Result"
    // shows it on a create: "Location" : "/services/data/v…/sobjects/Account/001…").
    return json(201, wireResult(object, result!), {
      Location: recordUrl(ctx.version, object.name, result!.id),
    });
  }),

  route('*', '/sobjects/:type/:id', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    const allowed = rowAllowed(object);
    const method = call.method;
    if (!allowed.includes(method)) throw methodNotAllowed(method, allowed);
    const row = findRow(ctx, object, call.params.id!, method === 'GET' || method === 'HEAD');
    const id = row.Id as string;
    if (method === 'GET' || method === 'HEAD') {
      return json(200, recordJson(object, row, ctx.version, selectedFields(object, call.query.fields)));
    }
    if (method === 'PATCH') {
      const input = singleInput(object, bodyRecord(call));
      const [result] = transact(ctx, (tx) => tx.update(object.name, [{ id, input }], dmlOptions(ctx, true)));
      failOnErrors(result!);
      return noContent;
    }
    const [result] = transact(ctx, (tx) => tx.delete([id], dmlOptions(ctx, true)));
    failOnErrors(result!);
    return noContent;
  }),

  route('*', '/sobjects/:type/:field/:value', 'sobjects', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    const fieldName = call.params.field!;
    const value = call.params.value!;
    const def = object.index.get(fieldName.toLowerCase());
    if (!def || !(def.externalId || def.idLookup)) {
      throw new ApiError(
        404,
        'NOT_FOUND',
        `Provided external ID field does not exist or is not accessible: ${fieldName}`,
      );
    }
    const table = ctx.org.db.table(object.name);
    const method = call.method;
    const all =
      def.name === 'Id'
        ? [canonicalId(value) ?? ''].filter((id) => table.get(id)?.IsDeleted === false)
        : table.lookup(def, value);
    // Reads and deletes see only the user's records; an upsert matches on every record and the
    // DML layer refuses one the user cannot edit.
    const matches = method === 'PATCH' ? all : all.filter((id) => ctx.access.canSee(object, table.get(id)!));
    if (matches.length > 1) {
      return json(
        300,
        matches.map((id) => recordUrl(ctx.version, object.name, id)),
      );
    }
    if (method === 'GET' || method === 'HEAD') {
      if (!matches.length) throw notFound();
      return json(
        200,
        recordJson(object, table.get(matches[0]!)!, ctx.version, selectedFields(object, call.query.fields)),
      );
    }
    if (method === 'DELETE') {
      if (!object.deletable) throw methodNotAllowed('DELETE', ['HEAD', 'GET', 'PATCH']);
      if (!matches.length) throw notFound();
      const [result] = transact(ctx, (tx) => tx.delete([matches[0]!], dmlOptions(ctx, true)));
      failOnErrors(result!);
      return noContent;
    }
    if (method !== 'PATCH') throw methodNotAllowed(method, ['HEAD', 'GET', 'PATCH', 'DELETE']);
    const body = bodyRecord(call);
    const input = singleInput(object, body);
    const given = input.values.get(def.name);
    if (given !== undefined && String(given).toLowerCase() !== value.toLowerCase()) {
      throw new ApiError(
        400,
        'INVALID_FIELD',
        `The value of ${def.name} in the body does not match the value in the URL`,
        [def.name],
      );
    }
    input.values.set(def.name, value);
    const [result] = transact(ctx, (tx) => tx.upsert(object.name, def.name, [input], dmlOptions(ctx, true)));
    failOnErrors(result!);
    const body200 = { id: result!.id, success: true, errors: [], created: result!.created === true };
    if (result!.created)
      return json(201, body200, { Location: recordUrl(ctx.version, object.name, result!.id) });
    if (Number(ctx.version) >= 46) return json(200, body200);
    return noContent;
  }),

  route('POST', '/composite/sobjects', 'collections', (ctx, call) => {
    const { allOrNone, records } = collectionRecords(call);
    return json(
      200,
      groupResults(ctx, records, allOrNone, undefined, (tx, object, items) =>
        tx.insert(
          object.name,
          items.map((item) => parseJsonRecord(object, item.record)),
          dmlOptions(ctx, false),
        ),
      ),
    );
  }),

  route('PATCH', '/composite/sobjects', 'collections', (ctx, call) => {
    const { allOrNone, records } = collectionRecords(call);
    return json(
      200,
      groupResults(ctx, records, allOrNone, undefined, (tx, object, items) =>
        tx.update(
          object.name,
          items.map((item) => {
            const { id, Id, ...rest } = item.record;
            const rawId = Id ?? id;
            const input = parseJsonRecord(object, rest);
            if (typeof rawId !== 'string' || !rawId)
              input.errors.push(
                recordError('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']),
              );
            return { id: typeof rawId === 'string' ? rawId : '', input };
          }),
          dmlOptions(ctx, false),
        ),
      ),
    );
  }),

  route('PATCH', '/composite/sobjects/:type/:field', 'collections', (ctx, call) => {
    if (Number(ctx.version) < 46) throw notFound();
    const object = objectOf(ctx, call.params.type!);
    const field = call.params.field!;
    const { allOrNone, records } = collectionRecords(call);
    return json(
      200,
      groupResults(ctx, records, allOrNone, object.name, (tx, target, items) =>
        tx.upsert(
          target.name,
          field,
          items.map((item) => parseJsonRecord(target, item.record)),
          dmlOptions(ctx, false),
        ),
      ),
    );
  }),

  route('DELETE', '/composite/sobjects', 'collections', (ctx, call) => {
    const ids = (call.query.ids ?? '').split(',').filter(Boolean);
    if (!ids.length) throw new ApiError(400, 'MISSING_ARGUMENT', 'ids parameter is required');
    if (ids.length > MAX_COLLECTION) {
      throw new ApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 200 records into this call',
      );
    }
    const allOrNone = call.query.allOrNone === 'true';
    const results = transact(ctx, (tx) => tx.delete(ids, dmlOptions(ctx, allOrNone)));
    return json(
      200,
      results.map((r) => wireResult(undefined, r)),
    );
  }),

  route('POST', '/composite/sobjects/:type', 'collections', (ctx, call) => {
    const object = objectOf(ctx, call.params.type!);
    const body = bodyRecord(call);
    const ids = Array.isArray(body.ids) ? (body.ids as unknown[]).map(String) : [];
    const fields = Array.isArray(body.fields) ? (body.fields as unknown[]).map(String).join(',') : undefined;
    const defs = selectedFields(object, fields);
    if (ids.length > 2000)
      throw new ApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 2000 records into this call',
      );
    const table = ctx.org.db.table(object.name);
    return json(
      200,
      ids.map((raw) => {
        const id = canonicalId(raw);
        const row = id ? table.get(id) : undefined;
        return row && row.IsDeleted !== true && ctx.access.canSee(object, row)
          ? recordJson(object, row, ctx.version, defs)
          : null;
      }),
    );
  }),

  route('GET', '/query', 'query', (ctx, call) => runQuery(ctx, call, 'query')),
  route('GET', '/queryAll', 'query', (ctx, call) => runQuery(ctx, call, 'queryAll')),
  route('GET', '/query/:locator', 'query', nextPage),
  route('GET', '/queryAll/:locator', 'query', nextPage),
];

/** Query parameters given once (a repeated one reads as absent, as `queryParam` has it). */
function singleValues(query: Request['query']): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(query as Record<string, unknown>))
    if (typeof value === 'string') values[name] = value;
  return values;
}

/** The Express face of `REST_ROUTES` for direct calls; a path it does not serve goes on to the next router. */
export function restRouter(): Router {
  const router = Router({ mergeParams: true });
  router.use((req, res, next) => {
    const match = matchRestRoute(req.method, req.path);
    if (!match) {
      next();
      return;
    }
    const answer = match.handler(context(res), {
      method: req.method.toUpperCase(),
      path: req.path,
      params: match.params,
      query: singleValues(req.query),
      body: req.body,
      header: (name) => req.get(name),
    });
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
    if (answer.body === undefined) res.status(answer.status).end();
    else sendJson(res, answer.status, answer.body);
  });
  return router;
}
