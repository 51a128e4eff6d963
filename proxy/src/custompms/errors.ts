/**
 * Every failure of the Custompms client is one of these classes, each with a stable `code` that
 * callers (jobs, the dead-letter view) branch on and log. `retryable` says whether trying the same
 * request again later can succeed; the client has already spent its own retries when one reaches
 * the caller.
 */
import type { CustompmsRecord, Problem } from './types';

/** Which request failed: method and path only, never headers (they carry the token). */
export interface RequestInfo {
  method: string;
  path: string;
}

export abstract class CustompmsError extends Error {
  /** Stable machine-readable identifier of the failure. */
  abstract readonly code: string;
  /** True when the same request may succeed later (after a wait), false when it never will. */
  readonly retryable: boolean = false;
  /** How many attempts the client made before giving up (1 = no retry). */
  attempts = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The client was built without a base URL or token. */
export class CustompmsConfigError extends CustompmsError {
  readonly code = 'CUSTOMPMS_CONFIG_INVALID';
}

/** The caller's AbortSignal fired (shutdown, job cancelled). */
export class CustompmsAbortedError extends CustompmsError {
  readonly code = 'CUSTOMPMS_ABORTED';
  override readonly retryable = true;
}

/** No answer within the per-request timeout. */
export class CustompmsTimeoutError extends CustompmsError {
  readonly code = 'CUSTOMPMS_TIMEOUT';
  override readonly retryable = true;
  constructor(
    readonly request: RequestInfo,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`Custompms ${request.method} ${request.path} timed out after ${timeoutMs} ms`, options);
  }
}

/** The connection failed (refused, reset, DNS, TLS) before a complete answer arrived. */
export class CustompmsNetworkError extends CustompmsError {
  readonly code = 'CUSTOMPMS_NETWORK_ERROR';
  override readonly retryable = true;
  constructor(
    readonly request: RequestInfo,
    options?: { cause?: unknown },
  ) {
    super(`Custompms ${request.method} ${request.path} failed: ${describeCause(options?.cause)}`, options);
  }
}

/** A 2xx answer that does not match the contract (bad JSON, missing field, wrong type). */
export class CustompmsInvalidResponseError extends CustompmsError {
  readonly code = 'CUSTOMPMS_INVALID_RESPONSE';
  constructor(
    readonly request: RequestInfo,
    readonly status: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Custompms ${request.method} ${request.path} answered ${status} outside the contract: ${detail}`,
      options,
    );
  }
}

/** Any non-2xx answer. Subclasses name the statuses the contract gives a meaning to. */
export class CustompmsHttpError extends CustompmsError {
  readonly code: string = 'CUSTOMPMS_HTTP_ERROR';
  constructor(
    readonly request: RequestInfo,
    readonly status: number,
    /** The problem+json body, when the server sent one. */
    readonly problem: Problem | undefined,
  ) {
    super(
      `Custompms ${request.method} ${request.path} answered ${status}` +
        (problem?.title ? ` ${problem.title}` : '') +
        (problem?.detail ? `: ${problem.detail}` : ''),
    );
  }
}

/** 400: the request was malformed (a client bug). */
export class CustompmsBadRequestError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_BAD_REQUEST';
}

/** 401: the token is missing, wrong or revoked. */
export class CustompmsUnauthorizedError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_UNAUTHORIZED';
}

/** 403: the token may not do this. */
export class CustompmsForbiddenError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_FORBIDDEN';
}

/** 404: no such record (or it was deleted). */
export class CustompmsNotFoundError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_NOT_FOUND';
}

/** 409 on a write with `If-Match`: the record moved on. `current` is how it is now. */
export class CustompmsConflictError<T extends CustompmsRecord = CustompmsRecord> extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_VERSION_CONFLICT';
  constructor(
    request: RequestInfo,
    problem: Problem | undefined,
    readonly expectedVersion: number,
    readonly current: T,
  ) {
    super(request, 409, problem);
    this.message += ` (expected version ${expectedVersion}, current ${current.version})`;
  }
}

/** 409 on a POST: an earlier request with the same `Idempotency-Key` is still being processed. */
export class CustompmsIdempotencyKeyInUseError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_IDEMPOTENCY_KEY_IN_USE';
  override readonly retryable = true;
}

/** 422 on a POST: the `Idempotency-Key` was used before with a different body. */
export class CustompmsIdempotencyKeyReusedError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_IDEMPOTENCY_KEY_REUSED';
}

/** 422: the body breaks the resource's rules; `errors` lists each offending member. */
export class CustompmsValidationError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_VALIDATION_FAILED';
  get errors(): { pointer: string; detail: string }[] {
    return (this.problem?.errors ?? []).map((error) => ({
      pointer: error.pointer ?? '',
      detail: error.detail ?? '',
    }));
  }
}

/** 428: a write that needs `If-Match` was sent without it (a client bug). */
export class CustompmsPreconditionRequiredError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_PRECONDITION_REQUIRED';
}

/** 429: rate limited. `retryAfterMs` is the server's `Retry-After`, when it sent one. */
export class CustompmsRateLimitedError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_RATE_LIMITED';
  override readonly retryable = true;
  constructor(
    request: RequestInfo,
    status: number,
    problem: Problem | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(request, status, problem);
  }
}

/** 503: temporarily unavailable. `retryAfterMs` is the server's `Retry-After`, when it sent one. */
export class CustompmsUnavailableError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_UNAVAILABLE';
  override readonly retryable = true;
  constructor(
    request: RequestInfo,
    status: number,
    problem: Problem | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(request, status, problem);
  }
}

/** Any other 5xx. */
export class CustompmsServerError extends CustompmsHttpError {
  override readonly code = 'CUSTOMPMS_SERVER_ERROR';
  override readonly retryable = true;
}

/** Every code the client can throw, for docs, dashboards and exhaustive handling. */
export const CUSTOMPMS_ERROR_CODES = [
  'CUSTOMPMS_CONFIG_INVALID',
  'CUSTOMPMS_ABORTED',
  'CUSTOMPMS_TIMEOUT',
  'CUSTOMPMS_NETWORK_ERROR',
  'CUSTOMPMS_INVALID_RESPONSE',
  'CUSTOMPMS_HTTP_ERROR',
  'CUSTOMPMS_BAD_REQUEST',
  'CUSTOMPMS_UNAUTHORIZED',
  'CUSTOMPMS_FORBIDDEN',
  'CUSTOMPMS_NOT_FOUND',
  'CUSTOMPMS_VERSION_CONFLICT',
  'CUSTOMPMS_IDEMPOTENCY_KEY_IN_USE',
  'CUSTOMPMS_IDEMPOTENCY_KEY_REUSED',
  'CUSTOMPMS_VALIDATION_FAILED',
  'CUSTOMPMS_PRECONDITION_REQUIRED',
  'CUSTOMPMS_RATE_LIMITED',
  'CUSTOMPMS_UNAVAILABLE',
  'CUSTOMPMS_SERVER_ERROR',
] as const;
export type CustompmsErrorCode = (typeof CUSTOMPMS_ERROR_CODES)[number];

export function isCustompmsError(error: unknown): error is CustompmsError {
  return error instanceof CustompmsError;
}

function describeCause(cause: unknown): string {
  // Duck-typed, not instanceof: undici's errors may come from another realm (jest's vm contexts).
  const message = (value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as Error).message === 'string'
      ? (value as Error).message
      : undefined;
  const outer = message(cause);
  if (outer === undefined) return String(cause);
  // undici wraps the socket error: "fetch failed", with the useful part in `cause`.
  const inner = (cause as { cause?: unknown }).cause;
  const innerMessage = message(inner);
  if (innerMessage === undefined) return outer;
  const code = (inner as { code?: unknown }).code;
  return `${outer} (${typeof code === 'string' ? `${code}: ` : ''}${innerMessage})`;
}
