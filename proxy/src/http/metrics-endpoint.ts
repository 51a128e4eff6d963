/**
 * `GET /metrics` in the Prometheus text exposition format (prom-client's registry and
 * formatter), behind a bearer key (`METRICS_API_KEY`; unset, the endpoint is off). Counters and
 * the sync-lag histogram are the all-time totals every process adds to in PostgreSQL (see
 * metrics.ts), so any dyno answers for all of them; gauges are read at scrape time.
 */
import { Router } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { LAG_BUCKETS, SERIES, parseLabels, tally } from '../metrics';
import { getApiUsage } from '../store/api-usage';
import { queueHealth } from '../store/console-queries';
import { addCounterDeltas, readCounterTotals } from '../store/metric-rollup';
import { countOpenProblems } from '../store/problems';
import { HttpProblem } from './problem';
import { bearerToken, secretsEqual } from './secrets';

/** Writes this process's pending counter moves to PostgreSQL (put back if the write fails). */
export async function flushMetricTally(pool: pg.Pool): Promise<void> {
  const deltas = tally.drain();
  if (deltas.length === 0) return;
  try {
    await addCounterDeltas(pool, deltas);
  } catch (error) {
    tally.restore(deltas);
    throw error;
  }
}

/** Flushes every `intervalMs` until stopped (a final flush on stop). */
export function startMetricFlusher(pool: pg.Pool, logger: Logger, intervalMs = 5_000): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const flush = () => {
    running = running
      .then(() => flushMetricTally(pool))
      .catch((error: unknown) => logger.warn({ err: error }, 'metrics flush failed; retried next time'));
    return running;
  };
  const timer = setInterval(() => void flush(), intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await flush();
  };
}

const COUNTERS: { series: string; help: string; labelNames: string[] }[] = [
  {
    series: SERIES.changesReceived,
    help: 'Changes received, by source and flow.',
    labelNames: ['source', 'flow'],
  },
  {
    series: SERIES.writes,
    help: 'Writes finished, by side written, flow and outcome.',
    labelNames: ['side', 'flow', 'outcome'],
  },
  { series: SERIES.failures, help: 'Failures, by error code and flow.', labelNames: ['code', 'flow'] },
  { series: SERIES.salesforceApiCalls, help: 'Salesforce API calls the proxy made.', labelNames: [] },
  { series: SERIES.pollRuns, help: 'Poller runs, by poller.', labelNames: ['poller'] },
  { series: SERIES.pollFailures, help: 'Poller runs that failed, by poller.', labelNames: ['poller'] },
];

type MetricValue = { labels: Record<string, string>; value: number; metricName?: string };

/** A metric whose values come from the stored totals (prom-client formats it). */
function storedMetric(
  name: string,
  help: string,
  type: 'counter' | 'histogram',
  values: (totals: Map<string, { labels: string; value: number }[]>) => MetricValue[],
  read: () => Promise<Map<string, { labels: string; value: number }[]>>,
) {
  return {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    async get() {
      return { name, help, type, aggregator: 'sum' as const, values: values(await read()) };
    },
  };
}

/** The registry behind `/metrics`, reading `pool` at each scrape. */
export function metricsRegistry(pool: pg.Pool): Registry {
  const registry = new Registry();
  // One read of the totals per scrape, shared by every stored metric.
  let pending: Promise<Map<string, { labels: string; value: number }[]>> | undefined;
  const read = () => {
    pending ??= readCounterTotals(pool).then((rows) => {
      const bySeries = new Map<string, { labels: string; value: number }[]>();
      for (const row of rows) bySeries.set(row.series, [...(bySeries.get(row.series) ?? []), row]);
      setImmediate(() => (pending = undefined));
      return bySeries;
    });
    return pending;
  };
  for (const counter of COUNTERS) {
    registry.registerMetric(
      storedMetric(
        counter.series,
        counter.help,
        'counter',
        (totals) => {
          const rows = totals.get(counter.series) ?? [];
          // A counter without labels reads 0 before its first move (so a scrape always shows it).
          if (rows.length === 0 && counter.labelNames.length === 0) return [{ labels: {}, value: 0 }];
          return rows.map((row) => ({ labels: parseLabels(row.labels), value: row.value }));
        },
        read,
      ) as never,
    );
  }
  const lagName = 'custompms_sync_lag_seconds';
  registry.registerMetric(
    storedMetric(
      lagName,
      'Seconds from a change being received to its write on the other side, by flow.',
      'histogram',
      (totals) => {
        const values: MetricValue[] = [];
        const flows = new Set<string>();
        for (const row of totals.get(SERIES.lagCount) ?? []) flows.add(parseLabels(row.labels).flow ?? '');
        for (const flow of [...flows].sort()) {
          const find = (series: string, le?: string) =>
            (totals.get(series) ?? []).find((row) => {
              const labels = parseLabels(row.labels);
              return labels.flow === flow && (le === undefined || labels.le === le);
            })?.value ?? 0;
          for (const le of [...LAG_BUCKETS.map(String), '+Inf']) {
            values.push({
              metricName: `${lagName}_bucket`,
              labels: { flow, le },
              value: find(SERIES.lagBucket, le),
            });
          }
          values.push({ metricName: `${lagName}_sum`, labels: { flow }, value: find(SERIES.lagSum) });
          values.push({ metricName: `${lagName}_count`, labels: { flow }, value: find(SERIES.lagCount) });
        }
        return values;
      },
      read,
    ) as never,
  );

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void>) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        await collect(this);
      },
    });
  let health: ReturnType<typeof queueHealth> | undefined;
  const queue = () => {
    health ??= queueHealth(pool).finally(() => setImmediate(() => (health = undefined)));
    return health;
  };
  gauge('custompms_sync_outbox_depth', 'Planned Salesforce writes waiting for a batch.', [], async (g) => {
    g.set((await queue()).outboxDepth);
  });
  gauge(
    'custompms_sync_outbox_oldest_age_seconds',
    'Age of the oldest planned write waiting for a batch.',
    [],
    async (g) => {
      g.set((await queue()).oldestOutboxAgeSeconds);
    },
  );
  gauge('custompms_sync_inbox_waiting', 'Received changes not processed yet.', [], async (g) => {
    g.set((await queue()).inboxWaiting);
  });
  gauge('custompms_sync_job_queue_depth', 'Background jobs waiting to run.', [], async (g) => {
    g.set((await queue()).jobsWaiting);
  });
  gauge('custompms_sync_job_oldest_age_seconds', 'How long the oldest due job has waited.', [], async (g) => {
    g.set((await queue()).oldestJobAgeSeconds);
  });
  gauge('custompms_sync_open_problems', 'Open problems, by kind.', ['kind'], async (g) => {
    g.reset();
    for (const [kind, count] of Object.entries(await countOpenProblems(pool))) g.set({ kind }, count);
  });
  gauge(
    'custompms_salesforce_api_daily_limit',
    "The org's daily API request allowance, as last reported (Sforce-Limit-Info).",
    [],
    async (g) => {
      const usage = await getApiUsage(pool);
      if (usage) g.set(usage.limit);
    },
  );
  gauge(
    'custompms_salesforce_api_daily_remaining',
    'API requests left today, as last reported (Sforce-Limit-Info).',
    [],
    async (g) => {
      const usage = await getApiUsage(pool);
      if (usage) g.set(Math.max(0, usage.limit - usage.used));
    },
  );
  return registry;
}

export interface MetricsRouterOptions {
  pool: pg.Pool;
  /** Accepted bearer keys (several during a rotation); none turns the endpoint off (503). */
  apiKeys: readonly string[];
}

export function metricsRouter(options: MetricsRouterOptions): Router {
  const router = Router();
  const registry = metricsRegistry(options.pool);
  router.get('/metrics', async (req, res) => {
    if (options.apiKeys.length === 0) {
      throw new HttpProblem(
        503,
        'Not Configured',
        'METRICS_API_KEY is not set on the proxy: /metrics is off',
      );
    }
    const token = bearerToken(req.headers.authorization);
    // Every key is compared (no early exit), in constant time.
    const matches = options.apiKeys.map((key) => token !== undefined && secretsEqual(token, key));
    if (!matches.includes(true)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new HttpProblem(401, 'Unauthorized', 'a valid metrics bearer key is required');
    }
    await flushMetricTally(options.pool);
    res.setHeader('Content-Type', registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await registry.metrics());
  });
  return router;
}
