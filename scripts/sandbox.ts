/**
 * `npm run sandbox`: the Salesforce emulator, the Custompms reference server and the proxy
 * (HTTP + worker, embedded PostgreSQL in .data/sandbox), wired with generated secrets. The
 * emulated org starts empty: force-app reaches it as it reaches a real org, through
 * scripts/deploy-org.ts and the real sf CLI (progress on stderr). Prints one JSON line with the
 * URLs and credentials on stdout, then runs until stopped (Ctrl-C).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type pg from 'pg';
import { createApp } from '../proxy/src/app';
import { loadConfig } from '../proxy/src/config';
import { createSyncDeps } from '../proxy/src/jobs/deps';
import { buildTaskList, pollerCrontab } from '../proxy/src/jobs/tasks';
import { startWorker } from '../proxy/src/jobs/worker';
import { createLogger } from '../proxy/src/logger';
import { openDatabase } from '../proxy/src/store/database';
import { freePort } from '../proxy/src/store/embedded-postgres';
import { migrate } from '../proxy/src/store/migrate';
import { startSalesforceEmulator } from '../test/emulators/salesforce';
import { DEFAULT_OUTBOUND } from '../test/emulators/salesforce/automation/outbound';
import { DEFAULT_PASSWORD, webLogin } from '../test/emulators/salesforce/http/web-login';
import { startCustompmsEmulator } from '../test/emulators/custompms/server';
import { parseCommandLine } from './lib/cli';

const secret = (bytes = 24) => randomBytes(bytes).toString('hex');

/** Proxy settings taken from this process's environment (README, Configuration). */
const TUNING_VARIABLES = ['WORKER_CONCURRENCY', 'CUSTOMPMS_MAX_CONCURRENCY', 'SALESFORCE_API_BUDGET_PERCENT'];

/** What `npm run sandbox` prints: everything a person or a script needs to use the stack. */
export interface SandboxInfo {
  proxyUrl: string;
  salesforceUrl: string;
  salesforceAccessToken: string;
  orgId: string;
  custompmsUrl: string;
  custompmsToken: string;
  outboundMessageUrl: string;
  /** Bearer key of the proxy's admin API (/admin/v1/status, problems, conflicts, replay). */
  adminApiKey: string;
  /** Bearer key of GET /metrics. */
  metricsApiKey: string;
  /** The operator console, and who signs in to it on the emulated org's login page. */
  consoleUrl: string;
  consoleUsername: string;
  consolePassword: string;
}

export interface Sandbox {
  info: SandboxInfo;
  salesforce: Awaited<ReturnType<typeof startSalesforceEmulator>>;
  custompms: Awaited<ReturnType<typeof startCustompmsEmulator>>;
  /** The proxy's database (for scripts that report on it, e.g. benchmarks). */
  pool: pg.Pool;
  /**
   * The proxy's environment, as a process would get it (DATABASE_URL of the embedded PostgreSQL,
   * PUBLIC_URL, every key): `custompms-sync doctor` or `backfill` run with it against the sandbox.
   */
  proxyEnv: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Deploys force-app to the emulator with the deploy script and the real sf CLI, asynchronously
 * (the emulator answers from this process). Its output goes to stderr.
 */
export async function deployWithCli(args: {
  instanceUrl: string;
  accessToken: string;
  proxyUrl: string;
  outboundToken: string;
  integrationUser: string;
  quiet: boolean;
}): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const child = spawn(
    path.join(root, 'node_modules', '.bin', 'tsx'),
    [
      'scripts/deploy-org.ts',
      '--emulator',
      args.instanceUrl,
      '--proxy-url',
      args.proxyUrl,
      '--integration-user',
      args.integrationUser,
    ],
    {
      cwd: root,
      // stdout → our stderr: the JSON line stays the only thing on stdout. Quiet: kept, and
      // shown only if the deploy fails.
      stdio: args.quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', process.stderr, process.stderr],
      env: { ...process.env, SF_ACCESS_TOKEN: args.accessToken, OUTBOUND_MESSAGE_TOKEN: args.outboundToken },
    },
  );
  const output: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0 && args.quiet) process.stderr.write(Buffer.concat(output));
  if (code !== 0)
    throw new Error(`deploying force-app to the emulator with the sf CLI failed (exit ${code})`);
}

export interface SandboxOptions {
  dataDir?: string;
  logLevel?: string;
  /**
   * How force-app reaches the emulated org: `cli` (default) through scripts/deploy-org.ts and the
   * real sf CLI, as for a real org; `in-process` through the same deploy path without the CLI
   * (seconds faster).
   */
  deploy?: 'cli' | 'in-process';
  /** Keep the sf CLI's output to itself unless the deploy fails. */
  quietDeploy?: boolean;
  /** An empty PostgreSQL database to use instead of the embedded one (tests: one per suite). */
  databaseUrl?: string;
  /** Both emulators' latency profile (their latency.ts; benchmarks): `zero` (default) or `realistic`. */
  latency?: 'zero' | 'realistic';
  /**
   * Where the proxy runs: `0` (default) in this process beside the emulators; `1` one process
   * (`server.ts`, its worker inside) or `2` two (`server.ts` + `worker.ts`, as the Procfile's web
   * and worker dynos), each with its own CPU share as in production, where the emulated systems
   * are other machines (benchmarks).
   */
  proxyProcesses?: 0 | 1 | 2;
}

/** Starts the whole stack (also used by `npm run demo`). */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const outboundToken = secret();
  const apiKey = secret(32);
  const adminApiKey = secret(32);
  const metricsApiKey = secret(32);
  const webhookSecret = `whsec_${secret()}`;
  const custompmsToken = `cpms_${secret()}`;
  const sf = await startSalesforceEmulator({
    outbound: { ...DEFAULT_OUTBOUND, timeScale: 0.01 },
    ...(options.latency ? { latency: options.latency } : {}),
  });
  // The admin's step from README "What the integration user needs": record access for the proxy's
  // own API calls (Tasks of any owner, Division writes).
  sf.org.users.grantSystemPermission(sf.org.integrationUserId, 'ViewAllData');
  sf.org.users.grantSystemPermission(sf.org.integrationUserId, 'ModifyAllData');
  const cpms = await startCustompmsEmulator({
    token: custompmsToken,
    ...(options.latency ? { latency: options.latency } : {}),
  });
  const env: Record<string, string> = {
    LOG_LEVEL: options.logLevel ?? process.env.LOG_LEVEL ?? 'warn',
    EMBEDDED_POSTGRES_DIR: options.dataDir ?? '.data/sandbox',
    EMBEDDED_POSTGRES_PORT: '0',
    ...sf.proxyEnv(),
    SALESFORCE_WRITE_PATH: process.env.SALESFORCE_WRITE_PATH ?? 'apex',
    OUTBOUND_MESSAGE_TOKEN: outboundToken,
    PROXY_API_KEY: apiKey,
    ADMIN_API_KEY: adminApiKey,
    METRICS_API_KEY: metricsApiKey,
    CUSTOMPMS_BASE_URL: cpms.url,
    CUSTOMPMS_API_TOKEN: custompmsToken,
    CUSTOMPMS_WEBHOOK_SECRETS: webhookSecret,
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    // Tuning a benchmark may set.
    ...Object.fromEntries(
      TUNING_VARIABLES.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
    ),
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, name: 'sandbox' });
  // The emulators start empty every time, so the store must too: links from an earlier run
  // would point at records that no longer exist (and ids the new run hands out again).
  if (!options.databaseUrl) rmSync(config.database.embeddedDir, { recursive: true, force: true });
  const database = await openDatabase(config.database, logger);
  await migrate(database.pool);
  let server: Server | undefined;
  let proxyUrl: string;
  if (options.proxyProcesses) {
    proxyUrl = `http://127.0.0.1:${process.env.PORT ?? (await freePort())}`;
  } else {
    server = createApp({ config, logger, pool: database.pool }).listen(
      Number(process.env.PORT ?? 0),
      '127.0.0.1',
    );
    await once(server, 'listening');
    proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const outboundMessageUrl = `${proxyUrl}/salesforce/v1/outbound-messages/${outboundToken}`;
  // The console signs in through the org's own app (SALESFORCE_CLIENT_ID): its callback URL.
  webLogin(sf.org).registerApp({
    clientId: sf.clientId,
    callbackUrls: [`${proxyUrl}/console/auth/callback`],
  });
  cpms.controls.setWebhook({ url: `${proxyUrl}/custompms/v1/webhooks`, secret: webhookSecret });
  if (options.deploy === 'in-process') {
    await sf.org.deploySource();
    sf.org.setOutboundEndpoint(outboundMessageUrl);
    sf.org.setProxy({ url: proxyUrl, apiKey });
  } else {
    process.stderr.write('sandbox: deploying force-app to the emulated org with the sf CLI…\n');
    await deployWithCli({
      instanceUrl: sf.url,
      accessToken: sf.tokenFor(sf.adminUsername),
      proxyUrl,
      outboundToken,
      integrationUser: sf.integrationUsername,
      quiet: options.quietDeploy ?? false,
    });
    // The deploy set the Named Credential URL and the outbound endpoint; the API key is the one
    // thing an admin enters in Setup (External Credential principal parameter).
    sf.org.apex.setCredentialParameter('Custompms_Proxy', 'ApiKey', apiKey);
  }
  const proxyEnv = { ...env, DATABASE_URL: database.connectionString, PUBLIC_URL: proxyUrl };
  const worker = options.proxyProcesses
    ? undefined
    : await startWorker({
        pool: database.pool,
        logger,
        concurrency: config.worker.concurrency,
        taskList: buildTaskList(createSyncDeps(config, database.pool, logger)),
        crontab: pollerCrontab(1),
      });
  const children = options.proxyProcesses
    ? await startProxyProcesses(options.proxyProcesses, proxyEnv, proxyUrl)
    : [];
  const info: SandboxInfo = {
    proxyUrl,
    salesforceUrl: sf.url,
    salesforceAccessToken: sf.tokenFor(sf.adminUsername),
    orgId: sf.orgId,
    custompmsUrl: cpms.url,
    custompmsToken,
    outboundMessageUrl,
    adminApiKey,
    metricsApiKey,
    consoleUrl: `${proxyUrl}/console`,
    consoleUsername: sf.adminUsername,
    consolePassword: DEFAULT_PASSWORD,
  };
  const stop = async () => {
    await worker?.stop();
    server?.closeAllConnections();
    server?.close();
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await once(child, 'exit');
      }),
    );
    await cpms.stop();
    await sf.close();
    await database.close();
  };
  return { info, salesforce: sf, custompms: cpms, pool: database.pool, proxyEnv, stop };
}

/**
 * The proxy as its own processes (`SandboxOptions.proxyProcesses`), from the TypeScript source as
 * `npm run chaos` runs it; resolves once it answers /healthz. Their output goes to stderr.
 */
async function startProxyProcesses(
  count: 1 | 2,
  env: Record<string, string>,
  proxyUrl: string,
): Promise<ChildProcess[]> {
  const root = path.resolve(__dirname, '..');
  const base = {
    ...process.env,
    ...env,
    NODE_ENV: 'development',
    DATABASE_SSL: 'off',
    PORT: new URL(proxyUrl).port,
  };
  const start = (file: string, extra: Record<string, string>) =>
    spawn(process.execPath, ['--import', 'tsx', path.join(root, 'proxy/src', file)], {
      cwd: root,
      env: { ...base, ...extra },
      stdio: ['ignore', process.stderr, process.stderr],
    });
  const children =
    count === 1
      ? [start('server.ts', { RUN_WORKER: 'true' })]
      : [start('server.ts', { RUN_WORKER: 'false' }), start('worker.ts', {})];
  const deadline = Date.now() + 120_000;
  for (;;) {
    const exited = children.find((child) => child.exitCode !== null);
    if (exited) throw new Error(`a proxy process exited with ${exited.exitCode} before it was up`);
    if ((await fetch(`${proxyUrl}/healthz`).catch(() => undefined))?.ok) return children;
    if (Date.now() > deadline) throw new Error('the proxy processes did not answer /healthz within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const USAGE = `Usage: npm run sandbox

Starts the Salesforce emulator (force-app deployed with the sf CLI), the Custompms reference
server and the proxy; prints one JSON line with the URLs and credentials, then runs until Ctrl-C.
Environment: SALESFORCE_WRITE_PATH (apex|api), LOG_LEVEL, PORT.`;

async function main(): Promise<void> {
  parseCommandLine(USAGE, { options: { help: { type: 'boolean', short: 'h' } } });
  const sandbox = await startSandbox();
  process.stdout.write(JSON.stringify(sandbox.info) + '\n');
  const stop = async () => {
    await sandbox.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`sandbox failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
