/**
 * GET /metrics: Prometheus text format (parsed back with parse-prometheus-text-format, a
 * prom2json-compatible parser), behind its key; counters are the totals every process adds to in
 * PostgreSQL, so they move when anything counts; the tally, labels and quantiles on their own.
 */
import { randomBytes } from 'node:crypto';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { flushMetricTally } from '../../../proxy/src/http/metrics-endpoint';
import {
  canonicalLabels,
  histogramQuantile,
  MetricTally,
  metrics,
  parseLabels,
  tally,
} from '../../../proxy/src/metrics';
import {
  listPollerHealth,
  readCounterMinutes,
  recordPollerRun,
} from '../../../proxy/src/store/metric-rollup';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('metrics tally', () => {
  it('sums moves per series, labels and minute, and drains to zero', () => {
    let now = new Date('2026-11-27T10:00:10Z');
    const t = new MetricTally(() => now);
    t.add('custompms_sync_writes_total', { side: 'salesforce', flow: 'tasks', outcome: 'ok' });
    t.add('custompms_sync_writes_total', { outcome: 'ok', flow: 'tasks', side: 'salesforce' }, 2);
    now = new Date('2026-11-27T10:01:00Z');
    t.add('custompms_sync_writes_total', { side: 'salesforce', flow: 'tasks', outcome: 'ok' });
    const deltas = t.drain();
    expect(deltas.map((d) => [d.labels, d.value, d.minute.toISOString()])).toEqual([
      ['flow=tasks,outcome=ok,side=salesforce', 3, '2026-11-27T10:00:00.000Z'],
      ['flow=tasks,outcome=ok,side=salesforce', 1, '2026-11-27T10:01:00.000Z'],
    ]);
    expect(t.size).toBe(0);
  });

  it('round-trips labels with separators in values', () => {
    const labels = { code: 'a,b=c\\d', flow: '' };
    expect(parseLabels(canonicalLabels(labels))).toEqual(labels);
    expect(parseLabels('')).toEqual({});
  });

  it('computes quantiles from cumulative buckets as histogram_quantile does', () => {
    const buckets = new Map([
      [1, 50],
      [2, 90],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.5, buckets)).toBe(1);
    expect(histogramQuantile(0.7, buckets)).toBeCloseTo(1.5);
    expect(histogramQuantile(0.95, buckets)).toBe(2);
    expect(histogramQuantile(0.5, new Map())).toBeUndefined();
  });
});

describe('GET /metrics', () => {
  let db: TestDatabase;
  const key = randomBytes(32).toString('hex');
  const app = () =>
    createApp({
      config: loadConfig({ METRICS_API_KEY: key }),
      logger: captureLogs('silent').logger,
      pool: db.pool,
    });
  const scrape = async (): Promise<Map<string, PrometheusFamily>> => {
    const response = await request(app()).get('/metrics').set('authorization', `Bearer ${key}`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return new Map(parsePrometheusTextFormat(response.text).map((family) => [family.name, family]));
  };
  const sample = (families: Map<string, PrometheusFamily>, name: string, labels: Record<string, string>) =>
    Number(
      families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        ?.value ?? 0,
    );

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    tally.drain();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('is off without a key and refuses a wrong one', async () => {
    const off = createApp({ config: loadConfig({}), logger: captureLogs('silent').logger, pool: db.pool });
    expect((await request(off).get('/metrics')).status).toBe(503);
    expect((await request(app()).get('/metrics')).status).toBe(401);
    expect((await request(app()).get('/metrics').set('authorization', 'Bearer nope')).status).toBe(401);
  });

  it('reports every family in the text format, and its counters move', async () => {
    const before = await scrape();
    for (const name of [
      'custompms_sync_changes_received_total',
      'custompms_sync_writes_total',
      'custompms_sync_failures_total',
      'custompms_sync_salesforce_api_calls_total',
      'custompms_sync_poll_runs_total',
      'custompms_sync_poll_failures_total',
      'custompms_sync_lag_seconds',
      'custompms_sync_outbox_depth',
      'custompms_sync_job_queue_depth',
      'custompms_sync_job_oldest_age_seconds',
      'custompms_salesforce_api_daily_remaining',
    ]) {
      expect(before.has(name)).toBe(true);
    }
    expect(before.get('custompms_sync_writes_total')!.type).toBe('COUNTER');
    expect(before.get('custompms_sync_outbox_depth')!.type).toBe('GAUGE');

    metrics.changeReceived('custompms.webhook', 'tasks');
    metrics.changeReceived('custompms.webhook', 'tasks');
    metrics.write('salesforce', 'tasks', 'ok');
    metrics.failure('FIELD_CUSTOM_VALIDATION_EXCEPTION', 'tasks');
    metrics.syncLag('tasks', 0.7);
    metrics.syncLag('tasks', 4);
    metrics.pollRun('poll_divisions', true);
    const after = await scrape();
    const labels = { source: 'custompms.webhook', flow: 'tasks' };
    expect(sample(after, 'custompms_sync_changes_received_total', labels)).toBe(
      sample(before, 'custompms_sync_changes_received_total', labels) + 2,
    );
    expect(sample(after, 'custompms_sync_writes_total', { side: 'salesforce', outcome: 'ok' })).toBe(1);
    expect(
      sample(after, 'custompms_sync_failures_total', { code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION' }),
    ).toBe(1);
    expect(sample(after, 'custompms_sync_poll_failures_total', { poller: 'poll_divisions' })).toBe(1);
    expect(after.get('custompms_sync_lag_seconds')!.type).toBe('HISTOGRAM');
    // The parser folds a labelled histogram's series into one (it reads only `le`), so the tasks
    // flow's series are parsed on their own, without the flow label.
    const text = (await request(app()).get('/metrics').set('authorization', `Bearer ${key}`)).text;
    const family = text
      .split('\n')
      .filter((line) =>
        line.startsWith('# ')
          ? line.includes(' custompms_sync_lag_seconds ')
          : line.startsWith('custompms_sync_lag_seconds') && line.includes('flow="tasks"'),
      )
      .map((line) => line.replace(/flow="tasks",?/, '').replace('{}', ''))
      .join('\n');
    const [lag] = parsePrometheusTextFormat(`${family}\n`);
    const tasks = lag!.metrics[0]!;
    expect(tasks.count).toBe('2');
    expect(Number(tasks.sum)).toBeCloseTo(4.7);
    expect(tasks.buckets).toMatchObject({ '0.5': '0', '1': '1', '5': '2', '10': '2' });
  });

  it('records each poller’s last run, last success and last error', async () => {
    await recordPollerRun(db.pool, 'poll_divisions', undefined, new Date('2026-11-27T10:00:00Z'));
    await recordPollerRun(
      db.pool,
      'poll_divisions',
      'Salesforce answered 503',
      new Date('2026-11-27T10:01:00Z'),
    );
    await recordPollerRun(db.pool, 'poll_divisions', undefined, new Date('2026-11-27T10:02:00Z'));
    expect(await listPollerHealth(db.pool)).toEqual([
      {
        poller: 'poll_divisions',
        lastRunAt: new Date('2026-11-27T10:02:00Z'),
        lastSuccessAt: new Date('2026-11-27T10:02:00Z'),
        lastError: 'Salesforce answered 503',
        lastErrorAt: new Date('2026-11-27T10:01:00Z'),
      },
    ]);
  });

  it('keeps a per-minute rollup for the console', async () => {
    metrics.write('custompms', 'projects', 'ok', 3);
    await flushMetricTally(db.pool);
    const rows = await readCounterMinutes(
      db.pool,
      ['custompms_sync_writes_total'],
      new Date(Date.now() - 3_600_000),
    );
    const row = rows.find((r) => r.labels === 'flow=projects,outcome=ok,side=custompms');
    expect(row?.value).toBe(3);
    expect(row!.minute.getUTCSeconds()).toBe(0);
  });
});
