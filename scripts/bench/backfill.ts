/**
 * Benchmark: `npm run backfill -- --flow all` against the two emulators and an embedded
 * PostgreSQL, for a Custompms with N tasks (and N/100 projects, N/1000 customers).
 *
 *   npx tsx scripts/bench/backfill.ts [tasks=50000]
 *
 * The backfill runs as its own process (the CLI), so its memory is measured apart from the
 * emulators': peak resident set size (VmHWM from /proc, sampled) and the CLI's own peak heap
 * (live data after a forced GC, sampled every 500 ms by heap-probe.mjs). Reports wall time, Salesforce API calls
 * (the emulator's daily-usage counter, by category) and Custompms requests, then runs the
 * backfill a second time (expected: 0 created, every record unchanged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPool } from '../../proxy/src/store/database';
import { startEmbeddedPostgres } from '../../proxy/src/store/embedded-postgres';
import { migrate } from '../../proxy/src/store/migrate';
import { startCustompmsEmulator } from '../../test/emulators/custompms/server';
import { startSalesforceEmulator } from '../../test/emulators/salesforce';
import { atMost, parseCommandLine, positiveInteger } from '../lib/cli';
import { runMeasured, type MeasuredRun } from '../lib/measured-process';

const USAGE = `Usage: npx tsx scripts/bench/backfill.ts [tasks]

Runs the backfill CLI twice against both emulators for a Custompms with <tasks> tasks (default
50000), N/100 projects and N/1000 customers; prints time, memory and API calls.`;

const ROOT = path.resolve(__dirname, '../..');

async function runCli(env: Record<string, string>): Promise<MeasuredRun> {
  const run = await runMeasured(
    [
      '--expose-gc',
      // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the backfill process (open it in Chrome DevTools).
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      '--import',
      'tsx',
      '--import',
      './scripts/bench/heap-probe.mjs',
      'scripts/backfill.ts',
      '--flow',
      'all',
    ],
    env,
    ROOT,
  );
  if (run.code !== 0 || process.env.LOG_LEVEL) process.stderr.write(run.stderr.slice(-20000));
  return run;
}

async function main(): Promise<void> {
  const { positionals } = parseCommandLine(USAGE, {
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const taskCount = positiveInteger(USAGE, 'tasks', atMost(USAGE, positionals, 1)[0], 50_000);
  const projectCount = Math.max(1, Math.round(taskCount / 100));
  const customerCount = Math.max(1, Math.round(taskCount / 1000));
  const dataRoot = mkdtempSync(path.join(tmpdir(), 'bench-backfill-'));
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, 'db'), port: 0 });
  const pool = createPool(postgres.connectionString);
  await migrate(pool);
  // As test/support/e2e.ts starts it: force-app deployed, and the integration user holds the
  // system permissions README's "What the integration user needs" asks an admin to grant.
  const sf = await startSalesforceEmulator({
    deployForceApp: true,
    integrationUserSystemPermissions: ['ViewAllData', 'ModifyAllData'],
  });
  const token = 'bench-token-123456';
  const cpms = await startCustompmsEmulator({ token });
  try {
    const seedStart = performance.now();
    const customers = cpms.controls.seed(
      'customers',
      Array.from({ length: customerCount }, (_, i) => ({ name: `Customer ${i}`, is_active: true })),
    );
    const projects = cpms.controls.seed(
      'projects',
      Array.from({ length: projectCount }, (_, i) => ({
        customer_id: customers[i % customerCount]!.id,
        name: `Project ${i}`,
        status: 'active' as const,
        priority: 'normal' as const,
        due_date: '2027-01-31',
      })),
    );
    for (let start = 0; start < taskCount; start += 10_000) {
      cpms.controls.seed(
        'tasks',
        Array.from({ length: Math.min(10_000, taskCount - start) }, (_, k) => ({
          project_id: projects[(start + k) % projectCount]!.id,
          title: `Task ${start + k}`,
          description: `Generated task ${start + k} for the backfill benchmark`,
          status: 'todo' as const,
          priority: 'normal' as const,
        })),
      );
    }
    process.stdout.write(
      `seeded ${customerCount} customers, ${projectCount} projects, ${taskCount} tasks in ${Math.round(performance.now() - seedStart)} ms\n`,
    );
    const env = {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      DATABASE_URL: postgres.connectionString,
      ...sf.proxyEnv(),
      CUSTOMPMS_BASE_URL: cpms.url,
      CUSTOMPMS_API_TOKEN: token,
      BACKFILL_BENCH_HEAP: '1',
    };
    for (const label of ['first run', 'second run']) {
      const before = sf.apiUsage();
      cpms.controls.clearRequests();
      const result = await runCli(env);
      const after = sf.apiUsage();
      const byCategory = Object.fromEntries(
        Object.entries(after.byCategory)
          .map(([category, n]) => [category, n - (before.byCategory[category] ?? 0)])
          .filter(([, n]) => Number(n) > 0),
      );
      process.stdout.write(
        `\n${label}: exit ${result.code}, ${(result.ms / 1000).toFixed(1)} s, ` +
          `peak RSS ${result.rssMb.toFixed(0)} MB, peak heap ${result.heapMb.toFixed(0)} MB, ` +
          `Salesforce API calls ${after.used - before.used} ${JSON.stringify(byCategory)}, ` +
          `Bulk batches ${after.bulkBatches - before.bulkBatches}, ` +
          `Custompms requests ${cpms.controls.requests().length}\n${result.stdout}`,
      );
    }
  } finally {
    await cpms.stop();
    await sf.close();
    await pool.end();
    await postgres.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
