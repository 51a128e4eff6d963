/**
 * Benchmark: the incremental path under a burst. N tasks (under N/100 projects of one customer)
 * are created in Custompms at once; each webhook reaches the proxy, the changes are coalesced
 * into batches (≤200 records, one Custompms_Change__e each, ≤200 events per publish call) and the
 * org's Apex pulls them. Reports the time until every record is linked, and the Salesforce API
 * calls the proxy spent (the emulator's daily-usage counter), per record.
 *
 *   npx tsx scripts/bench/incremental.ts [tasks=2000] [--api]
 *
 * `--api` uses the direct write path (sObject Collections) instead of events + Apex.
 */
import { Connection } from 'jsforce';
import { atMost, parseCommandLine, positiveInteger } from '../lib/cli';
import { startSandbox } from '../sandbox';

const USAGE = `Usage: npx tsx scripts/bench/incremental.ts [tasks] [--api]

Creates <tasks> tasks (default 2000) in Custompms at once and measures until all are linked.
  --api   the direct write path (sObject Collections) instead of events + Apex`;

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine(USAGE, {
    options: { api: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const tasks = positiveInteger(USAGE, 'tasks', atMost(USAGE, positionals, 1)[0], 2_000);
  if (values.api) process.env.SALESFORCE_WRITE_PATH = 'api';
  const sandbox = await startSandbox({
    dataDir: '.data/bench-incremental',
    deploy: 'in-process',
    logLevel: 'error',
  });
  try {
    const { controls } = sandbox.custompms;
    const usageBefore = sandbox.salesforce.apiUsage().used;
    const started = performance.now();
    const customer = controls.create('customers', { name: 'Bench customer', is_active: true });
    const projects = Array.from({ length: Math.max(1, Math.floor(tasks / 100)) }, (_, index) =>
      controls.create('projects', {
        customer_id: customer.id,
        name: `Bench project ${index}`,
        status: 'active',
      }),
    );
    for (let index = 0; index < tasks; index++) {
      controls.create('tasks', {
        project_id: projects[index % projects.length]!.id,
        title: `Bench task ${index}`,
        status: 'todo',
      });
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
    const report = {
      writePath: process.env.SALESFORCE_WRITE_PATH ?? 'apex',
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
