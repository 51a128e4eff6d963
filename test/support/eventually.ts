/**
 * Waiting in tests: poll the condition that proves the thing happened, never sleep for a guessed
 * time. `eventually` is the one helper for it.
 */
import { inspect } from 'node:util';

export interface EventuallyOptions {
  /** What is being waited for, in words; the timeout error starts with it. */
  what?: string;
  /** Give up after this long (default 20 s). Keep it under the test's own timeout. */
  timeoutMs?: number;
  /** Pause between two polls (default 25 ms). */
  intervalMs?: number;
}

/** A failed wait: says what was awaited, for how long, and the last value or error seen. */
export class EventuallyTimeoutError extends Error {
  override name = 'EventuallyTimeoutError';
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

function describeCondition(condition: () => unknown): string {
  const source = condition.toString().replace(/\s+/g, ' ').trim();
  return source.length > 160 ? `${source.slice(0, 157)}...` : source;
}

/**
 * Polls `condition` (sync or async) until it returns a truthy value, and returns that value. A
 * poll that throws counts as "not yet"; after `timeoutMs` the wait fails with an error naming
 * `what` (or the condition's source) and the last value returned or error thrown.
 */
export async function eventually<T>(
  condition: () => T | Promise<T>,
  options: EventuallyOptions | string = {},
): Promise<Truthy<T>> {
  const {
    what,
    timeoutMs = 20_000,
    intervalMs = 25,
  } = typeof options === 'string' ? { what: options } : options;
  const started = Date.now();
  let polls = 0;
  let last: { value: unknown } | { error: unknown } | undefined;
  for (;;) {
    polls++;
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() - started >= timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const seen =
    last === undefined
      ? 'nothing'
      : 'error' in last
        ? `error: ${last.error instanceof Error ? last.error.message : inspect(last.error)}`
        : `value: ${inspect(last.value, { depth: 4, breakLength: Infinity, maxStringLength: 2_000 })}`;
  throw new EventuallyTimeoutError(
    `timed out after ${timeoutMs} ms (${polls} polls) waiting for ${what ?? describeCondition(condition)}; last ${seen}`,
    last && 'error' in last ? { cause: last.error } : undefined,
  );
}
