/**
 * The whole product on one machine: the Salesforce emulator, the Custompms reference server,
 * the proxy (HTTP + worker) and a fresh database, wired as `npm run sandbox` wires them.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Runner } from 'graphile-worker';
import { createApp } from '../../proxy/src/app';
import { loadConfig, type Config } from '../../proxy/src/config';
import { createSyncDeps, type SyncDeps } from '../../proxy/src/jobs/deps';
import { buildTaskList } from '../../proxy/src/jobs/tasks';
import { startWorker } from '../../proxy/src/jobs/worker';
import { startSalesforceEmulator, type SalesforceEmulator } from '../emulators/salesforce';
import { DEFAULT_OUTBOUND } from '../emulators/salesforce/automation/outbound';
import { startCustompmsEmulator, type CustompmsEmulator } from '../emulators/custompms/server';
import { createTestDatabase, type TestDatabase } from './database';
import { captureLogs } from './logs';

export interface World {
  sf: SalesforceEmulator;
  cpms: CustompmsEmulator;
  db: TestDatabase;
  config: Config;
  deps: SyncDeps;
  proxyUrl: string;
  stop(): Promise<void>;
}

export async function startWorld(options: { writePath?: 'apex' | 'api' } = {}): Promise<World> {
  const secret = () => randomBytes(24).toString('hex');
  const outboundToken = secret();
  const apiKey = secret() + secret();
  const webhookSecret = `whsec_${secret()}`;
  const cpmsToken = `cpms_${secret()}`;
  const db = await createTestDatabase({ migrated: true });
  const sf = await startSalesforceEmulator({
    deployForceApp: true,
    outbound: { ...DEFAULT_OUTBOUND, timeScale: 0.001, dispatchIntervalMs: 20 },
  });
  const cpms = await startCustompmsEmulator({ token: cpmsToken });
  const config = loadConfig({
    SALESFORCE_AUTH: 'client_credentials',
    SALESFORCE_LOGIN_URL: sf.url,
    SALESFORCE_INSTANCE_URL: sf.url,
    SALESFORCE_CLIENT_ID: sf.clientId,
    SALESFORCE_CLIENT_SECRET: sf.clientSecret,
    SALESFORCE_ORG_ID: sf.orgId,
    SALESFORCE_WRITE_PATH: options.writePath ?? 'apex',
    OUTBOUND_MESSAGE_TOKEN: outboundToken,
    PROXY_API_KEY: apiKey,
    CUSTOMPMS_BASE_URL: cpms.url,
    CUSTOMPMS_API_TOKEN: cpmsToken,
    CUSTOMPMS_WEBHOOK_SECRETS: webhookSecret,
  });
  const { logger } = captureLogs('warn');
  const app = createApp({ config, logger, pool: db.pool });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cpms.controls.setWebhook({
    url: `${proxyUrl}/custompms/v1/webhooks`,
    secret: webhookSecret,
    baseDelayMs: 50,
  });
  sf.org.setOutboundEndpoint(`${proxyUrl}/salesforce/v1/outbound-messages/${outboundToken}`);
  sf.org.setProxy({ url: proxyUrl, apiKey });
  const deps = createSyncDeps(config, db.pool, logger);
  const runner: Runner = await startWorker({
    pool: db.pool,
    logger,
    concurrency: 4,
    taskList: buildTaskList(deps),
  });
  return {
    sf,
    cpms,
    db,
    config,
    deps,
    proxyUrl,
    async stop() {
      await runner.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cpms.stop();
      await sf.close();
      await db.drop();
    },
  };
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `condition not met within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`,
  );
}
