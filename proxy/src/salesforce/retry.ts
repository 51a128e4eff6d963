/**
 * Retry policy as data (SALESFORCE.md "REST efficiency and errors"): lock contention, outages
 * and the daily limit back off and retry; validation errors never do. INVALID_SESSION_ID is not
 * here: jsforce's refresh delegate re-authenticates once and replays the request.
 */
import { normaliseSalesforceError, type SalesforceApiError } from './errors';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per error code: the minimum delay before retrying it (the daily limit needs a long pause). */
  retryable: Record<string, { minDelayMs: number }>;
  /**
   * Failures after which the request may or may not have been applied (the connection dropped,
   * a gateway gave up waiting): a create or an event publish is not retried after one of these,
   * since a lost answer would otherwise mean a duplicate record (a Division has no external id).
   */
  ambiguous: readonly string[];
}

export const SALESFORCE_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  retryable: {
    UNABLE_TO_LOCK_ROW: { minDelayMs: 200 },
    SERVER_UNAVAILABLE: { minDelayMs: 1_000 },
    ERROR_HTTP_502: { minDelayMs: 1_000 },
    ERROR_HTTP_503: { minDelayMs: 1_000 },
    ERROR_HTTP_504: { minDelayMs: 1_000 },
    NETWORK_ERROR: { minDelayMs: 1_000 },
    SALESFORCE_TIMEOUT: { minDelayMs: 1_000 },
    REQUEST_LIMIT_EXCEEDED: { minDelayMs: 10_000 },
  },
  ambiguous: ['NETWORK_ERROR', 'ERROR_HTTP_502', 'ERROR_HTTP_504', 'SALESFORCE_TIMEOUT'],
};

/**
 * Whether to try again. A call that is not idempotent (create, publish) is retried only after a
 * definite refusal (503, lock contention, limits: nothing was applied), never after an answer
 * that was lost on its way: the caller reconciles first (jobs/batches.ts, Divisions by name).
 */
export function isRetryable(policy: RetryPolicy, error: SalesforceApiError, idempotent = true): boolean {
  if (!idempotent && policy.ambiguous.includes(error.errorCode)) return false;
  return error.errorCode in policy.retryable;
}

/** Exponential backoff with full jitter, never below the code's minimum. */
export function retryDelayMs(
  policy: RetryPolicy,
  error: SalesforceApiError,
  attempt: number,
  random = Math.random,
): number {
  const floor = policy.retryable[error.errorCode]?.minDelayMs ?? 0;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.max(floor, Math.round(random() * ceiling));
}

export interface RetryHooks {
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (error: SalesforceApiError, attempt: number, delayMs: number) => void;
  /** False for creates and event publishes (see `isRetryable`). Default true. */
  idempotent?: boolean;
}

export async function withSalesforceRetry<T>(
  policy: RetryPolicy,
  operation: () => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (raw) {
      const error = normaliseSalesforceError(raw);
      if (attempt >= policy.maxAttempts || !isRetryable(policy, error, hooks.idempotent ?? true)) throw error;
      const delay = retryDelayMs(policy, error, attempt);
      hooks.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
