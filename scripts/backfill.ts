/**
 * `npx tsx scripts/backfill.ts --flow …`: the same command as `npm run backfill -- …`
 * (`custompms-sync backfill`, proxy/src/cli/backfill.ts), run from the sources — kept for
 * scripts/bench/backfill.ts, which measures it in its own process. Options, output and exit codes
 * are the CLI's (`--help`).
 */
import { main } from '../proxy/src/cli';

main(['backfill', ...process.argv.slice(2)]).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (error: unknown) => {
    process.stderr.write(`backfill failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(4);
  },
);
