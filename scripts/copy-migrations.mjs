// tsc compiles TypeScript only; the SQL migrations travel beside the compiled migrate.js.
import { cpSync } from 'node:fs';

cpSync('proxy/src/store/migrations', 'dist/proxy/src/store/migrations', { recursive: true });
