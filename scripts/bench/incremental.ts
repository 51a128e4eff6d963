/**
 * Benchmark: the incremental path under a burst, then single-edit latency each way.
 *
 * Burst: N tasks (under N/100 projects of one customer) are created in Custompms at once; each
 * webhook reaches the proxy, the changes are coalesced into batches (≤200 records, one
 * Custompms_Change__e each, ≤200 events per publish call) and the org's Apex pulls them. Reports
 * the time until every record is linked, and the Salesforce API calls the proxy spent (the
 * emulator's daily-usage counter), per record. Then the other way (`salesforceBurst`): every
 * Task's Subject edited in the org at once, until Custompms shows each edit.
 *
 * Latency: then `--samples` single edits one at a time each way — a title edited in Custompms
 * until the Task's Subject shows it in the org, and a Subject edited in Salesforce (REST, as the
 * admin; timed from the moment the org answered the edit) until Custompms shows it — with
 * p50/p95/p99. Both sides are read in-process (no API calls, 2 ms polling); an edit not seen
 * within 30 s is counted as timed out (and left out of the percentiles).
 *
 *   npx tsx scripts/bench/incremental.ts [tasks=2000] [--api] [--profile zero|realistic] [--samples 200]
 *
 * `--api` uses the direct write path (sObject Collections) instead of events + Apex; `--profile`
 * is both emulators' latency model (their latency.ts).
 */
import { Connection } from 'jsforce';
import pg from 'pg';
import { exitWithUsageError, nonNegative, parseCommandLine, positiveInteger } from '../lib/cli';
import { startSandbox, type Sandbox } from '../sandbox';

const USAGE = `Usage: npx tsx scripts/bench/incremental.ts [tasks] [options]

Creates <tasks> tasks (default 2000) in Custompms at once and measures until all are linked, then
the latency of single edits each way.
  --api             the direct write path (sObject Collections) instead of events + Apex
  --profile NAME    zero (default) or realistic: both emulators' latency model
  --samples N       single edits measured each way (default 200; 0: none)
  --burst-only      the burst alone (same as --samples 0)
  -h, --help`;

const POLL_MS = 2;
const SAMPLE_TIMEOUT_MS = 30_000;

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function summary(samples: number[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms);
  return {
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 0.5)),
    p95Ms: round(percentile(sorted, 0.95)),
    p99Ms: round(percentile(sorted, 0.99)),
    maxMs: round(sorted.at(-1) ?? NaN),
  };
}

/** Waits until `check` holds; false after SAMPLE_TIMEOUT_MS (the sample is counted as timed out). */
async function until(check: () => boolean, what: string): Promise<boolean> {
  const deadline = performance.now() + SAMPLE_TIMEOUT_MS;
  while (!check()) {
    if (performance.now() > deadline) {
      process.stderr.write(`timed out after ${SAMPLE_TIMEOUT_MS} ms waiting for ${what}\n`);
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

/**
 * The other direction under a burst: every task's Subject edited in the org at once (sObject
 * Collections, 200 per call, as a user's mass update would), until Custompms shows every edit.
 * The org sends them as outbound messages of up to 100 notifications.
 */
async function salesforceBurst(
  sandbox: Sandbox,
  tasks: readonly { id: string }[],
): Promise<{ records: number; seconds: number; recordsPerSecond: number; custompmsWrites: number }> {
  const { controls } = sandbox.custompms;
  const linksOf = () =>
    sandbox.pool.query<{ custompms_id: string; salesforce_id: string }>(
      `SELECT custompms_id, salesforce_id FROM links WHERE flow = 'tasks' AND custompms_id = ANY($1)
         AND salesforce_id IS NOT NULL`,
      [tasks.map((task) => task.id)],
    );
  // A Task shows Synced a moment before its link is stored.
  let links = await linksOf();
  for (let tries = 0; links.rows.length < tasks.length && tries < 600; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    links = await linksOf();
  }
  const admin = new Connection({
    instanceUrl: sandbox.info.salesforceUrl,
    accessToken: sandbox.salesforce.tokenFor(sandbox.salesforce.adminUsername),
    version: '65.0',
  });
  const writesBefore = controls.requests().filter((entry) => entry.method !== 'GET').length;
  const title = (custompmsId: string) => `Org burst ${custompmsId}`;
  const started = performance.now();
  for (let start = 0; start < links.rows.length; start += 200) {
    const part = links.rows.slice(start, start + 200);
    await admin.sobject('Task').update(
      part.map((row) => ({ Id: row.salesforce_id, Subject: title(row.custompms_id) })),
      { allOrNone: true },
    );
  }
  const pending = new Set(links.rows.map((row) => row.custompms_id));
  const deadline = performance.now() + 10 * 60_000;
  while (pending.size > 0) {
    if (performance.now() > deadline)
      throw new Error(`${pending.size} org edits not in Custompms after 10 min`);
    for (const id of pending) if (controls.record('tasks', id)?.title === title(id)) pending.delete(id);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    records: links.rows.length,
    seconds: Number(seconds.toFixed(1)),
    recordsPerSecond: Math.round(links.rows.length / seconds),
    custompmsWrites: controls.requests().filter((entry) => entry.method !== 'GET').length - writesBefore,
  };
}

/** Single edits, one at a time, each way; milliseconds until the other side shows them. */
async function latencies(
  sandbox: Sandbox,
  tasks: readonly { id: string }[],
  samples: number,
): Promise<{
  toSalesforce: number[];
  toCustompms: number[];
  timedOut: { toSalesforce: number; toCustompms: number };
}> {
  const { controls } = sandbox.custompms;
  const org = sandbox.salesforce.org;
  const ids = tasks.slice(0, Math.min(tasks.length, 50)).map((task) => task.id);
  const links = await sandbox.pool.query<{ custompms_id: string; salesforce_id: string }>(
    `SELECT custompms_id, salesforce_id FROM links WHERE flow = 'tasks' AND custompms_id = ANY($1)`,
    [ids],
  );
  const salesforceIdOf = new Map(links.rows.map((row) => [row.custompms_id, row.salesforce_id]));
  const subject = (salesforceId: string) => org.db.findById(salesforceId)?.record.Subject;
  const admin = new Connection({
    instanceUrl: sandbox.info.salesforceUrl,
    accessToken: sandbox.salesforce.tokenFor(sandbox.salesforce.adminUsername),
    version: '65.0',
  });
  const toSalesforce: number[] = [];
  const toCustompms: number[] = [];
  const timedOut = { toSalesforce: 0, toCustompms: 0 };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  for (let k = 0; k < samples; k++) {
    const id = ids[k % ids.length]!;
    const salesforceId = salesforceIdOf.get(id)!;
    const title = `Custompms edit ${k}`;
    const started = performance.now();
    controls.edit('tasks', id, { title });
    if (await until(() => subject(salesforceId) === title, `Custompms edit ${k} in Salesforce`)) {
      toSalesforce.push(performance.now() - started);
    } else timedOut.toSalesforce++;
    await settle();
  }
  for (let k = 0; k < samples; k++) {
    const id = ids[k % ids.length]!;
    const salesforceId = salesforceIdOf.get(id)!;
    const title = `Salesforce edit ${k}`;
    await admin.sobject('Task').update({ Id: salesforceId, Subject: title });
    const started = performance.now();
    if (
      await until(() => controls.record('tasks', id)?.title === title, `Salesforce edit ${k} in Custompms`)
    ) {
      toCustompms.push(performance.now() - started);
    } else timedOut.toCustompms++;
    await settle();
  }
  return { toSalesforce, toCustompms, timedOut };
}

/**
 * `BENCH_QUERY_STATS=1`: every SQL statement this process sends counted by its first words, the
 * burst's top statements reported (where the database round trips go; no extension needed).
 */
const queryStats = new Map<string, number>();
if (process.env.BENCH_QUERY_STATS) {
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '');
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 90);
    queryStats.set(key, (queryStats.get(key) ?? 0) + 1);
    return original.apply(this, args);
  } as typeof pg.Client.prototype.query;
}

function topQueries(): Record<string, number> {
  const sorted = [...queryStats].sort((a, b) => b[1] - a[1]);
  const total = sorted.reduce((sum, [, n]) => sum + n, 0);
  return Object.fromEntries([['(total)', total], ...sorted.slice(0, 25)]);
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine(USAGE, {
    options: {
      api: { type: 'boolean' },
      profile: { type: 'string' },
      samples: { type: 'string' },
      'burst-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (positionals.length > 1) exitWithUsageError(USAGE, `Unexpected argument '${positionals[1]}'`);
  const tasks = positiveInteger(USAGE, 'tasks', positionals[0], 2_000);
  const profile = values.profile ?? 'zero';
  if (profile !== 'zero' && profile !== 'realistic') {
    exitWithUsageError(USAGE, `--profile must be zero or realistic, not "${profile}"`);
  }
  const samples = values['burst-only'] ? 0 : nonNegative(USAGE, '--samples', values.samples, 200);
  if (values.api) process.env.SALESFORCE_WRITE_PATH = 'api';
  const sandbox = await startSandbox({
    dataDir: '.data/bench-incremental',
    deploy: 'in-process',
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'error',
    latency: profile,
  });
  try {
    const { controls } = sandbox.custompms;
    const usageBefore = sandbox.salesforce.apiUsage().used;
    const started = performance.now();
    const startedAt = new Date();
    const customer = controls.create('customers', { name: 'Bench customer', is_active: true });
    const projects = Array.from({ length: Math.max(1, Math.floor(tasks / 100)) }, (_, index) =>
      controls.create('projects', {
        customer_id: customer.id,
        name: `Bench project ${index}`,
        status: 'active',
      }),
    );
    const created: { id: string }[] = [];
    for (let index = 0; index < tasks; index++) {
      const task = controls.create('tasks', {
        project_id: projects[index % projects.length]!.id,
        title: `Bench task ${index}`,
        status: 'todo',
      });
      created.push(task);
    }
    const expected = 1 + projects.length + tasks;
    const conn = new Connection({
      instanceUrl: sandbox.info.salesforceUrl,
      accessToken: sandbox.info.salesforceAccessToken,
      version: '65.0',
    });
    let synced = 0;
    const deadline = Date.now() + 30 * 60_000;
    while (synced < expected - 1) {
      if (Date.now() > deadline) throw new Error(`only ${synced} of ${expected - 1} Tasks after 30 min`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const count = await conn.query<{ expr0: number }>(
        "SELECT COUNT() FROM Task WHERE Custompms_Sync_Status__c = 'Synced'",
      );
      synced = count.totalSize;
    }
    const seconds = (performance.now() - started) / 1000;
    const usage = sandbox.salesforce.apiUsage();
    // The benchmark's own COUNT() polls are API calls too; take them out.
    const polls = Math.ceil(seconds / 0.5);
    const spent = usage.used - usageBefore - polls;
    const batches = await sandbox.pool.query<{ n: string; records: string; biggest: number }>(
      'SELECT count(*) AS n, sum(jsonb_array_length(items)) AS records, max(jsonb_array_length(items)) AS biggest FROM change_batches',
    );
    // Where the burst's time went: the inbox and the batches, in ms from the start.
    const timeline = await sandbox.pool.query<Record<string, number | null>>(
      `SELECT
         (SELECT round(extract(epoch FROM max(received_at) - $1::timestamptz) * 1000) FROM inbox_messages
           WHERE source = 'custompms.webhook') AS "lastWebhookReceivedMs",
         (SELECT round(extract(epoch FROM max(processed_at) - $1::timestamptz) * 1000) FROM inbox_messages
           WHERE source = 'custompms.webhook') AS "lastWebhookProcessedMs",
         (SELECT json_agg(json_build_array(
             round(extract(epoch FROM created_at - $1::timestamptz) * 1000),
             round(extract(epoch FROM completed_at - $1::timestamptz) * 1000),
             jsonb_array_length(items)) ORDER BY created_at) FROM change_batches) AS "batchesCreatedCompletedSize"`,
      [startedAt],
    );
    const burstQueries = process.env.BENCH_QUERY_STATS ? topQueries() : undefined;
    queryStats.clear();
    const toCustompms = await salesforceBurst(sandbox, created);
    const orgBurstQueries = process.env.BENCH_QUERY_STATS ? topQueries() : undefined;
    const latency = samples > 0 ? await latencies(sandbox, created, samples) : undefined;
    const report = {
      writePath: process.env.SALESFORCE_WRITE_PATH ?? 'apex',
      profile,
      records: expected,
      seconds: Number(seconds.toFixed(1)),
      recordsPerSecond: Math.round(expected / seconds),
      salesforceApiCalls: spent,
      apiCallsPerRecord: Number((spent / expected).toFixed(3)),
      publishedEvents: usage.publishedEvents,
      batches: Number(batches.rows[0]!.n),
      recordsPerBatch: Number((Number(batches.rows[0]!.records) / Number(batches.rows[0]!.n)).toFixed(1)),
      biggestBatch: batches.rows[0]!.biggest,
      callsByCategory: usage.byCategory,
      timeline: timeline.rows[0],
      salesforceBurst: toCustompms,
      ...(burstQueries ? { burstQueries, orgBurstQueries } : {}),
      ...(latency
        ? {
            latencyCustompmsToSalesforce: {
              ...summary(latency.toSalesforce),
              timedOut: latency.timedOut.toSalesforce,
            },
            latencySalesforceToCustompms: {
              ...summary(latency.toCustompms),
              timedOut: latency.timedOut.toCustompms,
            },
          }
        : {}),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await sandbox.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
