// tsc compiles TypeScript only; the SQL migrations travel beside the compiled migrate.js, and the
// operator console's stylesheet and script beside its compiled router.
import { cpSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `Usage: node scripts/copy-migrations.mjs

Copies proxy/src/store/migrations to dist/proxy/src/store/migrations and
proxy/src/http/console/assets to dist/proxy/src/http/console/assets (run by npm run build).`;

let help;
try {
  ({
    values: { help },
  } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, strict: true }));
} catch (error) {
  process.stderr.write(`${error.message}\n${USAGE}\n`);
  process.exit(2);
}
if (help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

cpSync('proxy/src/store/migrations', 'dist/proxy/src/store/migrations', { recursive: true });
cpSync('proxy/src/http/console/assets', 'dist/proxy/src/http/console/assets', { recursive: true });
