/**
 * Benchmark: the Custompms client paging through the reference server, and GET throughput under
 * the concurrency bound. Shows time per record and that client memory stays flat as the record
 * count grows (the iterator holds one page).
 *
 *   node --expose-gc --import tsx scripts/bench/custompms-paging.ts [sizes=10000,100000] [limit=500]
 *
 * Heap is sampled every 10 pages with a forced GC when --expose-gc is given. The heap also holds
 * the in-process server's records, so read the spread (highest − lowest sample while paging, on a
 * second pass after an unmeasured warm-up): flat means the client keeps nothing between pages.
 */
import { CustompmsClient } from '../../proxy/src/custompms';
import { demoTask } from '../../test/emulators/custompms/fixtures';
import { startCustompmsEmulator } from '../../test/emulators/custompms/server';
import { atMost, exitWithUsageError, parseCommandLine, positiveInteger } from '../lib/cli';

const USAGE = `Usage: node --expose-gc --import tsx scripts/bench/custompms-paging.ts [sizes] [limit]

Pages through the reference server holding each of <sizes> records (comma-separated, default
10000,100000), <limit> per page (default 500), and measures time and client heap.`;

const TOKEN = 'bench-token';
const gc = (globalThis as { gc?: () => void }).gc;

function heapMb(): number {
  gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function pagingRun(size: number, limit: number) {
  const emulator = await startCustompmsEmulator({ token: TOKEN });
  try {
    emulator.controls.seed(
      'tasks',
      Array.from({ length: size }, (_, index) => demoTask('prj_bench', index)),
    );
    const client = new CustompmsClient({ baseUrl: emulator.url, token: TOKEN, timeoutMs: 30_000 });
    // One unmeasured pass first: the server's first read of each record flattens its strings
    // (V8 cons-strings), which grows the shared heap once and would be mistaken for the client.
    for await (const _page of client.listPages('tasks', { limit })) {
      // warm-up
    }
    // Heap while paging: if the client accumulated records it would climb with every page; the
    // spread between the lowest and highest sample is what paging costs.
    let low = Infinity;
    let high = -Infinity;
    let records = 0;
    let pages = 0;
    const started = performance.now();
    for await (const page of client.listPages('tasks', { limit })) {
      records += page.data.length;
      pages++;
      if (pages % 10 === 1) {
        const heap = heapMb();
        low = Math.min(low, heap);
        high = Math.max(high, heap);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      size,
      limit,
      records,
      pages,
      seconds,
      perSecond: records / seconds,
      heapSpreadMb: high - low,
      highMb: high,
    };
  } finally {
    await emulator.stop();
  }
}

async function getThroughput(count: number, concurrency: number) {
  const emulator = await startCustompmsEmulator({ token: TOKEN });
  try {
    const customers = emulator.controls.seed(
      'customers',
      Array.from({ length: 100 }, (_, index) => ({ name: `Customer ${index}` })),
    );
    const client = new CustompmsClient({ baseUrl: emulator.url, token: TOKEN, maxConcurrency: concurrency });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: count }, (_, index) =>
        client.get('customers', customers[index % customers.length]!.id),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      count,
      concurrency,
      seconds,
      perSecond: count / seconds,
      peakInFlight: emulator.controls.peakConcurrency(),
    };
  } finally {
    await emulator.stop();
  }
}

async function main() {
  const { positionals } = parseCommandLine(USAGE, {
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const [rawSizes, rawLimit] = atMost(USAGE, positionals, 2);
  const sizes = (rawSizes ?? '10000,100000')
    .split(',')
    .map((size) => positiveInteger(USAGE, 'a size', size, 0));
  if (sizes.length === 0) exitWithUsageError(USAGE, 'sizes must list at least one record count');
  const limit = positiveInteger(USAGE, 'limit', rawLimit, 500);
  if (!gc) console.log('(run with node --expose-gc for steadier heap numbers)');
  console.log(
    'paging: records | page size | pages | seconds | records/s | heap spread while paging (MB) | heap high (MB)',
  );
  for (const size of sizes) {
    const result = await pagingRun(size, limit);
    console.log(
      `  ${result.records} | ${result.limit} | ${result.pages} | ${result.seconds.toFixed(2)} | ${Math.round(result.perSecond)} | ${result.heapSpreadMb.toFixed(1)} | ${result.highMb.toFixed(0)}`,
    );
  }
  console.log('get: requests | max concurrency | seconds | requests/s | peak in flight at the server');
  for (const concurrency of [1, 8]) {
    const result = await getThroughput(2_000, concurrency);
    console.log(
      `  ${result.count} | ${result.concurrency} | ${result.seconds.toFixed(2)} | ${Math.round(result.perSecond)} | ${result.peakInFlight}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
