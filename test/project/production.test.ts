/**
 * The production path, as Heroku runs it: the Procfile's `release`, `web` and `worker` commands,
 * each its own process, from the compiled build (tsc into a temporary app folder) with only the
 * production dependencies (`npm ci --omit=dev`, cached by package-lock hash: no devDependency is
 * on the module path, and the folder has no parent node_modules), `NODE_ENV=production`, a
 * PostgreSQL database of its own (DATABASE_URL, as the Heroku Postgres add-on sets it) and only
 * the variables app.json marks required (their app.json values; secrets generated as Heroku's
 * `generator: secret` does).
 *
 * 1. A fresh app without any Salesforce or Custompms credentials releases (migrations), starts,
 *    is ready and says what is not configured; its pollers for the unconfigured sides are not
 *    scheduled, so nothing fails or dead-letters.
 * 2. With the credentials added (emulated org with force-app, Custompms reference server), the
 *    processes restart and a record syncs both ways; `doctor --json` from the build passes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from 'jsforce';
import { startCustompmsEmulator, type CustompmsEmulator } from '../emulators/custompms/server';
import { startSalesforceEmulator, type SalesforceEmulator } from '../emulators/salesforce';
import { DEFAULT_OUTBOUND } from '../emulators/salesforce/automation/outbound';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { eventually } from '../support/eventually';

jest.setTimeout(600_000);

const root = path.resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** `npm ci --omit=dev` once per package-lock, kept in the user's cache. */
function productionModules(): string {
  const lock = readFileSync(path.join(root, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 16);
  const dir = path.join(os.homedir(), '.cache', 'custompms-sync', 'prod-modules', hash);
  const done = path.join(dir, '.installed');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    cpSync(path.join(root, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    const result = spawnSync(npm, ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`npm ci --omit=dev failed:\n${result.stderr}`);
    writeFileSync(done, new Date().toISOString());
  }
  return path.join(dir, 'node_modules');
}

/** The app as a Heroku slug holds it: dist/, production node_modules, package.json, Procfile. */
function buildApp(): string {
  const app = mkdtempSync(path.join(os.tmpdir(), 'cps-slug-'));
  const tsc = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      path.join(root, 'tsconfig.build.json'),
      '--outDir',
      path.join(app, 'dist/proxy/src'),
      '--rootDir',
      path.join(root, 'proxy/src'),
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  cpSync(path.join(root, 'proxy/src/store/migrations'), path.join(app, 'dist/proxy/src/store/migrations'), {
    recursive: true,
  });
  for (const file of ['package.json', 'Procfile', 'app.json'])
    cpSync(path.join(root, file), path.join(app, file));
  symlinkSync(productionModules(), path.join(app, 'node_modules'), 'dir');
  mkdirSync(path.join(app, 'home'));
  return app;
}

function procfile(): Record<string, string> {
  const text = readFileSync(path.join(root, 'Procfile'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([a-z]+):\s*(.+)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[2]!]),
  );
}

/** The variables app.json marks required, with their values (or a generated secret). */
function requiredAppEnv(): Record<string, string> {
  const app = JSON.parse(readFileSync(path.join(root, 'app.json'), 'utf8')) as {
    env: Record<string, { value?: string; generator?: string; required?: boolean }>;
  };
  const env: Record<string, string> = {};
  for (const [name, spec] of Object.entries(app.env)) {
    if (spec.required === false) continue;
    if (spec.value !== undefined) env[name] = spec.value;
    else if (spec.generator === 'secret') env[name] = randomBytes(32).toString('hex');
    else throw new Error(`app.json requires ${name} but gives it no value or generator`);
  }
  return env;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Proc {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

function run(app: string, command: string, env: Record<string, string>): Proc {
  // bash -c as Heroku runs Procfile commands (a single command is exec'd), in its own process
  // group like a dyno: SIGTERM goes to every process of it.
  const child = spawn('bash', ['-c', command], {
    cwd: app,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

async function stop(proc: Proc | undefined): Promise<number | null | undefined> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return proc?.child.exitCode;
  process.kill(-proc.child.pid!, 'SIGTERM');
  return proc.exit;
}

describe('the Procfile from the compiled build with production dependencies only', () => {
  let app: string;
  let db: TestDatabase;
  let env: Record<string, string>;
  let port: number;
  let web: Proc | undefined;
  let worker: Proc | undefined;
  let sf: SalesforceEmulator | undefined;
  let cpms: CustompmsEmulator | undefined;
  const commands = procfile();

  beforeAll(async () => {
    app = buildApp();
    db = await createTestDatabase();
    port = await freePort();
    env = {
      PATH: process.env.PATH ?? '',
      HOME: path.join(app, 'home'),
      DATABASE_URL: db.connectionString,
      PORT: String(port),
      ...requiredAppEnv(),
    };
  });
  afterAll(async () => {
    for (const proc of [web, worker]) {
      if (proc && proc.child.exitCode === null && proc.child.signalCode === null)
        process.kill(-proc.child.pid!, 'SIGKILL');
    }
    await cpms?.stop();
    await sf?.close();
    await db?.drop();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  const base = () => `http://127.0.0.1:${port}`;
  const startWebAndWorker = async (withEnv: Record<string, string>) => {
    web = run(app, commands.web!, withEnv);
    worker = run(app, commands.worker!, withEnv);
    await eventually(
      async () => {
        if (web!.child.exitCode !== null) throw new Error(`web exited:\n${web!.output()}`);
        return (await fetch(`${base()}/readyz`)).status === 200;
      },
      { what: 'the web process to answer /readyz', timeoutMs: 60_000, intervalMs: 100 },
    );
    await eventually(
      () => {
        if (worker!.child.exitCode !== null) throw new Error(`worker exited:\n${worker!.output()}`);
        return worker!.output().includes('worker running');
      },
      { what: 'the worker process to run', timeoutMs: 60_000, intervalMs: 100 },
    );
  };

  it('has no devDependency on the module path', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    for (const name of ['tsx', 'jest', 'supertest', 'ts-jest', '@salesforce/cli', 'eslint']) {
      expect(Object.keys(pkg.devDependencies)).toContain(name);
      expect({ name, installed: existsSync(path.join(app, 'node_modules', name)) }).toEqual({
        name,
        installed: false,
      });
    }
    expect(process.env.NODE_PATH ?? '').toBe('');
    expect(env.NODE_PATH).toBeUndefined();
    expect(env.NODE_ENV).toBe('production');
  });

  it('refuses to start in production without DATABASE_URL, with a clear message', async () => {
    const { DATABASE_URL: _unused, ...withoutDatabase } = env;
    const web0 = run(app, commands.web!, withoutDatabase);
    expect(await web0.exit).not.toBe(0);
    expect(web0.output()).toMatch(/DATABASE_URL is required when NODE_ENV=production/);
  });

  it('releases, starts web and worker, and reports what is not configured on a fresh app', async () => {
    const release = run(app, commands.release!, env);
    expect({ code: await release.exit, output: release.output() }).toEqual({
      code: 0,
      output: expect.stringMatching(/migrations applied/),
    });
    await startWebAndWorker(env);

    const ready = (await (await fetch(`${base()}/readyz`)).json()) as {
      status: string;
      notConfigured: Record<string, string>;
    };
    expect(ready.status).toBe('ready');
    expect(ready.notConfigured.salesforce).toMatch(
      /SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET are not set/,
    );
    expect(ready.notConfigured.custompms).toBe('CUSTOMPMS_BASE_URL not set');
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    const status = await fetch(`${base()}/admin/v1/status`, {
      headers: { authorization: `Bearer ${env.ADMIN_API_KEY}` },
    });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { notConfigured: Record<string, string> }).notConfigured).toHaveProperty(
      'salesforce',
    );
    // The pollers of both unconfigured sides were never scheduled: nothing fails, nothing is parked.
    const crontabs = await db.pool.query<{ identifier: string }>(
      'SELECT identifier FROM graphile_worker._private_known_crontabs',
    );
    expect(crontabs.rows.map((row) => row.identifier).filter((id) => id.startsWith('poll_'))).toEqual([]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM sync_problems')).rows[0].n).toBe(0);

    expect(await stop(web)).toBe(0);
    expect(await stop(worker)).toBe(0);
  });

  it('syncs a record both ways once the credentials are added, and doctor --json passes', async () => {
    const secret = () => randomBytes(24).toString('hex');
    const cpmsToken = `cpms_${secret()}`;
    const webhookSecret = `whsec_${secret()}`;
    sf = await startSalesforceEmulator({
      deployForceApp: true,
      outbound: { ...DEFAULT_OUTBOUND, timeScale: 0.001, dispatchIntervalMs: 20 },
    });
    cpms = await startCustompmsEmulator({ token: cpmsToken });
    // What the deploy script and the admin's Setup steps do in a real org.
    sf.org.setOutboundEndpoint(`${base()}/salesforce/v1/outbound-messages/${env.OUTBOUND_MESSAGE_TOKEN}`);
    sf.org.setProxy({ url: base(), apiKey: env.PROXY_API_KEY! });
    cpms.controls.setWebhook({
      url: `${base()}/custompms/v1/webhooks`,
      secret: webhookSecret,
      baseDelayMs: 50,
    });
    const configured = {
      ...env,
      ...sf.proxyEnv(),
      CUSTOMPMS_BASE_URL: cpms.url,
      CUSTOMPMS_API_TOKEN: cpmsToken,
      CUSTOMPMS_WEBHOOK_SECRETS: webhookSecret,
      PUBLIC_URL: base(),
    };
    const release = run(app, commands.release!, configured);
    expect(await release.exit).toBe(0);
    await startWebAndWorker(configured);
    const ready = (await (await fetch(`${base()}/readyz`)).json()) as Record<string, unknown>;
    expect(ready.notConfigured).toBeUndefined();

    // Custompms → Salesforce.
    const customer = cpms.controls.create('customers', { name: 'Acme Production', is_active: true });
    const project = cpms.controls.create('projects', {
      customer_id: customer.id,
      name: 'Go live',
      status: 'active',
      priority: 'high',
    });
    const conn = new Connection({
      instanceUrl: sf.url,
      accessToken: sf.tokenFor(sf.adminUsername),
      version: '65.0',
    });
    const task = await eventually(
      async () =>
        (
          await conn.query<{ Id: string; Subject: string }>(
            `SELECT Id, Subject FROM Task WHERE Custompms_Id__c = '${project.id}'`,
          )
        ).records[0],
      { what: 'the project to reach Salesforce', timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(task.Subject).toBe('Go live');

    // Salesforce → Custompms (Flow → outbound message → proxy → Custompms).
    await conn.sobject('Task').update({ Id: task.Id, Subject: 'Go live in December' });
    await eventually(() => cpms!.controls.record('projects', project.id)?.name === 'Go live in December', {
      what: 'the Salesforce edit to reach Custompms',
      timeoutMs: 60_000,
      intervalMs: 100,
    });

    // As the README writes it (npm prints its banner first; the JSON follows).
    const doctor = run(app, 'npm run doctor -- --json', configured);
    const code = await doctor.exit;
    const report = JSON.parse(doctor.output().slice(doctor.output().indexOf('{'))) as {
      ok: boolean;
      checks: { id: string; status: string }[];
    };
    expect({ code, failed: report.checks.filter((check) => check.status === 'fail') }).toEqual({
      code: 0,
      failed: [],
    });
    expect(report.ok).toBe(true);

    expect(await stop(web)).toBe(0);
    expect(await stop(worker)).toBe(0);
  });
});
