/**
 * Fault injection for the reference server: error rates per route, latency, an outage window,
 * and webhook loss, duplication and delay. Random choices come from a seeded generator so a
 * failing run can be replayed with the same seed.
 */
import { CUSTOMPMS_LATENCY_PROFILES, type CustompmsLatencyProfile } from './latency';

export interface FaultRule {
  /**
   * `"<METHOD> <path pattern>"`: `:name` matches one segment, `*` anything; the method may be `*`.
   * E.g. `"POST /api/v1/tasks"`, `"PATCH /api/v1/:type/:id"`, `"* /api/v1/*"`. Omitted: every route.
   */
  route?: string;
  /** Probability of firing on a matching request, 0–1. Default 1. */
  rate?: number;
  /** Fire at most this many times, then stay quiet. Default: no limit. */
  times?: number;
  /**
   * `status`: answer `status` with a problem body. `reset`: destroy the connection (a network
   * error to the client). `delay`: wait `delayMs`, then carry on normally.
   */
  action?: 'status' | 'reset' | 'delay';
  /** Status for `action: 'status'`. Default 503. */
  status?: number;
  /** `Retry-After` for 429/503: seconds, an HTTP date, or null for none. Default 1 second. */
  retryAfter?: number | string | null;
  /** `delay`: the wait. Other actions: a wait before them (a slow request that then fails). */
  delayMs?: number;
  /**
   * `before` (default): the request is not processed. `after`: it is processed (a record may be
   * created), then the answer is replaced by the fault: the client never learns it succeeded.
   */
  phase?: 'before' | 'after';
}

export interface WebhookFaults {
  /** Probability that an event is never delivered. */
  lossRate?: number;
  /** Probability that an event is delivered twice (same event id). */
  duplicateRate?: number;
  /** Delay before each delivery attempt: a fixed number, or [min, max] uniformly. */
  latencyMs?: number | [number, number];
}

export interface Faults {
  rules?: FaultRule[];
  /** Delay before every API request: a fixed number, or [min, max] uniformly. */
  latencyMs?: number | [number, number];
  /** Every API request inside [from, until) (emulator clock, epoch ms) answers 503. */
  outage?: { from?: number; until: number; retryAfter?: number | string | null };
  webhooks?: WebhookFaults;
  /** Seed of the random generator (same seed, same fault sequence). */
  seed?: number;
}

/** Mulberry32: a tiny seeded PRNG, plenty for fault dice. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface CompiledRule {
  rule: FaultRule;
  method: string;
  pattern: RegExp;
  fired: number;
}

export interface FaultHit {
  rule: FaultRule;
  index: number;
}

function compileRoute(route: string | undefined): { method: string; pattern: RegExp } {
  if (route === undefined || route.trim() === '' || route.trim() === '*')
    return { method: '*', pattern: /^.*$/ };
  const [method, path = '*'] = route.trim().split(/\s+/, 2) as [string, string | undefined];
  const source = path
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { method: method.toUpperCase(), pattern: new RegExp(`^${source}$`) };
}

/** The live fault configuration, with per-rule fire counts. */
export class FaultInjector {
  #faults: Faults = {};
  #rules: CompiledRule[] = [];
  #random: () => number;
  readonly #hits: { route: string; method: string; path: string; action: string }[] = [];
  /** The latency profile (latency.ts), added to the faults' own latency. */
  profile: CustompmsLatencyProfile = CUSTOMPMS_LATENCY_PROFILES.zero;

  constructor(faults: Faults = {}) {
    this.#random = seededRandom(faults.seed ?? 1);
    this.set(faults);
  }

  set(faults: Faults): void {
    this.#faults = faults;
    if (faults.seed !== undefined) this.#random = seededRandom(faults.seed);
    this.#rules = (faults.rules ?? []).map((rule) => ({ rule, ...compileRoute(rule.route), fired: 0 }));
    this.#hits.length = 0;
  }

  get current(): Faults {
    return this.#faults;
  }

  random(): number {
    return this.#random();
  }

  /** Every fault that fired since the faults were last set, in order. */
  hits(): { route: string; method: string; path: string; action: string }[] {
    return [...this.#hits];
  }

  latency(): number {
    return this.#pick(this.#faults.latencyMs) + this.profile.rttMs;
  }

  webhookLatency(): number {
    return this.#pick(this.#faults.webhooks?.latencyMs) + this.profile.webhookDelayMs;
  }

  /** The outage in force at `now`, if any. */
  outageAt(now: number): Faults['outage'] | undefined {
    const outage = this.#faults.outage;
    if (!outage) return undefined;
    return now >= (outage.from ?? -Infinity) && now < outage.until ? outage : undefined;
  }

  /** The first rule that fires for this request (each rule rolls its own dice). */
  pick(method: string, path: string): FaultHit | undefined {
    for (const [index, compiled] of this.#rules.entries()) {
      if (compiled.method !== '*' && compiled.method !== method.toUpperCase()) continue;
      if (!compiled.pattern.test(path)) continue;
      if (compiled.rule.times !== undefined && compiled.fired >= compiled.rule.times) continue;
      if (this.#random() >= (compiled.rule.rate ?? 1)) continue;
      compiled.fired++;
      this.#hits.push({
        route: compiled.rule.route ?? '*',
        method,
        path,
        action: compiled.rule.action ?? `status ${compiled.rule.status ?? 503}`,
      });
      return { rule: compiled.rule, index };
    }
    return undefined;
  }

  dropWebhook(): boolean {
    return this.#random() < (this.#faults.webhooks?.lossRate ?? 0);
  }

  duplicateWebhook(): boolean {
    return this.#random() < (this.#faults.webhooks?.duplicateRate ?? 0);
  }

  #pick(value: number | [number, number] | undefined): number {
    if (value === undefined) return 0;
    if (typeof value === 'number') return value;
    const [min, max] = value;
    return Math.round(min + this.#random() * (max - min));
  }
}
