/** The console's script budget: everything a page loads, gzipped, stays within 200 KB. */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { CONSOLE_SCRIPTS } from '../../../proxy/src/http/console';

const BUDGET_BYTES = 200 * 1024;

it('loads at most 200 KB of script (gzip)', () => {
  const sizes = CONSOLE_SCRIPTS.map((file) => gzipSync(readFileSync(file), { level: 9 }).length);
  const total = sizes.reduce((a, b) => a + b, 0);
  expect(CONSOLE_SCRIPTS.length).toBeGreaterThan(0);
  expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
  // Measured, for the README: uPlot + the console's own script.
  expect(total).toBeGreaterThan(10_000);
});
