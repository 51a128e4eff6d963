/**
 * The process as Heroku runs it: start with no configuration on embedded PostgreSQL, answer
 * /readyz, exit 0 on SIGTERM, reuse the data on a second start, refuse bad configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { freePort } from '../../proxy/src/store/embedded-postgres';
import { eventually } from '../support/eventually';

const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

interface Started {
  child: ChildProcess;
  output: () => string;
}

function start(env: Record<string, string>): Started {
  let output = '';
  const child = spawn(tsx, ['proxy/src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** Waits until the process answers GET /readyz with 200. */
async function waitReady(started: Started, port: number, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      if (started.child.exitCode !== null) {
        throw new Error(`the process exited (${started.child.exitCode}): ${started.output()}`);
      }
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    },
    { what: `GET /readyz on port ${port} to answer 200`, timeoutMs, intervalMs: 100 },
  );
}

async function stop(started: Started): Promise<number | null> {
  started.child.kill('SIGTERM');
  const [code] = (await once(started.child, 'exit')) as [number | null];
  return code;
}

describe('server process', () => {
  const dataRoot = mkdtempSync(path.join(tmpdir(), 'cps-server-'));
  afterAll(() => rmSync(dataRoot, { recursive: true, force: true }));

  it('starts on embedded PostgreSQL, drains on SIGTERM with exit 0, and reuses its data', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const env = {
      PORT: String(port),
      EMBEDDED_POSTGRES_DIR: path.join(dataRoot, 'pg'),
      EMBEDDED_POSTGRES_PORT: String(pgPort),
      LOG_LEVEL: 'info',
    };
    const first = start(env);
    // The first start also runs initdb. Not a speed check (benchmarks measure start-up): the wait
    // is generous because jest shares two cores with every other suite.
    await waitReady(first, port, 60_000);
    const client = new pg.Client(`postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`);
    await client.connect();
    await client.query(
      "INSERT INTO inbox_messages (source, dedupe_key, payload) VALUES ('test', 'kept-across-restarts', '{}')",
    );
    await client.end();
    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');

    const second = start(env);
    await waitReady(second, port, 60_000);
    const again = new pg.Client(`postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`);
    await again.connect();
    const rows = await again.query("SELECT 1 FROM inbox_messages WHERE dedupe_key = 'kept-across-restarts'");
    await again.end();
    expect(rows.rowCount).toBe(1);
    expect(await stop(second)).toBe(0);
  }, 60_000);

  it('exits non-zero naming an invalid variable', async () => {
    const started = start({ PORT: 'not-a-port', LOG_LEVEL: 'shouting' });
    const [code] = (await once(started.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(started.output()).toMatch(/Invalid configuration: .*PORT/);
    expect(started.output()).toContain('LOG_LEVEL');
  }, 30_000);
});
