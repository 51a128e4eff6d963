/**
 * The retry policy as plain data, and the pure functions that apply it. Kept apart from the
 * client so the rules can be read in one place and tested without a network.
 *
 * Rules: only requests that are safe to repeat are retried (GET/HEAD/PUT/DELETE/OPTIONS, a PATCH
 * carrying `If-Match`, a POST only with its `Idempotency-Key`). `429`/`503` wait for `Retry-After`
 * when the server sends one; other retryable statuses, network errors and timeouts back off
 * exponentially with jitter (AWS "full jitter": a uniform delay in [0, min(cap, base·2ⁿ))).
 */

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 disables retries. */
  maxAttempts: number;
  /** Backoff before the first retry (before jitter). */
  baseDelayMs: number;
  /** Cap of the exponential backoff (before jitter). */
  maxDelayMs: number;
  /** `full`: uniform in [0, d); `equal`: d/2 + uniform in [0, d/2); `none`: d. */
  jitter: 'full' | 'equal' | 'none';
  /** Statuses worth another attempt. */
  retryStatuses: readonly number[];
  /** Statuses whose `Retry-After` header is honoured (instead of the backoff). */
  retryAfterStatuses: readonly number[];
  /** A `Retry-After` longer than this ends the retries now: the caller reschedules the work. */
  maxRetryAfterMs: number;
  /** Retry connection failures (refused, reset) of idempotent requests. */
  retryNetworkErrors: boolean;
  /** Retry per-request timeouts of idempotent requests. */
  retryTimeouts: boolean;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  jitter: 'full',
  retryStatuses: Object.freeze([408, 429, 500, 502, 503, 504]),
  retryAfterStatuses: Object.freeze([429, 503]),
  maxRetryAfterMs: 60_000,
  retryNetworkErrors: true,
  retryTimeouts: true,
});

/** Fills a partial policy with the defaults and rejects nonsense early. */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...partial };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1)
    throw new RangeError('retry.maxAttempts must be an integer ≥ 1');
  if (!(policy.baseDelayMs >= 0) || !(policy.maxDelayMs >= policy.baseDelayMs))
    throw new RangeError('retry delays must satisfy 0 ≤ baseDelayMs ≤ maxDelayMs');
  if (!(policy.maxRetryAfterMs >= 0)) throw new RangeError('retry.maxRetryAfterMs must be ≥ 0');
  return policy;
}

/** What the request was, as far as the decision to repeat it goes. */
export interface RetryableRequest {
  method: string;
  hasIdempotencyKey: boolean;
  hasIfMatch: boolean;
}

/**
 * True when sending the request twice cannot apply it twice. A PATCH with `If-Match` is safe: a
 * second copy finds the version moved on and gets `409`, it never changes the record again.
 */
export function isRepeatable(request: RetryableRequest): boolean {
  switch (request.method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
      return true;
    case 'PATCH':
      return request.hasIfMatch;
    case 'POST':
      return request.hasIdempotencyKey;
    default:
      return false;
  }
}

/** How an attempt ended. */
export type AttemptOutcome =
  { kind: 'status'; status: number; retryAfterMs?: number } | { kind: 'network' } | { kind: 'timeout' };

export type RetryDecision =
  { retry: true; delayMs: number; reason: string } | { retry: false; reason: string };

/**
 * Decides whether to try again after attempt number `attempt` (1-based) ended with `outcome`.
 * `random` returns a number in [0, 1) (injected for tests).
 */
export function decideRetry(
  policy: RetryPolicy,
  request: RetryableRequest,
  attempt: number,
  outcome: AttemptOutcome,
  random: () => number = Math.random,
): RetryDecision {
  if (attempt >= policy.maxAttempts) return { retry: false, reason: `gave up after ${attempt} attempts` };
  if (!isRepeatable(request))
    return { retry: false, reason: `${request.method} without a safeguard is not repeated` };

  if (outcome.kind === 'network') {
    return policy.retryNetworkErrors
      ? { retry: true, delayMs: backoffDelay(policy, attempt, random), reason: 'network error' }
      : { retry: false, reason: 'network errors are not retried' };
  }
  if (outcome.kind === 'timeout') {
    return policy.retryTimeouts
      ? { retry: true, delayMs: backoffDelay(policy, attempt, random), reason: 'timeout' }
      : { retry: false, reason: 'timeouts are not retried' };
  }

  const { status, retryAfterMs } = outcome;
  // 409 to a keyed POST means "the first copy is still running": wait and ask again.
  const keyInUse = status === 409 && request.method.toUpperCase() === 'POST' && request.hasIdempotencyKey;
  if (!keyInUse && !policy.retryStatuses.includes(status))
    return { retry: false, reason: `status ${status} is final` };
  if (retryAfterMs !== undefined && policy.retryAfterStatuses.includes(status)) {
    if (retryAfterMs > policy.maxRetryAfterMs)
      return { retry: false, reason: `Retry-After ${retryAfterMs} ms exceeds ${policy.maxRetryAfterMs} ms` };
    return { retry: true, delayMs: retryAfterMs, reason: `status ${status}, Retry-After` };
  }
  return { retry: true, delayMs: backoffDelay(policy, attempt, random), reason: `status ${status}` };
}

/** Backoff before retry number `retry` (1 = the first retry), with the policy's jitter. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  switch (policy.jitter) {
    case 'none':
      return exponential;
    case 'equal':
      return Math.floor(exponential / 2 + random() * (exponential / 2));
    case 'full':
      return Math.floor(random() * exponential);
  }
}

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. Returns milliseconds
 * from `nowMs`, never negative; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its month in letters; anything else ("-3", "2026") is not one.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
