/**
 * `POST /services/data/vNN.0/composite` (REST API Developer Guide, "Send Multiple Requests Using
 * Composite", "Composite Request Body", "Composite Subrequest Result", "allOrNone Parameters in
 * Composite and Collections Requests"): "Executes a series of REST API requests in a single call
 * … The entire series of requests counts as a single call toward your API limits."
 *
 * - Each subrequest is dispatched to the same handler a direct call reaches (`matchRestRoute`,
 *   http/rest.ts), as the same session user (sharing, object and field access), with the
 *   faults its own route would draw; the whole request is one API call (it passed the limits
 *   check in http/app.ts as `composite`; subrequests are only counted in `limits.snapshot()
 *   .compositeSubrequests`).
 * - Limits: "You can have up to 25 subrequests in a single call. Up to 5 of these subrequests can
 *   be sObject Collections or query operations, including Query and QueryAll requests."
 * - Resources: "All sObject resources (/services/data/vXX.X/sobjects/) …, The Query resource …,
 *   The QueryAll resource …, The sObject Collections resource (/services/data/vXX.X/composite/
 *   sobjects). Available in API version 43.0 and later."
 * - Subrequest: `method` ("POST, PUT, PATCH, GET, and DELETE (case-sensitive)"), `url` ("must
 *   start with /services/data/vXX.X/"; "The query string must be URL-encoded"), `referenceId`
 *   ("must start with a letter or a number", "must not contain anything besides letters,
 *   numbers, or underscores"; "In API version 52.0 and later, any illegal characters in
 *   reference IDs cause the whole request to fail"), `body`, `httpHeaders` (not Accept,
 *   Authorization or Content-Type: "If you do, the top-level request fails and returns an HTTP
 *   400 response").
 * - References `@{referenceId.field}` / `@{referenceId.list[0].field}` in a later subrequest's
 *   url or body; case-sensitive; a reference with no value halts that subrequest with
 *   PROCESSING_HALTED "Invalid reference specified. No value for … found in …" (a null value
 *   does too below API 52.0; "In API version 52.0 and later, the request succeeds").
 * - `allOrNone` true: "the entire composite request is rolled back": the failing subrequest keeps
 *   its own answer, "all other subrequests return the 400 HTTP status code" (PROCESSING_HALTED,
 *   "The transaction was rolled back since another operation in the same transaction failed.");
 *   it also overrides each sObject Collections subrequest's own `allOrNone`. False: "the
 *   remaining subrequests that don't depend on the failed subrequest are executed. Dependent
 *   subrequests aren't executed." Either way the request answers 200 with `compositeResponse`
 *   `[{ body, httpHeaders, httpStatusCode, referenceId }]`, in request order.
 * - `collateSubrequests` (API 48.0+; default true from 49.0): "the order of execution is not
 *   guaranteed (unless there is an explicit dependency between the subrequests)". Collated here:
 *   subrequests with the same method and API version on `/sobjects` resources, without headers
 *   or references, run together (up to five) when the first of them runs — so a later one runs
 *   before the subrequests listed between them.
 *
 * What no document settled is chosen strictly and listed in the README ("Composite").
 */
import { Router, type Request } from 'express';
import { ApiError, invalidSession } from '../errors';
import type { RequestFaults } from '../faults';
import { categorize, bearer, context, parseVersion, sendJson, type RequestContext } from './common';
import { matchRestRoute, type CompositeUse, type RestAnswer } from './rest';

/** "You can have up to 25 subrequests in a single call." */
export const MAX_SUBREQUESTS = 25;
/** "Up to 5 of these subrequests can be sObject Collections or query operations." */
export const MAX_COLLECTIONS_OR_QUERIES = 5;
/** "No more than five sObjects resources are present across a grouping of subrequests." */
const MAX_COLLATED = 5;

const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'];
const INHERITED_HEADERS = ['accept', 'authorization', 'content-type'];
const REFERENCE_ID = /^[A-Za-z0-9][A-Za-z0-9_]*$/;
const REFERENCE = /@\{([^}.[\]]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}/g;

const ROLLED_BACK = 'The transaction was rolled back since another operation in the same transaction failed.';

interface Subrequest {
  index: number;
  method: string;
  url: string;
  referenceId: string;
  body: unknown;
  headers: Record<string, string>;
  /** The url's API version. */
  version: string;
  /** The path under the version, as written (references unresolved). */
  path: string;
  use: CompositeUse;
}

interface Subresponse {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

const invalid = (message: string): ApiError => new ApiError(400, 'INVALID_INPUT', message);

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Salesforce's JSON parser refuses fields a request body does not define. */
function onlyFields(value: Record<string, unknown>, allowed: string[], where: string): void {
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name))
      throw new ApiError(400, 'JSON_PARSER_ERROR', `Unrecognized field "${name}" in ${where}`);
  }
}

/** What a subrequest's url reaches: only sObject, Query/QueryAll and sObject Collections resources. */
function compositeUse(path: string): CompositeUse {
  if (/^\/sobjects(\/|$)/i.test(path)) return 'sobjects';
  if (/^\/query(all)?(\/|$)/i.test(path)) return 'query';
  if (/^\/composite\/sobjects(\/|$)/i.test(path)) return 'collections';
  return 'no';
}

/** Checks the whole request before anything runs: any problem here fails it as a whole (400). */
function parseRequest(
  ctx: RequestContext,
  raw: unknown,
): { allOrNone: boolean; collate: boolean; subrequests: Subrequest[] } {
  if (!isObject(raw)) throw new ApiError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
  const version = Number(ctx.version);
  onlyFields(
    raw,
    version >= 48
      ? ['allOrNone', 'collateSubrequests', 'compositeRequest']
      : ['allOrNone', 'compositeRequest'],
    'the composite request',
  );
  const { allOrNone = false, collateSubrequests = version >= 49, compositeRequest } = raw;
  if (typeof allOrNone !== 'boolean' || typeof collateSubrequests !== 'boolean')
    throw new ApiError(400, 'JSON_PARSER_ERROR', 'allOrNone and collateSubrequests must be booleans');
  if (!Array.isArray(compositeRequest) || compositeRequest.length === 0)
    throw new ApiError(400, 'JSON_PARSER_ERROR', 'compositeRequest must be a non-empty list of subrequests');
  if (compositeRequest.length > MAX_SUBREQUESTS)
    throw new ApiError(
      400,
      'LIMIT_EXCEEDED',
      `A composite request can have up to ${MAX_SUBREQUESTS} subrequests; this one has ${compositeRequest.length}`,
    );
  const seen = new Set<string>();
  const subrequests = compositeRequest.map((item: unknown, index): Subrequest => {
    if (!isObject(item))
      throw new ApiError(400, 'JSON_PARSER_ERROR', 'Each subrequest must be a JSON object');
    onlyFields(item, ['body', 'httpHeaders', 'method', 'referenceId', 'url'], 'a subrequest');
    const { method, url, referenceId, body, httpHeaders = {} } = item;
    if (typeof method !== 'string' || !METHODS.includes(method))
      throw invalid(`Subrequest ${index}: method must be one of ${METHODS.join(', ')} (case-sensitive)`);
    if (typeof referenceId !== 'string' || !REFERENCE_ID.test(referenceId))
      throw invalid(
        `Provided referenceId ('${String(referenceId)}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').`,
      );
    if (seen.has(referenceId)) throw invalid(`Duplicate referenceId '${referenceId}'`);
    seen.add(referenceId);
    if (!isObject(httpHeaders) || Object.values(httpHeaders).some((value) => typeof value !== 'string'))
      throw new ApiError(400, 'JSON_PARSER_ERROR', 'httpHeaders must map header names to strings');
    const inherited = Object.keys(httpHeaders).find((name) => INHERITED_HEADERS.includes(name.toLowerCase()));
    if (inherited)
      throw invalid(
        `Subrequest '${referenceId}': the ${inherited} header is inherited from the composite request and cannot be set`,
      );
    const match = typeof url === 'string' ? /^\/services\/data\/(v[^/?]+)(\/[^?]*)?(\?.*)?$/.exec(url) : null;
    if (!match) throw invalid(`Subrequest '${referenceId}': the url must start with /services/data/vXX.X/`);
    let subVersion: string;
    try {
      subVersion = parseVersion(match[1], ctx.org.options.apiVersion);
    } catch {
      throw invalid(`Subrequest '${referenceId}': ${match[1]} is not an API version this org serves`);
    }
    // The Composite Batch resource documents it ("no later than the Batch version in the
    // top-level request"); Composite is held to the same.
    if (Number(subVersion) > version)
      throw invalid(
        `Subrequest '${referenceId}': API version ${subVersion} is later than the request's ${ctx.version}`,
      );
    const path = match[2] || '/';
    const use = compositeUse(path);
    if (use === 'no')
      throw invalid(
        `Subrequest '${referenceId}': ${path} is not supported in a composite request (sObject, Query, QueryAll and sObject Collections resources only)`,
      );
    if (use === 'collections' && Math.min(version, Number(subVersion)) < 43)
      throw invalid(`Subrequest '${referenceId}': sObject Collections need API version 43.0 or later`);
    return {
      index,
      method,
      url: url as string,
      referenceId,
      body,
      headers: httpHeaders as Record<string, string>,
      version: subVersion,
      path,
      use,
    };
  });
  const heavy = subrequests.filter((sub) => sub.use === 'collections' || sub.use === 'query').length;
  if (heavy > MAX_COLLECTIONS_OR_QUERIES)
    throw new ApiError(
      400,
      'LIMIT_EXCEEDED',
      `Up to ${MAX_COLLECTIONS_OR_QUERIES} subrequests can be sObject Collections or query operations; this request has ${heavy}`,
    );
  return { allOrNone, collate: collateSubrequests, subrequests };
}

const hasReference = (value: unknown): boolean => JSON.stringify(value ?? null).includes('@{');

/**
 * The order subrequests run in. Without collation, as listed. With it, a collatable subrequest
 * (same method and version, an `/sobjects` resource, no headers, no references) runs together
 * with the first one of its kind still open (up to five): later ones move ahead.
 */
function executionOrder(subrequests: Subrequest[], collate: boolean): number[] {
  if (!collate) return subrequests.map((sub) => sub.index);
  const collatable = (sub: Subrequest) =>
    sub.use === 'sobjects' &&
    Object.keys(sub.headers).length === 0 &&
    !sub.url.includes('@{') &&
    !hasReference(sub.body);
  const groups: { key: string; members: number[] }[] = [];
  const order: number[] = [];
  const leaderOf = new Map<number, { key: string; members: number[] }>();
  for (const sub of subrequests) {
    if (!collatable(sub)) continue;
    const key = `${sub.method} ${sub.version}`;
    let group = groups.find((g) => g.key === key && g.members.length < MAX_COLLATED);
    if (!group) {
      group = { key, members: [] };
      groups.push(group);
      leaderOf.set(sub.index, group);
    }
    group.members.push(sub.index);
  }
  const grouped = new Set(groups.flatMap((g) => g.members));
  for (const sub of subrequests) {
    const group = leaderOf.get(sub.index);
    if (group) order.push(...group.members);
    else if (!grouped.has(sub.index)) order.push(sub.index);
  }
  return order;
}

type Lookup = { value: unknown } | { missing: string };
/** A referenced value: the referenceable types are primitives. */
type Referenced = { value: string | number | boolean | null } | { missing: string };

/** The value `@{ref.path}` names in an earlier subrequest's answer. */
function lookup(results: Map<string, Subresponse>, ref: string, path: string, version: number): Referenced {
  const expression = `${ref}${path}`;
  const noValue = (): Referenced => ({
    missing:
      version >= 52
        ? `Invalid reference specified. No value for ${expression} found in ${ref}.`
        : `Invalid reference specified. No value for ${expression} found in ${ref}. Provided referenceId ('${expression}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').`,
  });
  const answer = results.get(ref);
  if (!answer) return noValue();
  let current: unknown = answer.body;
  for (const step of path.match(/\.[A-Za-z0-9_]+|\[\d+\]/g) ?? []) {
    if (current === null || typeof current !== 'object') return noValue();
    const key = step.startsWith('[') ? Number(step.slice(1, -1)) : step.slice(1);
    if (step.startsWith('[') !== Array.isArray(current)) return noValue();
    if (!Object.prototype.hasOwnProperty.call(current, key)) return noValue();
    current = (current as Record<string | number, unknown>)[key];
  }
  // "The referenceable types are DateTime, String, Boolean, Byte, Character, Short, Integer,
  // Long, Double, and Float"; a null is a value from API 52.0 on.
  if (current === null) return version >= 52 ? { value: null } : noValue();
  if (typeof current !== 'string' && typeof current !== 'number' && typeof current !== 'boolean')
    return noValue();
  return { value: current };
}

/** Replaces the references in a string; a string that is one reference takes the value's type. */
function resolveString(
  text: string,
  resolve: (ref: string, path: string) => Referenced,
  encode: boolean,
): { value: unknown } | { missing: string } {
  const whole = new RegExp(`^${REFERENCE.source}$`).exec(text);
  if (whole && !encode) return resolve(whole[1]!, whole[2] ?? '');
  let missing: string | undefined;
  const replaced = text.replace(REFERENCE, (_token, ref: string, path: string) => {
    const found = resolve(ref, path);
    if ('missing' in found) {
      missing ??= found.missing;
      return '';
    }
    const value = found.value === null ? '' : String(found.value);
    return encode ? encodeURIComponent(value) : value;
  });
  return missing === undefined ? { value: replaced } : { missing };
}

function resolveBody(value: unknown, resolve: (ref: string, path: string) => Referenced): Lookup {
  if (typeof value === 'string') return resolveString(value, resolve, false);
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) {
      const found = resolveBody(item, resolve);
      if ('missing' in found) return found;
      items.push(found.value);
    }
    return { value: items };
  }
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const found = resolveBody(item, resolve);
      if ('missing' in found) return found;
      out[key] = found.value;
    }
    return { value: out };
  }
  return { value };
}

const halted = (referenceId: string, message: string): Subresponse => ({
  body: [{ errorCode: 'PROCESSING_HALTED', message }],
  httpHeaders: {},
  httpStatusCode: 400,
  referenceId,
});

function fromAnswer(referenceId: string, answer: RestAnswer): Subresponse {
  return {
    // "The Composite resource doesn't support the Content-Length header".
    body: answer.body ?? null,
    httpHeaders: answer.headers ?? {},
    httpStatusCode: answer.status,
    referenceId,
  };
}

/** A subrequest failed: an error status, or (under an all-or-none request) a collection record refused. */
function failed(sub: Subrequest, response: Subresponse): boolean {
  if (response.httpStatusCode >= 400) return true;
  return (
    sub.use === 'collections' &&
    Array.isArray(response.body) &&
    response.body.some((result) => isObject(result) && result.success === false)
  );
}

/**
 * Runs one subrequest through the route a direct call reaches. The answer of an error a direct
 * call would have sent (ApiError) is the subrequest's answer; anything else is the emulator's
 * own failure and fails the whole request.
 */
function dispatch(
  ctx: RequestContext,
  sub: Subrequest,
  url: string,
  body: unknown,
  faults: RequestFaults,
  forceAllOrNone: boolean,
): RestAnswer {
  const parsed = new URL(url, 'http://composite.invalid');
  const path = parsed.pathname.replace(/^\/services\/data\/v[^/]+/, '') || '/';
  const query: Record<string, string> = {};
  for (const [name, value] of parsed.searchParams) {
    if (name in query) delete query[name];
    else query[name] = value;
  }
  // "If the Composite request has allOrNone set to true, then the all-or-none behavior also
  // applies to each of the sObject Collections subrequests, overriding the value of allOrNone in
  // the subrequests."
  if (forceAllOrNone && sub.use === 'collections') {
    if (isObject(body) && (sub.method === 'POST' || sub.method === 'PATCH'))
      body = { ...body, allOrNone: true };
    if (sub.method === 'DELETE') query.allOrNone = 'true';
  }
  const subCtx: RequestContext = { ...ctx, version: sub.version, faults };
  try {
    const match = matchRestRoute(sub.method, path);
    if (!match) throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return match.handler(subCtx, {
      method: sub.method,
      path,
      params: match.params,
      query,
      body,
      header: (name) =>
        Object.entries(sub.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1],
    });
  } catch (error) {
    if (error instanceof ApiError) {
      return { status: error.status, body: error.body(), headers: error.headers };
    }
    throw error;
  }
}

/** A fault drawn for a subrequest's own route, answered as that route answers it directly. */
function faultAnswer(failure: RequestFaults['failure']): RestAnswer | undefined {
  if (failure === 'unavailable')
    return {
      status: 503,
      body: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'Service Unavailable' }],
    };
  if (failure === 'requestLimit')
    return {
      status: 403,
      body: new ApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.').body(),
    };
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export function compositeRouter(): Router {
  const router = Router({ mergeParams: true });

  router.post('/composite', async (req: Request, res) => {
    const ctx = context(res);
    const { allOrNone, collate, subrequests } = parseRequest(ctx, req.body);
    // Each subrequest draws the faults its own route would (its category and `METHOD /path`),
    // all before anything runs. A session that expires is the request's: the whole request
    // answers 401 and nothing is applied. Latency adds up.
    const faults = subrequests.map((sub) =>
      ctx.org.faults.forRequest(categorize(sub.path), sub.method, sub.path),
    );
    if (faults.some((fault) => fault.failure === 'sessionExpired')) {
      ctx.org.oauth.revoke(bearer(req) ?? '');
      throw invalidSession();
    }
    const wait = faults.reduce((sum, fault) => sum + fault.latencyMs, 0);
    if (wait) await sleep(wait);
    ctx.org.limits.countCompositeSubrequests(subrequests.length);

    const version = Number(ctx.version);
    const responses = new Array<Subresponse>(subrequests.length);
    // One transaction for the request: a failed subrequest's own work is rolled back to its
    // savepoint; under allOrNone everything is.
    ctx.org.db.transaction(ctx.user, (tx) => {
      const byReference = new Map<string, Subresponse>();
      let failure: number | undefined;
      for (const index of executionOrder(subrequests, collate)) {
        const sub = subrequests[index]!;
        if (allOrNone && failure !== undefined) break;
        const resolve = (ref: string, path: string) => lookup(byReference, ref, path, version);
        const url = resolveString(sub.url, resolve, true);
        const body = 'missing' in url ? url : resolveBody(sub.body, resolve);
        let response: Subresponse;
        if ('missing' in url || 'missing' in body) {
          response = halted(
            sub.referenceId,
            'missing' in url ? url.missing : (body as { missing: string }).missing,
          );
        } else {
          const savepoint = tx.savepoint();
          const refused = faultAnswer(faults[index]!.failure);
          response = fromAnswer(
            sub.referenceId,
            refused ??
              dispatch({ ...ctx, tx }, sub, url.value as string, body.value, faults[index]!, allOrNone),
          );
          if (response.httpStatusCode >= 400) tx.rollbackTo(savepoint);
        }
        responses[index] = response;
        byReference.set(sub.referenceId, response);
        if (failed(sub, response)) failure ??= index;
      }
      if (allOrNone && failure !== undefined) {
        tx.rollbackTo(0);
        for (const sub of subrequests)
          if (sub.index !== failure) responses[sub.index] = halted(sub.referenceId, ROLLED_BACK);
      }
    });
    sendJson(res, 200, { compositeResponse: responses });
  });

  return router;
}
