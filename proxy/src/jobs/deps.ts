/**
 * What the jobs need, built once per process by `app`/`runtime` wiring and passed to every task.
 * Salesforce is connected lazily (and once): the proxy starts and serves even while the org is
 * unreachable, and jobs that need it retry. `salesforce()` only connects; reading the org's
 * mapping records into `definition` is its own step (jobs/org-mapping.ts `refreshOrgMapping`).
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createCustompmsClient, type CustompmsClient } from '../custompms/client';
import { SalesforceClient } from '../salesforce/client';
import { OrgDirectory } from '../salesforce/directory';
import { SalesforceOperations } from '../salesforce/operations';
import { applyOverrides, FLOWS, type FlowSettingOverride, type SyncDefinition } from '../sync';
import { DEFAULT_API_BUDGET_PERCENT } from './api-budget';
import { trackOrgMapping } from './org-mapping';

export interface SalesforceServices {
  client: SalesforceClient;
  operations: SalesforceOperations;
  org: OrgDirectory;
  /** The user the proxy runs as: owner of last resort (MAPPING.md), and never echoed. */
  integrationUserId: string;
}

export interface SyncSettings {
  writePath: 'apex' | 'api';
  /** Records per change batch (one platform event, one Apex transaction per object). */
  batchSize: number;
  /** How long the org has to report a batch's results before it is announced again. */
  batchDeadlineMs: number;
  /** Announcements of one batch before it is given up (dead letter). */
  maxPublishes: number;
  /** A batch taken from the outbox and not published within this long was left by a dead process. */
  openBatchStaleMs: number;
  /** Mass-delete brake: more deletes than this within `massDeleteWindowMs` pauses deletes. */
  massDeleteLimit: number;
  massDeleteWindowMs: number;
  /** Days kept of processed inbox messages, finished batches, conflicts and resolved problems. */
  retentionDays: number;
  createCustomersFromDivisions: boolean;
  /** Pollers re-read this far behind their watermark, so nothing at a window edge is lost. */
  pollOverlapMs: number;
  /** How often the org's field-map and setting records are read again. */
  mappingRefreshMs: number;
  /** The pollers' cron interval (`POLL_INTERVAL_SECONDS` in whole minutes): the API budget's slot. */
  pollIntervalMs: number;
  /** Share (%) of the org's daily API allowance the proxy may use (jobs/api-budget.ts). */
  apiBudgetPercent: number;
}

export interface SyncDeps {
  pool: pg.Pool;
  logger: Logger;
  definition: SyncDefinition;
  settings: SyncSettings;
  custompms: () => CustompmsClient;
  salesforce: () => Promise<SalesforceServices>;
  now: () => Date;
  /**
   * Ends every outbound call in flight or to come with `reason` (the worker shutting down): a job
   * then fails at once and is retried, instead of running on until the process is killed.
   */
  abortCalls: (reason: Error) => void;
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = {
  writePath: 'apex',
  batchSize: 200,
  batchDeadlineMs: 5 * 60_000,
  maxPublishes: 5,
  openBatchStaleMs: 60_000,
  massDeleteLimit: 100,
  massDeleteWindowMs: 10 * 60_000,
  retentionDays: 30,
  createCustomersFromDivisions: false,
  pollOverlapMs: 5 * 60_000,
  mappingRefreshMs: 5 * 60_000,
  pollIntervalMs: 60_000,
  apiBudgetPercent: DEFAULT_API_BUDGET_PERCENT,
};

/** Builds the jobs' dependencies from the configuration. Nothing connects until first use. */
export function createSyncDeps(
  config: Config,
  pool: pg.Pool,
  logger: Logger,
  overrides: Partial<SyncSettings> = {},
): SyncDeps {
  const configured: FlowSettingOverride[] = Object.values(FLOWS).map((flow) => ({
    flow: flow.name,
    conflictPolicy: config.sync.conflictPolicy,
    // Customers are never deleted in Salesforce (Division has no delete): they deactivate.
    ...(flow.salesforceObject === 'Task' ? { deletePolicy: config.sync.deletePolicy } : {}),
    ...(flow.name === 'customers' ? { createFromSalesforce: config.sync.createCustomersFromDivisions } : {}),
  }));
  const { definition, problems } = applyOverrides(FLOWS, { flows: configured });
  for (const problem of problems) logger.warn({ problem }, 'sync setting not applied');

  let custompms: CustompmsClient | undefined;
  let salesforce: Promise<SalesforceServices> | undefined;
  const shutdown = new AbortController();
  const connectSalesforce = async (): Promise<SalesforceServices> => {
    const client = await SalesforceClient.connect(config.salesforce, { logger, signal: shutdown.signal });
    const operations = new SalesforceOperations(client);
    const integrationUserId = client.userId ?? (await identityUserId(client));
    return { client, operations, org: new OrgDirectory(operations), integrationUserId };
  };
  const deps: SyncDeps = {
    pool,
    logger,
    definition,
    settings: {
      ...DEFAULT_SYNC_SETTINGS,
      writePath: config.salesforce.writePath,
      createCustomersFromDivisions: config.sync.createCustomersFromDivisions,
      massDeleteLimit: config.sync.massDeleteLimit,
      massDeleteWindowMs: config.sync.massDeleteWindowMinutes * 60_000,
      retentionDays: config.sync.retentionDays,
      // As tasks.ts's pollerCrontab runs them: whole minutes, 1 to 59.
      pollIntervalMs: Math.max(1, Math.min(59, Math.round(config.sync.pollIntervalSeconds / 60))) * 60_000,
      apiBudgetPercent: config.salesforce.apiBudgetPercent,
      ...overrides,
    },
    custompms: () =>
      (custompms ??= createCustompmsClient(config.custompms, { logger, signal: shutdown.signal })),
    salesforce: async () => {
      // One connection per process; a failed connect is forgotten so the next job retries it.
      salesforce ??= connectSalesforce().catch((error: unknown) => {
        salesforce = undefined;
        throw error;
      });
      return salesforce;
    },
    now: () => new Date(),
    abortCalls: (reason) => shutdown.abort(reason),
  };
  trackOrgMapping(deps, configured);
  return deps;
}

async function identityUserId(client: SalesforceClient): Promise<string> {
  const info = await client.call((conn) => conn.request<{ user_id: string }>('/services/oauth2/userinfo'));
  return info.user_id;
}
