import fc from 'fast-check';
import {
  backoffDelay,
  decideRetry,
  DEFAULT_RETRY_POLICY,
  isRepeatable,
  parseRetryAfter,
  resolveRetryPolicy,
  type RetryableRequest,
} from '../../../proxy/src/custompms/retry';

const GET: RetryableRequest = { method: 'GET', hasIdempotencyKey: false, hasIfMatch: false };
const policy = resolveRetryPolicy();

describe('isRepeatable', () => {
  it.each([
    ['GET', false, false, true],
    ['DELETE', false, false, true],
    ['PUT', false, false, true],
    ['PATCH', false, true, true],
    ['PATCH', false, false, false],
    ['POST', true, false, true],
    ['POST', false, false, false],
    ['POST', false, true, false],
    ['CONNECT', true, true, false],
  ])('%s key=%s if-match=%s → %s', (method, hasIdempotencyKey, hasIfMatch, expected) => {
    expect(isRepeatable({ method, hasIdempotencyKey, hasIfMatch })).toBe(expected);
  });
});

describe('decideRetry', () => {
  it('never repeats a POST without its idempotency key, whatever went wrong', () => {
    const post = { method: 'POST', hasIdempotencyKey: false, hasIfMatch: false };
    for (const outcome of [
      { kind: 'network' as const },
      { kind: 'timeout' as const },
      { kind: 'status' as const, status: 503, retryAfterMs: 0 },
    ])
      expect(decideRetry(policy, post, 1, outcome).retry).toBe(false);
  });

  it('honours Retry-After on 429 and 503 only', () => {
    expect(decideRetry(policy, GET, 1, { kind: 'status', status: 429, retryAfterMs: 4_000 })).toEqual({
      retry: true,
      delayMs: 4_000,
      reason: 'status 429, Retry-After',
    });
    expect(decideRetry(policy, GET, 1, { kind: 'status', status: 503, retryAfterMs: 0 })).toMatchObject({
      retry: true,
      delayMs: 0,
    });
    // A 500 with Retry-After still backs off by the policy.
    expect(
      decideRetry(policy, GET, 1, { kind: 'status', status: 500, retryAfterMs: 9_000 }, () => 0.5),
    ).toMatchObject({
      retry: true,
      delayMs: 125,
    });
  });

  it('stops when Retry-After exceeds the cap, or at maxAttempts', () => {
    expect(decideRetry(policy, GET, 1, { kind: 'status', status: 503, retryAfterMs: 61_000 }).retry).toBe(
      false,
    );
    expect(decideRetry(policy, GET, 5, { kind: 'status', status: 503, retryAfterMs: 1 }).retry).toBe(false);
    expect(decideRetry(policy, GET, 4, { kind: 'status', status: 503, retryAfterMs: 1 }).retry).toBe(true);
  });

  it('treats 4xx other than 408/429 as final', () => {
    for (const status of [400, 401, 403, 404, 409, 412, 422, 428])
      expect(decideRetry(policy, GET, 1, { kind: 'status', status }).retry).toBe(false);
    expect(decideRetry(policy, GET, 1, { kind: 'status', status: 408 }).retry).toBe(true);
  });

  it('waits and asks again when a keyed POST meets its own first copy still running (409)', () => {
    const post = { method: 'POST', hasIdempotencyKey: true, hasIfMatch: false };
    expect(decideRetry(policy, post, 1, { kind: 'status', status: 409 }).retry).toBe(true);
    expect(
      decideRetry(policy, { ...post, method: 'PATCH', hasIfMatch: true }, 1, { kind: 'status', status: 409 })
        .retry,
    ).toBe(false);
  });

  it('can switch off network and timeout retries', () => {
    const strict = resolveRetryPolicy({ retryNetworkErrors: false, retryTimeouts: false });
    expect(decideRetry(strict, GET, 1, { kind: 'network' }).retry).toBe(false);
    expect(decideRetry(strict, GET, 1, { kind: 'timeout' }).retry).toBe(false);
    expect(decideRetry(policy, GET, 1, { kind: 'network' }).retry).toBe(true);
  });
});

describe('backoffDelay', () => {
  it('full jitter stays within [0, min(cap, base·2ⁿ⁻¹))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        (retry, random, base, extra) => {
          const custom = resolveRetryPolicy({ baseDelayMs: base, maxDelayMs: base + extra });
          const delay = backoffDelay(custom, retry, () => random);
          const ceiling = Math.min(custom.maxDelayMs, base * 2 ** (retry - 1));
          return delay >= 0 && delay <= ceiling && (ceiling === 0 || delay < ceiling || random === 0);
        },
      ),
    );
  });

  it('grows exponentially up to the cap without jitter', () => {
    const plain = resolveRetryPolicy({ jitter: 'none', baseDelayMs: 100, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(plain, retry))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    const equal = resolveRetryPolicy({ jitter: 'equal', baseDelayMs: 100, maxDelayMs: 1_000 });
    expect(backoffDelay(equal, 3, () => 0)).toBe(200);
    expect(backoffDelay(equal, 3, () => 0.999)).toBe(399);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it.each([
    ['5', 5_000],
    [' 0 ', 0],
    ['1.5', 1_500],
    ['Sun, 01 Mar 2026 12:00:30 GMT', 30_000],
    ['Sun, 01 Mar 2026 11:00:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    ['-3', undefined],
  ])('%j → %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  it('absent → undefined', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('resolveRetryPolicy', () => {
  it('fills defaults and rejects nonsense', () => {
    expect(resolveRetryPolicy({ maxAttempts: 2 })).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 2 });
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
  });
});
