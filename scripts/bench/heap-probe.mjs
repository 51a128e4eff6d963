// Preloaded into the backfill CLI by scripts/bench/backfill.ts (only when BACKFILL_BENCH_HEAP is
// set): every 500 ms a full GC (the child runs with --expose-gc) and a heap sample, so the peak
// printed at exit is the peak of live data, not of garbage V8 had not collected yet.
import { getHeapSpaceStatistics } from 'node:v8';

if (process.env.BACKFILL_BENCH_HEAP) {
  let peak = 0;
  let peakRss = { rss: 0 };
  let spaces = '';
  const sample = () => {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    peak = Math.max(peak, usage.heapUsed);
    if (usage.rss > peakRss.rss) {
      peakRss = usage;
      spaces = getHeapSpaceStatistics()
        .map((space) => `${space.space_name}=${(space.space_size / 1024 / 1024).toFixed(0)}`)
        .join(' ');
    }
  };
  setInterval(sample, 500).unref();
  process.on('exit', () => {
    sample();
    process.stderr.write(`BENCH_PEAK_HEAP_MB=${(peak / 1024 / 1024).toFixed(1)}\n`);
    const mb = (n) => (n / 1024 / 1024).toFixed(0);
    process.stderr.write(
      `BENCH_AT_PEAK_RSS rss=${mb(peakRss.rss)} heapTotal=${mb(peakRss.heapTotal)} heapUsed=${mb(peakRss.heapUsed)} external=${mb(peakRss.external)} arrayBuffers=${mb(peakRss.arrayBuffers)} ${spaces}\n`,
    );
  });
}
