/**
 * Shared pieces of the HTTP layer: the per-request context (org, API version, running user,
 * injected faults), JSON answers in Salesforce's content type, and route categories.
 */
import type { Request, Response } from 'express';
import { ApiError } from '../errors';
import type { RunAs, Transaction } from '../data/database';
import type { UserAccess } from '../security/access';
import type { RequestFaults, RouteCategory } from '../faults';
import type { SalesforceOrg } from '../org';

export interface RequestContext {
  org: SalesforceOrg;
  version: string;
  user: RunAs;
  /** The session user's permissions and record access. */
  access: UserAccess;
  faults: RequestFaults;
  /**
   * The transaction a Composite request runs its subrequests in (http/composite.ts): DML joins
   * it instead of committing on its own, so `allOrNone` can roll the whole request back.
   */
  tx?: Transaction;
}

export function context(res: Response): RequestContext {
  return res.locals.sf as RequestContext;
}

/** The access token of `Authorization: Bearer …` (or `OAuth …`, as older clients send it). */
export function bearer(req: Request): string | undefined {
  const header = req.get('authorization');
  const match = header ? /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).type('application/json;charset=UTF-8').send(JSON.stringify(body));
}

/** The API version of `/services/data/vNN.0/...`, checked against what the org serves. */
export function parseVersion(raw: string | undefined, max: string): string {
  const match = raw ? /^v(\d{2})\.0$/.exec(raw) : null;
  const n = match ? Number(match[1]) : NaN;
  if (!match || n < 31 || n > Number(max))
    throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
  return `${n}.0`;
}

/** Which limit/fault category a `/services/data/vNN.0/...` path belongs to. */
export function categorize(rest: string): RouteCategory {
  if (/^\/sobjects\/?$/.test(rest) || /^\/sobjects\/[^/]+\/describe\/?$/.test(rest)) return 'describe';
  if (/^\/sobjects\/[^/]+\/(updated|deleted)\/?$/.test(rest)) return 'replication';
  if (rest.startsWith('/sobjects')) return 'sobjects';
  if (rest.startsWith('/composite')) return 'composite';
  if (rest.startsWith('/query') || rest.startsWith('/queryAll')) return 'query';
  if (rest.startsWith('/jobs/ingest')) return 'bulk2';
  if (rest.startsWith('/limits')) return 'limits';
  return 'other';
}

export function param(req: Request, name: string): string {
  const value = (req.params as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join('/') : (value ?? '');
}

export function queryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

export function methodNotAllowed(method: string, allowed: string[]): ApiError {
  return new ApiError(
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`,
    undefined,
    {
      Allow: allowed.join(', '),
    },
  );
}
