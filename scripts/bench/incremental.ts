/**
 * Benchmark: the incremental path under a burst, then single-edit latency each way.
 *
 * The bursts start once the proxy's pollers have run once (up to a minute after start-up).
 *
 * Burst: N tasks (under N/100 projects of one customer) are created in Custompms at once; each
 * webhook reaches the proxy, the changes are coalesced into batches (≤200 records, one
 * Custompms_Change__e each, ≤200 events per publish call) and the org's Apex pulls them. Reports
 * the time until every record is linked, and the Salesforce API calls the proxy spent (the
 * emulator's daily-usage counter), per record. Then every task edited in Custompms at once
 * (`custompmsEditBurst`: linked records, no dependency chain), and the other way
 * (`salesforceBurst`): every Task's Subject edited in the org at once, until Custompms shows each.
 *
 * Latency: then `--samples` single edits one at a time each way — a title edited in Custompms
 * until the Task's Subject shows it in the org, and a Subject edited in Salesforce (REST, as the
 * admin; timed from the moment the org answered the edit) until Custompms shows it — with
 * p50/p95/p99. Both sides are read in-process (no API calls, 2 ms polling); an edit not seen
 * within 30 s is counted as timed out (and left out of the percentiles).
 *
 *   npx tsx scripts/bench/incremental.ts [tasks=2000] [--api] [--profile zero|realistic] [--samples 200]
 *     [--processes 0|1|2]
 *
 * `--api` uses the direct write path (sObject Collections) instead of events + Apex; `--profile`
 * is both emulators' latency model (their latency.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
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
  --explain-slow MS Custompms → Salesforce samples slower than MS reported with their timeline
  --processes N     0 (default): the proxy in this process beside the emulators; 1: its own
                    process; 2: web and worker processes (as on Heroku)
  -h, --help`;

const POLL_MS = 2;
let explainSlowMs: number | undefined;
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

type ApiUsage = ReturnType<Sandbox['salesforce']['apiUsage']>;

/** A burst's time and the Salesforce API calls the proxy spent on it. */
interface BurstResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  salesforceApiCalls: number;
  callsByCategory: Record<string, number>;
}

/** The Salesforce API calls between two readings of the org's usage, in all and by category. */
function callsSince(
  before: ApiUsage,
  after: ApiUsage,
): { salesforceApiCalls: number; callsByCategory: Record<string, number> } {
  const byCategory: Record<string, number> = {};
  for (const [category, calls] of Object.entries(after.byCategory)) {
    const spent = calls - (before.byCategory[category] ?? 0);
    if (spent > 0) byCategory[category] = spent;
  }
  return { salesforceApiCalls: after.used - before.used, callsByCategory: byCategory };
}

/**
 * A burst of edits: every task retitled in Custompms at once (linked records, so no dependency
 * chain: the changes go out in full batches side by side), until every Task's Subject shows it.
 */
async function custompmsEditBurst(
  sandbox: Sandbox,
  tasks: readonly { id: string }[],
): Promise<BurstResult & { batchesPublishedSize: number[][] }> {
  const { controls } = sandbox.custompms;
  const taskTable = sandbox.salesforce.org.db.table('Task');
  const externalId = taskTable.object.index.get('custompms_id__c')!;
  const title = (id: string) => `Custompms burst ${id}`;
  const usageBefore = sandbox.salesforce.apiUsage();
  const startedAt = new Date();
  const started = performance.now();
  for (const task of tasks) controls.edit('tasks', task.id, { title: title(task.id) });
  const pending = new Set(tasks.map((task) => task.id));
  const deadline = performance.now() + 10 * 60_000;
  while (pending.size > 0) {
    if (performance.now() > deadline)
      throw new Error(`${pending.size} Custompms edits not in Salesforce after 10 min`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const id of pending) {
      const [taskId] = taskTable.lookup(externalId, id);
      if (!taskId || taskTable.get(taskId)?.Subject !== title(id)) break;
      pending.delete(id);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  // Each batch: ms from the start to its publish, and its size (batches published together share
  // one call).
  const batches = await sandbox.pool.query<{ published: number; size: number }>(
    `SELECT round(extract(epoch FROM published_at - $1::timestamptz) * 1000)::int AS published,
            jsonb_array_length(items) AS size
       FROM change_batches WHERE created_at >= $1 ORDER BY published_at`,
    [startedAt],
  );
  return {
    records: tasks.length,
    seconds: Number(seconds.toFixed(1)),
    recordsPerSecond: Math.round(tasks.length / seconds),
    ...callsSince(usageBefore, sandbox.salesforce.apiUsage()),
    batchesPublishedSize: batches.rows.map((row) => [row.published, row.size]),
  };
}

/**
 * The other direction under a burst: every task's Subject edited in the org at once (sObject
 * Collections, 200 per call, as a user's mass update would), until Custompms shows every edit.
 * The org sends them as outbound messages of up to 100 notifications.
 */
async function salesforceBurst(
  sandbox: Sandbox,
  tasks: readonly { id: string }[],
): Promise<BurstResult & { custompmsWrites: number }> {
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
  // Users edit after the proxy's last writes are done (every batch's results recorded), and not
  // within their SystemModstamp second: an edit in that second is read back from the org first
  // (README, Known limits), which is not what a burst of user edits costs.
  for (;;) {
    const busy = await sandbox.pool.query(
      `SELECT 1 FROM change_batches WHERE status IN ('open', 'published')
       UNION ALL SELECT 1 FROM outbox WHERE batch_id IS NULL
       UNION ALL SELECT 1 FROM inbox_messages WHERE processed_at IS NULL LIMIT 1`,
    );
    if (busy.rowCount === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const org = sandbox.salesforce.org;
  let lastWrite = 0;
  for (const row of org.db.table('Task').rows.values())
    lastWrite = Math.max(lastWrite, Number(row.SystemModstamp) || 0); // stored as epoch ms
  while (org.clock.now() < Math.floor(lastWrite / 1000) * 1000 + 1000)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const writesBefore = controls.requests().filter((entry) => entry.method !== 'GET').length;
  const usageBefore = sandbox.salesforce.apiUsage();
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
    for (const id of pending) {
      if (controls.record('tasks', id)?.title !== title(id)) break;
      pending.delete(id);
    }
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const calls = callsSince(usageBefore, sandbox.salesforce.apiUsage());
  const adminCalls = Math.ceil(links.rows.length / 200);
  return {
    records: links.rows.length,
    seconds: Number(seconds.toFixed(1)),
    recordsPerSecond: Math.round(links.rows.length / seconds),
    custompmsWrites: controls.requests().filter((entry) => entry.method !== 'GET').length - writesBefore,
    // The proxy's: the admin's own update calls (200 Tasks each, Collections) taken out.
    salesforceApiCalls: calls.salesforceApiCalls - adminCalls,
    callsByCategory: {
      ...calls.callsByCategory,
      composite: (calls.callsByCategory.composite ?? 0) - adminCalls,
    },
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
  slow: unknown[];
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
  const slow: unknown[] = [];
  for (let k = 0; k < samples; k++) {
    const id = ids[k % ids.length]!;
    const salesforceId = salesforceIdOf.get(id)!;
    const title = `Custompms edit ${k}`;
    // What the worker had queued when the edit was made (explains a slow sample).
    const backlog = explainSlowMs === undefined ? undefined : await jobBacklog(sandbox.pool);
    const editedAt = new Date();
    const started = performance.now();
    controls.edit('tasks', id, { title });
    if (await until(() => subject(salesforceId) === title, `Custompms edit ${k} in Salesforce`)) {
      const ms = performance.now() - started;
      toSalesforce.push(ms);
      if (explainSlowMs !== undefined && ms > explainSlowMs)
        slow.push({
          sample: k,
          ms: Math.round(ms),
          backlog,
          ...(await timelineSince(sandbox.pool, editedAt)),
        });
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
  return { toSalesforce, toCustompms, timedOut, slow };
}

/**
 * Waits for the proxy's first minute: every poller has run once (their first run reads the org's
 * describe and mapping too), as in a proxy that has been up a while. A burst then pays for itself,
 * not for start-up; a poller's next run (a few calls a minute) may still fall inside it.
 */
async function steadyState(sandbox: Sandbox): Promise<void> {
  const pollers = ['poll_custompms', 'poll_divisions', 'poll_deleted_tasks', 'poll_tasks'];
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ran = await sandbox.pool.query(
      'SELECT 1 FROM poller_health WHERE poller = ANY($1) AND last_success_at IS NOT NULL',
      [pollers],
    );
    if (ran.rowCount === pollers.length) return;
    if (Date.now() > deadline) throw new Error('the pollers did not run within 2 minutes of start-up');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * `BENCH_CPU_PROF=<dir>`: CPU profiles of this process over each burst alone (start-up left out:
 * `<dir>/<burst>.cpuprofile`), for Chrome DevTools or any .cpuprofile reader.
 */
async function startProfiler(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** `--explain-slow`: the worker's queued jobs by task. */
/**
 * Samples a pool every 5 ms: the most connections open and queries waiting for one, and the share
 * of samples with any waiting (a saturated pool delays webhooks and jobs alike).
 */
function samplePool(pool: pg.Pool): {
  stop(): { maxConnections: number; maxWaiting: number; waitingSamplesPercent: number };
} {
  let samples = 0;
  let waitingSamples = 0;
  let maxWaiting = 0;
  let maxConnections = 0;
  const timer = setInterval(() => {
    samples++;
    if (pool.waitingCount > 0) waitingSamples++;
    maxWaiting = Math.max(maxWaiting, pool.waitingCount);
    maxConnections = Math.max(maxConnections, pool.totalCount);
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return {
        maxConnections,
        maxWaiting,
        waitingSamplesPercent: Number(((100 * waitingSamples) / Math.max(1, samples)).toFixed(1)),
      };
    },
  };
}

async function jobBacklog(pool: pg.Pool): Promise<Record<string, number>> {
  const jobs = await pool.query<{ task_identifier: string; n: number }>(
    `SELECT t.identifier AS task_identifier, count(*)::int AS n FROM graphile_worker._private_jobs j
       JOIN graphile_worker._private_tasks t ON t.id = j.task_id GROUP BY 1`,
  );
  return Object.fromEntries(jobs.rows.map((row) => [row.task_identifier, row.n]));
}

/** `--explain-slow`: what happened since an edit, in ms from it (inbox rows, batches, pollers). */
async function timelineSince(pool: pg.Pool, since: Date): Promise<Record<string, unknown>> {
  const ms = (column: string) => `round(extract(epoch FROM ${column} - $1::timestamptz) * 1000)::int`;
  const inbox = await pool.query(
    `SELECT source, ${ms('received_at')} AS received, ${ms('processed_at')} AS processed
       FROM inbox_messages WHERE received_at >= $1 ORDER BY id LIMIT 20`,
    [since],
  );
  const batches = await pool.query(
    `SELECT jsonb_array_length(items) AS size, ${ms('created_at')} AS created, ${ms('published_at')} AS published,
            ${ms('fetched_at')} AS fetched, ${ms('completed_at')} AS completed
       FROM change_batches WHERE created_at >= $1 ORDER BY created_at LIMIT 20`,
    [since],
  );
  const pollers = await pool.query(
    `SELECT poller, ${ms('last_run_at')} AS "lastRun" FROM poller_health WHERE last_run_at >= $1::timestamptz - interval '10 seconds'`,
    [since],
  );
  return { inbox: inbox.rows, batches: batches.rows, pollers: pollers.rows };
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
      'explain-slow': { type: 'string' },
      processes: { type: 'string' },
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
  explainSlowMs =
    values['explain-slow'] === undefined
      ? undefined
      : nonNegative(USAGE, '--explain-slow', values['explain-slow'], 0);
  const samples = values['burst-only'] ? 0 : nonNegative(USAGE, '--samples', values.samples, 200);
  const processes = nonNegative(USAGE, '--processes', values.processes, 0);
  if (processes > 2) exitWithUsageError(USAGE, '--processes must be 0, 1 or 2');
  if (values.api) process.env.SALESFORCE_WRITE_PATH = 'api';
  const sandbox = await startSandbox({
    dataDir: '.data/bench-incremental',
    deploy: 'in-process',
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'error',
    latency: profile,
    proxyProcesses: processes as 0 | 1 | 2,
  });
  try {
    const { controls } = sandbox.custompms;
    await steadyState(sandbox);
    const usageBefore = sandbox.salesforce.apiUsage();
    const profileDir = process.env.BENCH_CPU_PROF;
    const profiler = profileDir ? await startProfiler() : undefined;
    // In-process proxy only: how often its pool had queries waiting for a connection.
    const poolDuringBurst = processes === 0 ? samplePool(sandbox.pool) : undefined;
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
    // Done when every project and task has its Task in the org, Synced (read in-process: no API
    // calls, 20 ms resolution).
    const taskTable = sandbox.salesforce.org.db.table('Task');
    const externalId = taskTable.object.index.get('custompms_id__c')!;
    const pending = new Set([...projects, ...created].map((record) => record.id));
    const deadline = Date.now() + 30 * 60_000;
    while (pending.size > 0) {
      if (Date.now() > deadline) throw new Error(`${pending.size} Tasks not Synced after 30 min`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // In order, up to the first not done yet: each poll costs little, and the last one still
      // sees the moment every record is done.
      for (const id of pending) {
        const [taskId] = taskTable.lookup(externalId, id);
        if (!taskId || taskTable.get(taskId)?.Custompms_Sync_Status__c !== 'Synced') break;
        pending.delete(id);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const pool = poolDuringBurst?.stop();
    if (profiler) await profiler.stop(path.join(profileDir!, 'custompms-burst.cpuprofile'));
    const usage = sandbox.salesforce.apiUsage();
    const { salesforceApiCalls: spent, callsByCategory } = callsSince(usageBefore, usage);
    const batches = await sandbox.pool.query<{ n: string; records: string; biggest: number }>(
      'SELECT count(*) AS n, sum(jsonb_array_length(items)) AS records, max(jsonb_array_length(items)) AS biggest FROM change_batches',
    );
    // Where the burst's time went: the inbox and the batches, in ms from the start.
    const timeline = await sandbox.pool.query<Record<string, number | null>>(
      `SELECT
         (SELECT round(extract(epoch FROM min(received_at) - $1::timestamptz) * 1000) FROM inbox_messages
           WHERE source = 'custompms.webhook') AS "firstWebhookReceivedMs",
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
    const profiled = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      const phase = profileDir ? await startProfiler() : undefined;
      const result = await run();
      await phase?.stop(path.join(profileDir!, `${name}.cpuprofile`));
      return result;
    };
    const editBurst = await profiled('custompms-edit-burst', () => custompmsEditBurst(sandbox, created));
    const toCustompms = await profiled('salesforce-burst', () => salesforceBurst(sandbox, created));
    const orgBurstQueries = process.env.BENCH_QUERY_STATS ? topQueries() : undefined;
    const latency = samples > 0 ? await latencies(sandbox, created, samples) : undefined;
    const report = {
      writePath: process.env.SALESFORCE_WRITE_PATH ?? 'apex',
      profile,
      proxyProcesses: processes,
      records: expected,
      seconds: Number(seconds.toFixed(1)),
      recordsPerSecond: Math.round(expected / seconds),
      salesforceApiCalls: spent,
      apiCallsPerRecord: Number((spent / expected).toFixed(3)),
      publishedEvents: usage.publishedEvents - usageBefore.publishedEvents,
      batches: Number(batches.rows[0]!.n),
      recordsPerBatch: Number((Number(batches.rows[0]!.records) / Number(batches.rows[0]!.n)).toFixed(1)),
      biggestBatch: batches.rows[0]!.biggest,
      callsByCategory,
      timeline: timeline.rows[0],
      ...(pool ? { poolDuringBurst: pool } : {}),
      custompmsEditBurst: editBurst,
      salesforceBurst: toCustompms,
      ...(burstQueries ? { burstQueries, orgBurstQueries } : {}),
      ...(latency
        ? {
            latencyCustompmsToSalesforce: {
              ...summary(latency.toSalesforce),
              timedOut: latency.timedOut.toSalesforce,
              ...(explainSlowMs !== undefined ? { slow: latency.slow } : {}),
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
