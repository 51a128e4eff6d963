// Preloaded into the backfill CLI by scripts/bench/backfill.ts: samples the heap every 100 ms and
// prints the peak on stderr at exit (only when BACKFILL_BENCH_HEAP is set).
if (process.env.BACKFILL_BENCH_HEAP) {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  setInterval(sample, 100).unref();
  process.on('exit', () => {
    sample();
    process.stderr.write(`BENCH_PEAK_HEAP_MB=${(peak / 1024 / 1024).toFixed(1)}\n`);
  });
}
