/**
 * The whole product on one machine: the Salesforce emulator, the Custompms reference server,
 * the proxy (HTTP + worker) and a fresh database, wired as `npm run sandbox` wires them.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Runner } from 'graphile-worker';
import { Connection } from 'jsforce';
import { createApp } from '../../proxy/src/app';
import { loadConfig, type Config } from '../../proxy/src/config';
import { createSyncDeps, type SyncDeps } from '../../proxy/src/jobs/deps';
import { buildTaskList } from '../../proxy/src/jobs/tasks';
import { startWorker } from '../../proxy/src/jobs/worker';
import { deployWithCli } from '../../scripts/sandbox';
import { ShiftedClock, startSalesforceEmulator, type SalesforceEmulator } from '../emulators/salesforce';
import { DEFAULT_OUTBOUND, type OutboundOptions } from '../emulators/salesforce/automation/outbound';
import { startCustompmsEmulator, type CustompmsEmulator } from '../emulators/custompms/server';
import { createTestDatabase, type TestDatabase } from './database';
import { eventually } from './eventually';
import { captureLogs } from './logs';

export interface World {
  sf: SalesforceEmulator;
  cpms: CustompmsEmulator;
  db: TestDatabase;
  config: Config;
  deps: SyncDeps;
  proxyUrl: string;
  /**
   * Both emulators' clock: real time plus an offset. `clock.advance(ms)` moves Salesforce's
   * SystemModstamps and Custompms's updated_at forward together, instead of sleeping until the
   * next second (Salesforce stamps to the second).
   */
  clock: ShiftedClock;
  /** Stops the proxy's HTTP server and worker (the database and both emulators stay up). */
  stopProxy(): Promise<void>;
  /** Starts them again on the same port and database, as a restarted dyno would. */
  startProxy(): Promise<void>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  writePath?: 'apex' | 'api';
  /** Extra proxy configuration (environment variable names, as in README.md). */
  env?: Record<string, string>;
  /** Outbound-message delivery options of the emulated org (duplicates, order, …). */
  outbound?: Partial<OutboundOptions>;
  /**
   * How force-app reaches the emulated org: `in-process` (default, fast) or `cli`: the deploy
   * script and the real sf CLI, after the proxy is up, exactly as `npm run sandbox` does it.
   */
  deploy?: 'in-process' | 'cli';
  /**
   * System permissions an admin grants the integration user beyond force-app's permission sets.
   * Default: View All Data and Modify All Data, as README's "What the integration user needs"
   * documents; `[]` proves a path works with force-app's grants alone.
   */
  integrationUserSystemPermissions?: string[];
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const secret = () => randomBytes(24).toString('hex');
  const outboundToken = secret();
  const apiKey = secret() + secret();
  const webhookSecret = `whsec_${secret()}`;
  const cpmsToken = `cpms_${secret()}`;
  const db = await createTestDatabase({ migrated: true });
  const clock = new ShiftedClock();
  const sf = await startSalesforceEmulator({
    clock,
    deployForceApp: options.deploy !== 'cli',
    integrationUserSystemPermissions: options.integrationUserSystemPermissions ?? [
      'ViewAllData',
      'ModifyAllData',
    ],
    outbound: { ...DEFAULT_OUTBOUND, timeScale: 0.001, dispatchIntervalMs: 20, ...options.outbound },
  });
  const cpms = await startCustompmsEmulator({ token: cpmsToken, clock: () => clock.now() });
  const config = loadConfig({
    ...sf.proxyEnv(),
    SALESFORCE_WRITE_PATH: options.writePath ?? 'apex',
    OUTBOUND_MESSAGE_TOKEN: outboundToken,
    PROXY_API_KEY: apiKey,
    CUSTOMPMS_BASE_URL: cpms.url,
    CUSTOMPMS_API_TOKEN: cpmsToken,
    CUSTOMPMS_WEBHOOK_SECRETS: webhookSecret,
    ...options.env,
  });
  const { logger } = captureLogs('warn');
  const deps = createSyncDeps(config, db.pool, logger);
  let server: Server | undefined;
  let runner: Runner | undefined;
  let port = 0;
  const startProxy = async () => {
    const app = createApp({ config, logger, pool: db.pool });
    server = app.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    runner = await startWorker({ pool: db.pool, logger, concurrency: 4, taskList: buildTaskList(deps) });
  };
  const stopProxy = async () => {
    await runner?.stop();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
    runner = undefined;
    server = undefined;
  };
  await startProxy();
  const proxyUrl = `http://127.0.0.1:${port}`;
  cpms.controls.setWebhook({
    url: `${proxyUrl}/custompms/v1/webhooks`,
    secret: webhookSecret,
    baseDelayMs: 50,
  });
  if (options.deploy === 'cli') {
    // The deploy fills in the Named Credential URL and the outbound endpoint; the API key is what
    // an admin enters in Setup.
    await deployWithCli({
      instanceUrl: sf.url,
      accessToken: sf.tokenFor(sf.adminUsername),
      proxyUrl,
      outboundToken,
      integrationUser: sf.integrationUsername,
      quiet: true,
    });
    sf.org.apex.setCredentialParameter('Custompms_Proxy', 'ApiKey', apiKey);
  } else {
    sf.org.setOutboundEndpoint(`${proxyUrl}/salesforce/v1/outbound-messages/${outboundToken}`);
    sf.org.setProxy({ url: proxyUrl, apiKey });
  }
  return {
    sf,
    cpms,
    db,
    config,
    deps,
    proxyUrl,
    clock,
    startProxy,
    stopProxy,
    async stop() {
      await stopProxy();
      await cpms.stop();
      await sf.close();
      await db.drop();
    },
  };
}

/**
 * Counts saves (inserts and updates, by anyone) per record in the emulated org from now on, by
 * wrapping the org's after-save hook: how the e2e suites prove "one edit, one write".
 */
export function countSaves(sf: SalesforceEmulator): { of(id: string): number; stop(): void } {
  const counts = new Map<string, number>();
  const hooks = sf.org.db.hooks;
  sf.org.db.hooks = {
    ...hooks,
    afterSave(tx, object, event, record, prior) {
      const id = String(record.Id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      hooks.afterSave(tx, object, event, record, prior);
    },
  };
  return {
    of: (id) => counts.get(id) ?? 0,
    stop: () => {
      sf.org.db.hooks = hooks;
    },
  };
}

/** Writes (POST, PATCH, PUT, DELETE) the proxy made to Custompms's API since the log was cleared. */
export function custompmsWrites(cpms: CustompmsEmulator) {
  return cpms.controls.requests().filter((entry) => entry.method !== 'GET' && entry.path.startsWith('/api/'));
}

/** A jsforce connection as an ordinary admin user of the emulated org (not the integration user). */
export function adminConnection(world: World): Connection {
  return new Connection({
    instanceUrl: world.sf.url,
    accessToken: world.sf.tokenFor(world.sf.adminUsername),
    version: '65.0',
  });
}

/** The Salesforce id linked to a Custompms record now, if any. */
export async function currentLinkedId(
  world: World,
  flow: string,
  custompmsId: string,
): Promise<string | undefined> {
  const row = await world.db.pool.query<{ salesforce_id: string }>(
    'SELECT salesforce_id FROM links WHERE flow = $1 AND custompms_id = $2 AND salesforce_id IS NOT NULL',
    [flow, custompmsId],
  );
  return row.rows[0]?.salesforce_id;
}

/** The Salesforce id linked to a Custompms record, once there is one. */
export function linkedId(world: World, flow: string, custompmsId: string): Promise<string> {
  return eventually(() => currentLinkedId(world, flow, custompmsId), {
    what: `a Salesforce id linked to ${flow} ${custompmsId}`,
    timeoutMs: 60_000,
  });
}

/**
 * Waits until the proxy has processed the webhook Custompms sent for this version of a record
 * (its inbox row is marked processed): the proof that an echo of the proxy's own write arrived.
 */
export async function webhookProcessed(world: World, custompmsId: string, version: number): Promise<void> {
  const event = await eventually(
    () =>
      world.cpms.controls
        .events()
        .find((candidate) => candidate.data.id === custompmsId && candidate.data.version === version),
    `Custompms to emit the webhook for ${custompmsId} version ${version}`,
  );
  await eventually(
    async () =>
      (
        await world.db.pool.query(
          "SELECT 1 FROM inbox_messages WHERE source = 'custompms.webhook' AND dedupe_key = $1 AND processed_at IS NOT NULL",
          [event.id],
        )
      ).rowCount === 1,
    {
      what: `the proxy to process webhook ${event.id} (${custompmsId} version ${version})`,
      timeoutMs: 60_000,
    },
  );
}

/**
 * Something that changes whenever an emulator does anything: a request served (either side), an
 * outbound delivery, an Apex job, a Custompms webhook event or delivery attempt.
 */
function activity(world: World): unknown[] {
  const { org } = world.sf;
  const { controls } = world.cpms;
  return [
    org.requestLog.length,
    org.requestLog.at(-1),
    org.outbound.attempts.length,
    org.apex.jobs.length,
    controls.requests().length,
    controls.events().length,
    controls.deliveries().length,
  ];
}

/** The proxy's unfinished work, from its store; empty when there is none. */
async function proxyBacklog(world: World): Promise<string[]> {
  const { rows } = await world.db.pool.query<{
    inbox: number;
    outbox: number;
    batches: number;
    jobs: { task: string; attempts: number; running: boolean; last_error: string | null }[];
  }>(
    `SELECT
       (SELECT count(*) FROM inbox_messages WHERE processed_at IS NULL)::int AS inbox,
       (SELECT count(*) FROM outbox)::int AS outbox,
       (SELECT count(*) FROM change_batches WHERE status IN ('open', 'published'))::int AS batches,
       (SELECT coalesce(json_agg(json_build_object(
                 'task', task_identifier, 'attempts', attempts, 'running', locked_at IS NOT NULL,
                 'last_error', left(last_error, 300))), '[]'::json)
          FROM graphile_worker.jobs WHERE attempts < max_attempts) AS jobs`,
  );
  const row = rows[0]!;
  const backlog: string[] = [];
  if (row.inbox > 0) backlog.push(`${row.inbox} inbox message(s) unprocessed`);
  if (row.outbox > 0) backlog.push(`${row.outbox} outbox row(s)`);
  if (row.batches > 0) backlog.push(`${row.batches} change batch(es) open or published`);
  if (row.jobs.length > 0) backlog.push(`graphile jobs pending or running: ${JSON.stringify(row.jobs)}`);
  return backlog;
}

/**
 * Waits until the whole world is at rest: the emulated org settled (events, Apex jobs, bulk jobs)
 * with no outbound notification queued, no Custompms webhook in flight, and the proxy's store
 * without unprocessed inbox messages, live graphile jobs, outbox rows or open/published batches,
 * all in one pass during which neither emulator did anything. Failing, it names what was left.
 */
export async function quiet(world: World, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      const before = activity(world);
      await world.sf.org.settle();
      await world.cpms.controls.flushWebhooks();
      const left = await proxyBacklog(world);
      const queued = world.sf.org.outbound.queue.length;
      if (queued > 0) left.push(`${queued} outbound notification(s) queued in the org`);
      const after = activity(world);
      if (after.some((value, index) => value !== before[index])) left.push('the emulators were still busy');
      if (left.length > 0) throw new Error(left.join('; '));
      return true;
    },
    { what: 'the world to be quiet', timeoutMs },
  );
}
