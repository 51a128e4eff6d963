/**
 * Fault injection per route: rates of 503, UNABLE_TO_LOCK_ROW and REQUEST_LIMIT_EXCEEDED, added
 * latency, and exact "fail the next N" switches for deterministic tests. Random draws come from a
 * seeded generator so a failing run can be replayed.
 */

/** Route categories the REST layer reports (see `categorize` in http/app.ts). */
export type RouteCategory =
  | 'oauth'
  | 'versions'
  | 'sobjects'
  | 'describe'
  | 'composite'
  | 'query'
  | 'replication'
  | 'bulk2'
  | 'limits'
  | 'other';

export type FaultKind = 'unavailable' | 'lockRow' | 'requestLimit' | 'sessionExpired';

export interface FaultRule {
  /** A category, `*` for every route, or a pattern tested against `METHOD /path`. */
  route: RouteCategory | '*' | RegExp;
  /** Probability (0..1) of a 503 Service Unavailable. */
  unavailableRate?: number;
  /** Probability per record (DML routes) of UNABLE_TO_LOCK_ROW. */
  lockRowRate?: number;
  /** Probability of 403 REQUEST_LIMIT_EXCEEDED. */
  requestLimitRate?: number;
  /** Probability that the request's session has expired (401 INVALID_SESSION_ID; the token dies). */
  sessionExpiryRate?: number;
  /** Added latency in ms. */
  latencyMs?: number;
}

interface Forced {
  route: RouteCategory | '*' | RegExp;
  kind: FaultKind;
  remaining: number;
}

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RequestFaults {
  latencyMs: number;
  failure?: Exclude<FaultKind, 'lockRow'>;
  /** Per-record lock failures for DML in this request. */
  lockRow: () => boolean;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private forced: Forced[] = [];
  private random: () => number;
  /** Outbound message endpoint unreachable: deliveries fail as a refused connection would. */
  outboundUnreachable = false;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  reseed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** Replaces all rules. */
  set(rules: FaultRule[]): void {
    this.rules = [...rules];
  }

  add(rule: FaultRule): void {
    this.rules.push(rule);
  }

  /** Makes the next `count` matching requests (or records, for lockRow) fail with `kind`. */
  failNext(route: Forced['route'], kind: FaultKind, count = 1): void {
    this.forced.push({ route, kind, remaining: count });
  }

  clear(): void {
    this.rules = [];
    this.forced = [];
    this.outboundUnreachable = false;
  }

  private matches(route: Forced['route'], category: RouteCategory, method: string, path: string): boolean {
    if (route === '*') return true;
    if (route instanceof RegExp) return route.test(`${method} ${path}`);
    return route === category;
  }

  private takeForced(kind: FaultKind, category: RouteCategory, method: string, path: string): boolean {
    const entry = this.forced.find(
      (f) => f.kind === kind && f.remaining > 0 && this.matches(f.route, category, method, path),
    );
    if (!entry) return false;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.forced.splice(this.forced.indexOf(entry), 1);
    return true;
  }

  /** Decides the faults of one request. */
  forRequest(category: RouteCategory, method: string, path: string): RequestFaults {
    const rules = this.rules.filter((r) => this.matches(r.route, category, method, path));
    const latencyMs = rules.reduce((sum, r) => sum + (r.latencyMs ?? 0), 0);
    let failure: RequestFaults['failure'];
    if (this.takeForced('sessionExpired', category, method, path)) failure = 'sessionExpired';
    else if (this.takeForced('requestLimit', category, method, path)) failure = 'requestLimit';
    else if (this.takeForced('unavailable', category, method, path)) failure = 'unavailable';
    else {
      for (const rule of rules) {
        if (rule.sessionExpiryRate && this.random() < rule.sessionExpiryRate) failure = 'sessionExpired';
        else if (rule.requestLimitRate && this.random() < rule.requestLimitRate) failure = 'requestLimit';
        else if (rule.unavailableRate && this.random() < rule.unavailableRate) failure = 'unavailable';
        if (failure) break;
      }
    }
    const lockRate = rules.reduce((max, r) => Math.max(max, r.lockRowRate ?? 0), 0);
    return {
      latencyMs,
      failure,
      lockRow: () =>
        this.takeForced('lockRow', category, method, path) || (lockRate > 0 && this.random() < lockRate),
    };
  }
}
