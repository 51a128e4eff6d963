/**
 * REST API resources under `/services/data/vNN.0/` (REST API Developer Guide): sObject rows
 * (create, retrieve, update, delete), upsert and retrieve by external id (201 created / 200
 * updated / 300 several matches), describe, get updated / get deleted, sObject Collections
 * (≤200 records, `allOrNone`, results in request order), query / queryAll with paging, limits.
 */
import { Router, type Request, type Response } from 'express';
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
import { context, methodNotAllowed, param, queryParam, sendJson, type RequestContext } from './common';

const MAX_COLLECTION = 200;

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

function bodyRecord(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
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

function replicationWindow(req: Request, ctx: RequestContext): { start: number; end: number } {
  const rawStart = queryParam(req, 'start');
  const rawEnd = queryParam(req, 'end');
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

function batchSize(req: Request): number {
  const header = req.get('sforce-query-options') ?? '';
  const match = /batchSize\s*=\s*(\d+)/i.exec(header);
  if (!match) return 2000;
  return Math.min(2000, Math.max(200, Number(match[1])));
}

export function restRouter(): Router {
  const router = Router({ mergeParams: true });

  router.get('/', (_req, res) => {
    const { version } = context(res);
    const base = `/services/data/v${version}`;
    sendJson(res, 200, {
      sobjects: `${base}/sobjects`,
      query: `${base}/query`,
      queryAll: `${base}/queryAll`,
      composite: `${base}/composite`,
      limits: `${base}/limits`,
      'jobs/ingest': `${base}/jobs/ingest`,
    });
  });

  router.get('/limits', (_req, res) => {
    sendJson(res, 200, context(res).org.limits.resource());
  });

  router.get('/sobjects', (_req, res) => {
    const ctx = context(res);
    sendJson(res, 200, {
      encoding: 'UTF-8',
      maxBatchSize: 200,
      sobjects: [...ctx.org.schema.objects.values()]
        .filter((o) => ctx.access.canAccessObject(o))
        .map((o) => describeGlobalEntry(ctx.access.view(o), ctx.version)),
    });
  });

  router.get('/sobjects/:type/describe', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    const ids = (name: string): string[] =>
      [...ctx.org.db.table(name).rows.values()]
        .filter((r) => r.IsDeleted !== true)
        .map((r) => r.Id as string);
    sendJson(res, 200, describeObject(object, ctx.version, ids));
  });

  router.get('/sobjects/:type/updated', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    if (!object.replicateable)
      throw new ApiError(400, 'INVALID_TYPE', `sObject type '${object.name}' is not replicable`);
    const { start, end } = replicationWindow(req, ctx);
    const ids: string[] = [];
    for (const row of ctx.org.db.table(object.name).rows.values()) {
      const stamp = row.SystemModstamp as number;
      if (row.IsDeleted !== true && stamp >= start && stamp < end && ctx.access.canSee(object, row))
        ids.push(row.Id as string);
    }
    sendJson(res, 200, { ids, latestDateCovered: formatDateTime(end) });
  });

  router.get('/sobjects/:type/deleted', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    if (!object.replicateable)
      throw new ApiError(400, 'INVALID_TYPE', `sObject type '${object.name}' is not replicable`);
    const { start, end } = replicationWindow(req, ctx);
    const table = ctx.org.db.table(object.name);
    const deletedRecords: { id: string; deletedDate: string }[] = [];
    for (const [id, at] of table.deletedAt) {
      const row = table.get(id);
      if (at >= start && at < end && row?.IsDeleted === true && ctx.access.canSee(object, row)) {
        deletedRecords.push({ id, deletedDate: formatDateTime(at) });
      }
    }
    sendJson(res, 200, {
      deletedRecords,
      earliestDateAvailable: formatDateTime(Math.floor(ctx.org.createdAt / 60_000) * 60_000),
      latestDateCovered: formatDateTime(end),
    });
  });

  router.get('/sobjects/:type', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    sendJson(res, 200, { objectDescribe: describeGlobalEntry(object, ctx.version), recentItems: [] });
  });

  router.post('/sobjects/:type', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    if (!object.createable) throw methodNotAllowed('POST', ['HEAD', 'GET']);
    const input = singleInput(object, bodyRecord(req));
    const [result] = ctx.org.db.transaction(ctx.user, (tx) =>
      tx.insert(object.name, [input], dmlOptions(ctx, true)),
    );
    failOnErrors(result!);
    sendJson(res, 201, wireResult(object, result!));
  });

  router.all('/sobjects/:type/:id', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    const allowed = rowAllowed(object);
    const method = req.method.toUpperCase();
    if (!allowed.includes(method)) throw methodNotAllowed(method, allowed);
    const row = findRow(ctx, object, param(req, 'id'), method === 'GET' || method === 'HEAD');
    const id = row.Id as string;
    if (method === 'GET' || method === 'HEAD') {
      sendJson(
        res,
        200,
        recordJson(object, row, ctx.version, selectedFields(object, queryParam(req, 'fields'))),
      );
      return;
    }
    if (method === 'PATCH') {
      const input = singleInput(object, bodyRecord(req));
      const [result] = ctx.org.db.transaction(ctx.user, (tx) =>
        tx.update(object.name, [{ id, input }], dmlOptions(ctx, true)),
      );
      failOnErrors(result!);
      res.status(204).end();
      return;
    }
    const [result] = ctx.org.db.transaction(ctx.user, (tx) => tx.delete([id], dmlOptions(ctx, true)));
    failOnErrors(result!);
    res.status(204).end();
  });

  router.all('/sobjects/:type/:field/:value', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    const fieldName = param(req, 'field');
    const value = param(req, 'value');
    const def = object.index.get(fieldName.toLowerCase());
    if (!def || !(def.externalId || def.idLookup)) {
      throw new ApiError(
        404,
        'NOT_FOUND',
        `Provided external ID field does not exist or is not accessible: ${fieldName}`,
      );
    }
    const table = ctx.org.db.table(object.name);
    const method = req.method.toUpperCase();
    const all =
      def.name === 'Id'
        ? [canonicalId(value) ?? ''].filter((id) => table.get(id)?.IsDeleted === false)
        : table.lookup(def, value);
    // Reads and deletes see only the user's records; an upsert matches on every record and the
    // DML layer refuses one the user cannot edit.
    const matches = method === 'PATCH' ? all : all.filter((id) => ctx.access.canSee(object, table.get(id)!));
    if (matches.length > 1) {
      sendJson(
        res,
        300,
        matches.map((id) => recordUrl(ctx.version, object.name, id)),
      );
      return;
    }
    if (method === 'GET' || method === 'HEAD') {
      if (!matches.length) throw notFound();
      sendJson(
        res,
        200,
        recordJson(
          object,
          table.get(matches[0]!)!,
          ctx.version,
          selectedFields(object, queryParam(req, 'fields')),
        ),
      );
      return;
    }
    if (method === 'DELETE') {
      if (!object.deletable) throw methodNotAllowed('DELETE', ['HEAD', 'GET', 'PATCH']);
      if (!matches.length) throw notFound();
      const [result] = ctx.org.db.transaction(ctx.user, (tx) =>
        tx.delete([matches[0]!], dmlOptions(ctx, true)),
      );
      failOnErrors(result!);
      res.status(204).end();
      return;
    }
    if (method !== 'PATCH') throw methodNotAllowed(method, ['HEAD', 'GET', 'PATCH', 'DELETE']);
    const body = bodyRecord(req);
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
    const [result] = ctx.org.db.transaction(ctx.user, (tx) =>
      tx.upsert(object.name, def.name, [input], dmlOptions(ctx, true)),
    );
    failOnErrors(result!);
    const body200 = { id: result!.id, success: true, errors: [], created: result!.created === true };
    if (result!.created) sendJson(res, 201, body200);
    else if (Number(ctx.version) >= 46) sendJson(res, 200, body200);
    else res.status(204).end();
  });

  // sObject Collections
  const collectionRecords = (req: Request): { allOrNone: boolean; records: Record<string, unknown>[] } => {
    const body = bodyRecord(req);
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
  };

  const typeOfRecord = (
    ctx: RequestContext,
    record: Record<string, unknown>,
    fallback?: string,
  ): ObjectDef | RecordError => {
    const attributes = record.attributes as { type?: unknown } | undefined;
    const name = typeof attributes?.type === 'string' ? attributes.type : fallback;
    if (!name) return recordError('INVALID_TYPE', 'sObject type is required in attributes', []);
    const object = ctx.org.schema.object(name);
    return object && ctx.access.canAccessObject(object)
      ? ctx.access.view(object)
      : recordError('INVALID_TYPE', `sObject type '${name}' is not supported.`, []);
  };

  const groupResults = (
    ctx: RequestContext,
    records: Record<string, unknown>[],
    allOrNone: boolean,
    fallbackType: string | undefined,
    apply: (
      tx: Transaction,
      object: ObjectDef,
      items: { index: number; record: Record<string, unknown> }[],
    ) => SaveResult[],
  ): Record<string, unknown>[] => {
    const results: (Record<string, unknown> | undefined)[] = new Array(records.length);
    ctx.org.db.transaction(ctx.user, (tx) => {
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
  };

  router.post('/composite/sobjects', (req, res) => {
    const ctx = context(res);
    const { allOrNone, records } = collectionRecords(req);
    const results = groupResults(ctx, records, allOrNone, undefined, (tx, object, items) =>
      tx.insert(
        object.name,
        items.map((item) => parseJsonRecord(object, item.record)),
        dmlOptions(ctx, false),
      ),
    );
    sendJson(res, 200, results);
  });

  router.patch('/composite/sobjects', (req, res) => {
    const ctx = context(res);
    const { allOrNone, records } = collectionRecords(req);
    const results = groupResults(ctx, records, allOrNone, undefined, (tx, object, items) =>
      tx.update(
        object.name,
        items.map((item) => {
          const { id, Id, ...rest } = item.record;
          const rawId = Id ?? id;
          const input = parseJsonRecord(object, rest);
          if (typeof rawId !== 'string' || !rawId)
            input.errors.push(recordError('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']));
          return { id: typeof rawId === 'string' ? rawId : '', input };
        }),
        dmlOptions(ctx, false),
      ),
    );
    sendJson(res, 200, results);
  });

  router.patch('/composite/sobjects/:type/:field', (req, res) => {
    const ctx = context(res);
    if (Number(ctx.version) < 46) throw notFound();
    const object = objectOf(ctx, param(req, 'type'));
    const field = param(req, 'field');
    const { allOrNone, records } = collectionRecords(req);
    const results = groupResults(ctx, records, allOrNone, object.name, (tx, target, items) =>
      tx.upsert(
        target.name,
        field,
        items.map((item) => parseJsonRecord(target, item.record)),
        dmlOptions(ctx, false),
      ),
    );
    sendJson(res, 200, results);
  });

  router.delete('/composite/sobjects', (req, res) => {
    const ctx = context(res);
    const ids = (queryParam(req, 'ids') ?? '').split(',').filter(Boolean);
    if (!ids.length) throw new ApiError(400, 'MISSING_ARGUMENT', 'ids parameter is required');
    if (ids.length > MAX_COLLECTION) {
      throw new ApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 200 records into this call',
      );
    }
    const allOrNone = queryParam(req, 'allOrNone') === 'true';
    const results = ctx.org.db.transaction(ctx.user, (tx) => tx.delete(ids, dmlOptions(ctx, allOrNone)));
    sendJson(
      res,
      200,
      results.map((r) => wireResult(undefined, r)),
    );
  });

  router.post('/composite/sobjects/:type', (req, res) => {
    const ctx = context(res);
    const object = objectOf(ctx, param(req, 'type'));
    const body = bodyRecord(req);
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
    sendJson(
      res,
      200,
      ids.map((raw) => {
        const id = canonicalId(raw);
        const row = id ? table.get(id) : undefined;
        return row && row.IsDeleted !== true && ctx.access.canSee(object, row)
          ? recordJson(object, row, ctx.version, defs)
          : null;
      }),
    );
  });

  // Query
  const runQuery = (req: Request, res: Response, resource: 'query' | 'queryAll'): void => {
    const ctx = context(res);
    const q = queryParam(req, 'q');
    if (!q) throw new ApiError(400, 'MALFORMED_QUERY', 'A query string must be provided (parameter q)');
    try {
      // SOQL binds against the user's view of the schema (FLS) and sees only their records.
      const compiled = compileQuery(q, ctx.access.schemaView(), ctx.org.db, ctx.org.clock.now());
      const object = compiled.object;
      const rows = executeQuery(compiled, ctx.org.db, resource === 'queryAll', (row) =>
        ctx.access.canSee(object, row),
      );
      sendJson(res, 200, ctx.org.queries.first(compiled, rows, resource, ctx.version, batchSize(req)));
    } catch (error) {
      if (error instanceof SoqlError) throw new ApiError(400, error.errorCode, error.message);
      throw error;
    }
  };
  router.get('/query', (req, res) => runQuery(req, res, 'query'));
  router.get('/queryAll', (req, res) => runQuery(req, res, 'queryAll'));
  const nextPage = (req: Request, res: Response): void => {
    const ctx = context(res);
    sendJson(res, 200, ctx.org.queries.next(param(req, 'locator'), ctx.version, batchSize(req)));
  };
  router.get('/query/:locator', nextPage);
  router.get('/queryAll/:locator', nextPage);

  return router;
}
