/**
 * What the sync counts, for `GET /metrics` and the console's charts. Routes and jobs call the
 * `metrics` functions below; they only add to an in-memory tally (no I/O on the hot path). The
 * tally is drained into PostgreSQL (store/metric-rollup.ts) every few seconds and before every
 * read: per minute for the charts (bounded retention) and as all-time totals for Prometheus, so
 * every process — web and worker dynos — adds to one set of counters and whichever dyno a scrape
 * reaches answers for all of them.
 *
 * Series names are the Prometheus names (`custompms_sync_*`); labels are kept as a canonical
 * `name=value,…` string.
 */

/** One counter change: the series, its canonical labels, how much it moved. */
export interface MetricDelta {
  series: string;
  labels: string;
  value: number;
  /** The minute it happened in (UTC, truncated). */
  minute: Date;
}

export type Labels = Readonly<Record<string, string>>;

/** Sync lag buckets in seconds (the histogram's `le`), from sub-second to an hour. */
export const LAG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

export const SERIES = {
  changesReceived: 'custompms_sync_changes_received_total',
  writes: 'custompms_sync_writes_total',
  failures: 'custompms_sync_failures_total',
  salesforceApiCalls: 'custompms_sync_salesforce_api_calls_total',
  pollRuns: 'custompms_sync_poll_runs_total',
  pollFailures: 'custompms_sync_poll_failures_total',
  lagBucket: 'custompms_sync_lag_seconds_bucket',
  lagSum: 'custompms_sync_lag_seconds_sum',
  lagCount: 'custompms_sync_lag_seconds_count',
} as const;

export type Series = (typeof SERIES)[keyof typeof SERIES];

/** `{flow: 'tasks', side: 'salesforce'}` → `flow=tasks,side=salesforce` (sorted, escaped). */
export function canonicalLabels(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${String(labels[name]).replace(/[\\,=]/g, (c) => `\\${c}`)}`)
    .join(',');
}

/** The inverse of canonicalLabels. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === '') return labels;
  for (const part of text.split(/(?<!\\),/)) {
    const at = part.search(/(?<!\\)=/);
    labels[part.slice(0, at)] = part.slice(at + 1).replace(/\\([\\,=])/g, '$1');
  }
  return labels;
}

function minuteOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

/** An in-memory tally of counter moves since the last drain. */
export class MetricTally {
  private pending = new Map<string, MetricDelta>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  add(series: Series, labels: Labels, value = 1): void {
    if (!Number.isFinite(value) || value === 0) return;
    const minute = minuteOf(this.now());
    const canonical = canonicalLabels(labels);
    const key = `${series}|${canonical}|${minute.getTime()}`;
    const existing = this.pending.get(key);
    if (existing) existing.value += value;
    else this.pending.set(key, { series, labels: canonical, value, minute });
  }

  /** Everything tallied since the last drain; the tally starts again from zero. */
  drain(): MetricDelta[] {
    const deltas = [...this.pending.values()];
    this.pending = new Map();
    return deltas;
  }

  /** Puts drained deltas back (their write failed); they go with the next drain. */
  restore(deltas: readonly MetricDelta[]): void {
    for (const delta of deltas) {
      const key = `${delta.series}|${delta.labels}|${delta.minute.getTime()}`;
      const existing = this.pending.get(key);
      if (existing) existing.value += delta.value;
      else this.pending.set(key, { ...delta });
    }
  }

  get size(): number {
    return this.pending.size;
  }
}

/** The process's tally; `metrics.*` below add to it. */
export const tally = new MetricTally();

/** Where a change came from (the inbox sources, and the pollers). */
export type ChangeSource = string;
export type WriteOutcome = 'ok' | 'refused' | 'failed' | 'skipped';

/** The sync's counters. Each call is a map update; nothing waits on the database. */
export const metrics = {
  /** A change reached the proxy (webhook, outbound message, Apex callout, poll). */
  changeReceived(source: ChangeSource, flow: string, count = 1): void {
    tally.add(SERIES.changesReceived, { source, flow }, count);
  },
  /** A write to one side finished (`side` is the side written to). */
  write(side: 'salesforce' | 'custompms', flow: string, outcome: WriteOutcome, count = 1): void {
    tally.add(SERIES.writes, { side, flow, outcome }, count);
  },
  /** A failure, by its stable error code (a refused write, a dead letter, a failed poll). */
  failure(code: string, flow = '', count = 1): void {
    tally.add(SERIES.failures, { code, flow }, count);
  },
  /** Salesforce API calls the proxy made. */
  salesforceApiCalls(count = 1): void {
    tally.add(SERIES.salesforceApiCalls, {}, count);
  },
  /** A poller ran (and whether it failed). */
  pollRun(poller: string, failed: boolean): void {
    tally.add(SERIES.pollRuns, { poller });
    if (failed) tally.add(SERIES.pollFailures, { poller });
  },
  /** Time from a change being made (or received) to its write on the other side. */
  syncLag(flow: string, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    for (const le of LAG_BUCKETS) if (seconds <= le) tally.add(SERIES.lagBucket, { flow, le: String(le) });
    tally.add(SERIES.lagBucket, { flow, le: '+Inf' });
    tally.add(SERIES.lagSum, { flow }, seconds);
    tally.add(SERIES.lagCount, { flow });
  },
};

/**
 * A quantile from cumulative histogram buckets (`le` → count, as Prometheus'
 * `histogram_quantile`: linear inside the bucket). undefined when nothing was observed.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket <= 0 ? le : lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
