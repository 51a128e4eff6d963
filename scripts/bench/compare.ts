/**
 * Benchmark: the backfill side by side with what a client could do without this product, in one
 * run, on the same emulated org and latency profile (test/emulators/salesforce/latency.ts):
 *
 *   (a) raw Bulk API 2.0: one ingest job straight into the emulator (the ceiling);
 *   (b) a per-record REST peer: one sObject create per record, 8 in flight;
 *   (c) a Collections peer: 200 records per call, 4 in flight;
 *   (d) this product's backfill (`--flow tasks`, the CLI as its own process, as bench/backfill.ts).
 *
 * and, with `--incremental N`, the incremental path: a per-record peer (one upsert per change,
 * 8 in flight) beside scripts/bench/incremental.ts (this product, a burst of N Custompms tasks).
 * Prints a table (records/s, Salesforce API calls, peak RSS, ratio to raw) and writes it as JSON.
 *
 *   npx tsx scripts/bench/compare.ts [--records 100000] [--profile zero|realistic]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPool } from '../../proxy/src/store/database';
import { startEmbeddedPostgres } from '../../proxy/src/store/embedded-postgres';
import { migrate } from '../../proxy/src/store/migrate';
import { startCustompmsEmulator } from '../../test/emulators/custompms/server';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../test/emulators/salesforce';
import { exitWithUsageError, parseCommandLine, positiveInteger } from '../lib/cli';
import { runMeasured } from '../lib/measured-process';

const USAGE = `Usage: npx tsx scripts/bench/compare.ts [options]

Loads N Tasks into the emulated org four ways (raw Bulk API 2.0, a per-record REST peer, a
Collections peer, this product's backfill) on one latency profile and prints a table.
  --records N        records for raw Bulk and the backfill (default 10000)
  --peer-records N   records for the REST and Collections peers (default: --records, at most 5000;
                     their rate is steady, so a sample measures it)
  --profile NAME     zero (default) or realistic (both emulators' latency.ts)
  --incremental N    also the incremental path: a per-record peer and scripts/bench/incremental.ts
                     for a burst of N Custompms tasks (default 0: skipped)
  --out FILE         the JSON report (default test-output/bench/compare-<profile>.json)
  --sources          run the backfill from the sources (tsx) instead of a fresh compiled build
                     (tsc into a temporary folder: how it runs in production, npm run backfill)
  -h, --help`;

const ROOT = path.resolve(__dirname, '../..');
const VERSION = '65.0';

interface Row {
  method: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  apiCalls: number;
  peakRssMb: number | null;
  ratioToRaw: number | null;
  note?: string;
}

/**
 * The proxy compiled as `npm run build` does (migrations beside it), into .data/ of the checkout
 * (so its imports resolve from node_modules), emptied first.
 */
function compile(): string {
  const out = path.join(ROOT, '.data', 'bench-compare-dist');
  rmSync(out, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) throw new Error('tsc failed');
  cpSync(path.join(ROOT, 'proxy/src/store/migrations'), path.join(out, 'proxy/src/store/migrations'), {
    recursive: true,
  });
  return out;
}

/** Runs `work` with at most `limit` of `items` in flight. */
async function inFlight<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function task(prefix: string, index: number): Record<string, string> {
  return {
    Subject: `${prefix} task ${index}`,
    Description: `Generated task ${index} for the comparison benchmark`,
    Status: 'Not Started',
    Priority: 'Normal',
    Custompms_Id__c: `${prefix}-${index}`,
    Custompms_Type__c: 'Task',
  };
}

class Org {
  readonly base: string;
  readonly headers: Record<string, string>;
  constructor(readonly sf: SalesforceEmulator) {
    this.base = `${sf.url}/services/data/v${VERSION}`;
    this.headers = { authorization: `Bearer ${sf.tokenFor()}` };
  }

  async json(method: string, suffix: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.base}${suffix}`, {
      method,
      headers: { ...this.headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${suffix}: ${response.status} ${text.slice(0, 300)}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }
}

/** Measures `work` on the org: seconds and API calls. */
async function measure(
  sf: SalesforceEmulator,
  method: string,
  records: number,
  work: () => Promise<void>,
): Promise<Row> {
  const before = sf.apiUsage().used;
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return {
    method,
    records,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSecond: Math.round(records / seconds),
    apiCalls: sf.apiUsage().used - before,
    peakRssMb: null,
    ratioToRaw: null,
    note: 'in the benchmark process (with both emulators): no RSS of its own',
  };
}

async function rawBulk(org: Org, count: number): Promise<void> {
  const job = (await org.json('POST', '/jobs/ingest', {
    object: 'Task',
    operation: 'upsert',
    externalIdFieldName: 'Custompms_Id__c',
    contentType: 'CSV',
    lineEnding: 'LF',
  })) as { id: string };
  const columns = Object.keys(task('raw', 0));
  const lines = [columns.join(',')];
  for (let i = 0; i < count; i++) {
    const record = task('raw', i);
    lines.push(columns.map((column) => record[column]).join(','));
  }
  const upload = await fetch(`${org.base}/jobs/ingest/${job.id}/batches`, {
    method: 'PUT',
    headers: { ...org.headers, 'content-type': 'text/csv' },
    body: `${lines.join('\n')}\n`,
  });
  if (!upload.ok) throw new Error(`upload: ${upload.status} ${await upload.text()}`);
  await org.json('PATCH', `/jobs/ingest/${job.id}`, { state: 'UploadComplete' });
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    const info = (await org.json('GET', `/jobs/ingest/${job.id}`)) as {
      state: string;
      numberRecordsFailed: number;
    };
    if (info.state === 'JobComplete') {
      if (info.numberRecordsFailed > 0) throw new Error(`raw Bulk: ${info.numberRecordsFailed} failed`);
      break;
    }
    if (info.state === 'Failed' || info.state === 'Aborted') throw new Error(`raw Bulk job ${info.state}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  // The results a client reads back to know each record's Id.
  const results = await fetch(`${org.base}/jobs/ingest/${job.id}/successfulResults`, {
    headers: org.headers,
  });
  await results.text();
}

async function restPeer(org: Org, count: number): Promise<void> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  await inFlight(indexes, 8, async (i) => {
    await org.json('POST', '/sobjects/Task', task('rest', i));
  });
}

async function collectionsPeer(org: Org, count: number): Promise<void> {
  const chunks: number[][] = [];
  for (let start = 0; start < count; start += 200) {
    chunks.push(Array.from({ length: Math.min(200, count - start) }, (_, k) => start + k));
  }
  await inFlight(chunks, 4, async (chunk) => {
    const results = (await org.json('POST', '/composite/sobjects', {
      allOrNone: false,
      records: chunk.map((i) => ({ attributes: { type: 'Task' }, ...task('coll', i) })),
    })) as { success: boolean }[];
    if (results.some((result) => !result.success)) throw new Error('Collections peer: a record failed');
  });
}

/** The incremental path's peer: one upsert per Custompms change, 8 in flight. */
async function incrementalPeer(org: Org, count: number): Promise<void> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  await inFlight(indexes, 8, async (i) => {
    const { Custompms_Id__c: id, ...fields } = task('incr', i);
    await org.json('PATCH', `/sobjects/Task/Custompms_Id__c/${id}`, fields);
  });
}

function table(rows: readonly Row[]): string {
  const header = ['method', 'records', 's', 'records/s', 'API calls', 'peak RSS MB', '× raw'];
  const lines = rows.map((row) => [
    row.method,
    String(row.records),
    row.seconds.toFixed(1),
    String(row.recordsPerSecond),
    String(row.apiCalls),
    row.peakRssMb === null ? '—' : row.peakRssMb.toFixed(0),
    row.ratioToRaw === null ? '—' : row.ratioToRaw.toFixed(2),
  ]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  return [header, ...lines]
    .map((line) =>
      line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

async function main(): Promise<void> {
  const { values } = parseCommandLine(USAGE, {
    options: {
      records: { type: 'string' },
      'peer-records': { type: 'string' },
      profile: { type: 'string' },
      incremental: { type: 'string' },
      out: { type: 'string' },
      sources: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const profile = values.profile ?? 'zero';
  if (profile !== 'zero' && profile !== 'realistic') {
    exitWithUsageError(USAGE, `--profile must be zero or realistic, not "${profile}"`);
  }
  const records = positiveInteger(USAGE, '--records', values.records, 10_000);
  const peerRecords = positiveInteger(
    USAGE,
    '--peer-records',
    values['peer-records'],
    Math.min(records, 5_000),
  );
  const incremental =
    values.incremental === undefined ? 0 : positiveInteger(USAGE, '--incremental', values.incremental, 0);
  const out = values.out ?? path.join(ROOT, 'test-output', 'bench', `compare-${profile}.json`);

  const dataRoot = mkdtempSync(path.join(tmpdir(), 'bench-compare-'));
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, 'db'), port: 0 });
  const pool = createPool(postgres.connectionString);
  await migrate(pool);
  const sf = await startSalesforceEmulator({
    deployForceApp: true,
    integrationUserSystemPermissions: ['ViewAllData', 'ModifyAllData'],
    latency: profile,
  });
  const token = 'bench-token-123456';
  const cpms = await startCustompmsEmulator({ token, latency: profile });
  const rows: Row[] = [];
  try {
    const org = new Org(sf);
    const log = (line: string) => process.stderr.write(`${line}\n`);
    log(`profile ${profile}: raw Bulk API 2.0, ${records} records…`);
    rows.push(await measure(sf, 'raw Bulk API 2.0 (one job)', records, () => rawBulk(org, records)));
    log(`per-record REST peer, ${peerRecords} records…`);
    rows.push(
      await measure(sf, 'per-record REST peer (8 in flight)', peerRecords, () => restPeer(org, peerRecords)),
    );
    log(`Collections peer, ${peerRecords} records…`);
    rows.push(
      await measure(sf, 'Collections peer (200/call, 4 in flight)', peerRecords, () =>
        collectionsPeer(org, peerRecords),
      ),
    );

    // (d) The backfill of `records` tasks (under one customer's projects, already linked by a
    // first run of the customers and projects flows, so the row measures the Task load alone).
    const customers = cpms.controls.seed('customers', [{ name: 'Compare customer', is_active: true }]);
    const projectCount = Math.max(1, Math.round(records / 100));
    const projects = cpms.controls.seed(
      'projects',
      Array.from({ length: projectCount }, (_, i) => ({
        customer_id: customers[0]!.id,
        name: `Compare project ${i}`,
        status: 'active' as const,
        priority: 'normal' as const,
      })),
    );
    for (let start = 0; start < records; start += 10_000) {
      cpms.controls.seed(
        'tasks',
        Array.from({ length: Math.min(10_000, records - start) }, (_, k) => ({
          project_id: projects[(start + k) % projectCount]!.id,
          title: `Task ${start + k}`,
          description: `Generated task ${start + k} for the comparison benchmark`,
          status: 'todo' as const,
          priority: 'normal' as const,
        })),
      );
    }
    const env = {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      DATABASE_URL: postgres.connectionString,
      ...sf.proxyEnv(),
      CUSTOMPMS_BASE_URL: cpms.url,
      CUSTOMPMS_API_TOKEN: token,
      BACKFILL_BENCH_HEAP: '1',
    };
    const compiled = values.sources ? undefined : compile();
    const cli = (flow: string) => [
      '--expose-gc',
      // BENCH_NODE_FLAGS: V8 flags for the backfill process (e.g. --max-semi-space-size=16).
      ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []),
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      ...(compiled ? [] : ['--import', 'tsx']),
      '--import',
      './scripts/bench/heap-probe.mjs',
      // BENCH_IMPORT=<module>: one more preload for the backfill process (e.g. a query timer).
      ...(process.env.BENCH_IMPORT ? ['--import', process.env.BENCH_IMPORT] : []),
      ...(compiled ? [path.join(compiled, 'proxy/src/cli/index.js'), 'backfill'] : ['scripts/backfill.ts']),
      '--flow',
      flow,
    ];
    log('backfill: customers and projects first…');
    for (const flow of ['customers', 'projects']) {
      const setup = await runMeasured(cli(flow), env, ROOT);
      if (setup.code !== 0) throw new Error(`backfill of ${flow} failed:\n${setup.stderr.slice(-4000)}`);
    }
    log(`backfill of ${records} tasks (its own process)…`);
    const before = sf.apiUsage().used;
    const run = await runMeasured(cli('tasks'), env, ROOT);
    if (run.code !== 0) throw new Error(`backfill failed (exit ${run.code}):\n${run.stderr.slice(-4000)}`);
    if (process.env.BENCH_IMPORT || process.env.LOG_LEVEL) process.stderr.write(run.stderr.slice(-20_000));
    // BENCH_STDERR=<file>: the backfill's whole stderr (its log lines: a Bulk job timeline).
    if (process.env.BENCH_STDERR) writeFileSync(process.env.BENCH_STDERR, run.stderr);
    rows.push({
      method: 'this product: backfill --flow tasks',
      records,
      seconds: Number((run.ms / 1000).toFixed(2)),
      recordsPerSecond: Math.round(records / (run.ms / 1000)),
      apiCalls: sf.apiUsage().used - before,
      peakRssMb: Number(run.rssMb.toFixed(0)),
      ratioToRaw: null,
      note: `whole process (${compiled ? 'compiled' : 'tsx'}), start-up included; peak live heap ${run.heapMb.toFixed(0)} MB`,
    });

    if (incremental > 0) {
      log(`incremental: per-record peer, ${incremental} changes…`);
      rows.push(
        await measure(sf, 'incremental: per-record upsert peer (8 in flight)', incremental, () =>
          incrementalPeer(org, incremental),
        ),
      );
      log(`incremental: this product, a burst of ${incremental} Custompms tasks…`);
      const bench = await runMeasured(
        [
          '--import',
          'tsx',
          'scripts/bench/incremental.ts',
          String(incremental),
          '--profile',
          profile,
          '--burst-only',
        ],
        { LOG_LEVEL: 'error' },
        ROOT,
      );
      const line = bench.stdout.trim().split('\n').at(-1) ?? '';
      if (bench.code !== 0 || !line.startsWith('{')) {
        throw new Error(`incremental bench failed:\n${bench.stderr.slice(-4000)}`);
      }
      const report = JSON.parse(line) as { records: number; seconds: number; salesforceApiCalls: number };
      rows.push({
        method: 'incremental: this product (events + Apex, a burst)',
        records: report.records,
        seconds: report.seconds,
        recordsPerSecond: Math.round(report.records / report.seconds),
        apiCalls: report.salesforceApiCalls,
        peakRssMb: null,
        ratioToRaw: null,
        note: 'scripts/bench/incremental.ts in its own stack (same profile); proxy in-process with its emulators',
      });
    }
  } finally {
    await cpms.stop();
    await sf.close();
    await pool.end();
    await postgres.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  }
  const raw = rows[0]!.recordsPerSecond;
  for (const row of rows) row.ratioToRaw = Number((row.recordsPerSecond / raw).toFixed(3));
  const report = {
    profile,
    at: new Date().toISOString(),
    machine: 'shared 2-core machine, emulators in the benchmark process: compare ratios, not absolutes',
    rows,
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`profile ${profile}\n${table(rows)}\n(JSON: ${path.relative(ROOT, out)})\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
