/**
 * Benchmark: the Salesforce org emulator's start time, holding 100,000 Tasks in memory, and the
 * time to answer a 2,000-row query page (first page and a `nextRecordsUrl` page) over HTTP.
 *
 *   node --expose-gc --import tsx scripts/bench/salesforce-emulator.ts [tasks=100000] [runs=15]
 *
 * Start time is measured three ways: in this process including the import of the emulator's
 * modules (cold), a second start in the same process (warm), and the standalone entry point
 * (`main.ts`, a fresh Node process with tsx) until it prints its instance URL. Query pages are
 * measured with plain fetch (server time plus JSON transfer) and with jsforce (adds its parsing);
 * each figure is the median of the runs, after one unmeasured warm-up.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Transaction } from '../../test/emulators/salesforce/data/database';
import { atMost, parseCommandLine, positiveInteger } from '../lib/cli';

const USAGE = `Usage: node --expose-gc --import tsx scripts/bench/salesforce-emulator.ts [tasks] [runs]

Measures the emulator's start time, holding <tasks> Tasks (default 100000) and answering query
pages; each figure is the median of <runs> runs (default 15).`;

const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function standaloneStartMs(): Promise<number> {
  const root = path.resolve(__dirname, '../..');
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/emulators/salesforce/main.ts', '--port', '0'],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('"instanceUrl"')) {
        resolve(performance.now() - started);
        child.kill('SIGTERM');
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!out.includes('"instanceUrl"')) reject(new Error(`main.ts exited with ${code} before starting`));
    });
  });
}

async function main(): Promise<void> {
  const { positionals } = parseCommandLine(USAGE, {
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const [rawTasks, rawRuns] = atMost(USAGE, positionals, 2);
  const taskCount = positiveInteger(USAGE, 'tasks', rawTasks, 100_000);
  const runs = positiveInteger(USAGE, 'runs', rawRuns, 15);

  const coldStart = performance.now();
  const { startSalesforceEmulator } = await import('../../test/emulators/salesforce/server.js');
  const emulator = await startSalesforceEmulator({ deployForceApp: true });
  const coldMs = performance.now() - coldStart;

  const warmStart = performance.now();
  const second = await startSalesforceEmulator({ deployForceApp: true });
  const warmMs = performance.now() - warmStart;
  await second.close();

  const standaloneMs = await standaloneStartMs();

  try {
    const { parseJsonRecord } = await import('../../test/emulators/salesforce/data/values.js');
    const { Connection } = await import('jsforce');
    const org = emulator.org;
    const task = org.schema.object('Task')!;
    const heapBefore = heapMb();
    const loadStart = performance.now();
    const statuses = ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'];
    // Loaded through DML (rules, defaults, indexes) as the integration user, 200 per statement.
    for (let i = 0; i < taskCount; i += 200) {
      const chunk = Array.from({ length: Math.min(200, taskCount - i) }, (_, k) => {
        const n = i + k;
        return parseJsonRecord(task, {
          Subject: `Task ${n}`,
          Description: `Description of task ${n}`,
          Status: statuses[n % statuses.length],
          Priority: n % 3 === 0 ? 'High' : 'Normal',
          ActivityDate: `2026-${String((n % 12) + 1).padStart(2, '0')}-${String((n % 28) + 1).padStart(2, '0')}`,
          Custompms_Id__c: `cp-${n}`,
          Custompms_Type__c: n % 4 === 0 ? 'Project' : 'Task',
          Custompms_Project_Id__c: `prj-${n % 1000}`,
        });
      });
      org.transaction(org.integrationUserId, (tx: Transaction) =>
        tx.insert('Task', chunk, { allOrNone: true }),
      );
    }
    const loadMs = performance.now() - loadStart;
    const heapAfter = heapMb();

    const token = emulator.tokenFor();
    const headers = { authorization: `Bearer ${token}` };
    const base = `${emulator.url}/services/data/v65.0`;
    const queries: Record<string, string> = {
      unfiltered:
        'SELECT Id, Subject, Status, Priority, ActivityDate, Custompms_Id__c, SystemModstamp FROM Task',
      'filtered + ORDER BY':
        "SELECT Id, Subject, Status, Custompms_Id__c, SystemModstamp FROM Task WHERE Custompms_Type__c = 'Task' AND Status != 'Completed' ORDER BY Subject",
      'relationship (Owner.Email)': "SELECT Id, Subject, Owner.Email FROM Task WHERE Priority = 'High'",
    };
    const timeFetch = async (
      url: string,
    ): Promise<{ ms: number; body: { records: unknown[]; nextRecordsUrl?: string; totalSize: number } }> => {
      const started = performance.now();
      const response = await fetch(url, { headers });
      const body = (await response.json()) as {
        records: unknown[];
        nextRecordsUrl?: string;
        totalSize: number;
      };
      return { ms: performance.now() - started, body };
    };
    const conn = new Connection({ version: '65.0', instanceUrl: emulator.url, accessToken: token });
    const results: Record<string, unknown>[] = [];
    for (const [name, soql] of Object.entries(queries)) {
      const url = `${base}/query?q=${encodeURIComponent(soql)}`;
      await timeFetch(url); // warm-up
      const first: number[] = [];
      const next: number[] = [];
      const viaJsforce: number[] = [];
      let rows = 0;
      let total = 0;
      for (let r = 0; r < runs; r += 1) {
        const page = await timeFetch(url);
        first.push(page.ms);
        rows = page.body.records.length;
        total = page.body.totalSize;
        if (page.body.nextRecordsUrl)
          next.push((await timeFetch(`${emulator.url}${page.body.nextRecordsUrl}`)).ms);
        const started = performance.now();
        await conn.query(soql, { autoFetch: false });
        viaJsforce.push(performance.now() - started);
      }
      results.push({
        query: name,
        matched: total,
        pageRows: rows,
        firstPageMs: Number(median(first).toFixed(1)),
        nextPageMs: next.length ? Number(median(next).toFixed(1)) : null,
        jsforceFirstPageMs: Number(median(viaJsforce).toFixed(1)),
      });
    }

    console.log(
      JSON.stringify(
        {
          node: process.version,
          startMs: {
            inProcessCold: Number(coldMs.toFixed(0)),
            inProcessWarm: Number(warmMs.toFixed(0)),
            standaloneProcess: Number(standaloneMs.toFixed(0)),
          },
          tasks: {
            count: org.db.table('Task').size,
            loadSeconds: Number((loadMs / 1000).toFixed(2)),
            perRecordUs: Number(((loadMs * 1000) / taskCount).toFixed(1)),
            heapMb: {
              before: Number(heapBefore.toFixed(0)),
              after: Number(heapAfter.toFixed(0)),
              perTaskBytes: Math.round(((heapAfter - heapBefore) * 1024 * 1024) / taskCount),
            },
          },
          queryPages: results,
          apiCalls: emulator.apiUsage().used,
        },
        null,
        2,
      ),
    );
  } finally {
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
