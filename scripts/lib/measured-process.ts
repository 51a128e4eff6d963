/**
 * A command run as its own process for a benchmark: wall time, peak RSS (the kernel's high-water
 * mark, sampled every 100 ms) and the peak live heap `scripts/bench/heap-probe.mjs` reports.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface MeasuredRun {
  code: number | null;
  ms: number;
  rssMb: number;
  /** NaN when the process was not started with the heap probe. */
  heapMb: number;
  stdout: string;
  stderr: string;
}

function peakRssMb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `node <args>` in `cwd` with only `env` (plus PATH and HOME). */
export async function runMeasured(
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): Promise<MeasuredRun> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...env, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let rss = 0;
  const timer = setInterval(() => {
    rss = Math.max(rss, peakRssMb(child.pid!) ?? 0);
  }, 100);
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(timer);
  const heap = /BENCH_PEAK_HEAP_MB=([\d.]+)/.exec(stderr);
  return {
    code,
    ms: performance.now() - started,
    rssMb: rss,
    heapMb: heap ? Number(heap[1]) : NaN,
    stdout,
    stderr,
  };
}
