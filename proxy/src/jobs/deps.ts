/**
 * What the jobs need, built once per process by `app`/`runtime` wiring and passed to every task.
 * Salesforce is connected lazily (and once): the proxy starts and serves even while the org is
 * unreachable, and jobs that need it retry.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createCustompmsClient, type CustompmsClient } from '../custompms/client';
import { SalesforceClient } from '../salesforce/client';
import { OrgDirectory } from '../salesforce/directory';
import { SalesforceOperations } from '../salesforce/operations';
import {
  applyOverrides,
  FLOWS,
  overridesFromOrg,
  type FlowSettingOverride,
  type SyncDefinition,
} from '../sync';
import { readOrgMapping } from '../salesforce/org-mapping';

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
  createCustomersFromDivisions: boolean;
  /** Pollers re-read this far behind their watermark, so nothing at a window edge is lost. */
  pollOverlapMs: number;
  /** How often the org's field-map and setting records are read again. */
  mappingRefreshMs: number;
}

export interface SyncDeps {
  pool: pg.Pool;
  logger: Logger;
  definition: SyncDefinition;
  settings: SyncSettings;
  custompms: () => CustompmsClient;
  salesforce: () => Promise<SalesforceServices>;
  now: () => Date;
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = {
  writePath: 'apex',
  batchSize: 200,
  batchDeadlineMs: 5 * 60_000,
  maxPublishes: 5,
  createCustomersFromDivisions: false,
  pollOverlapMs: 5 * 60_000,
  mappingRefreshMs: 5 * 60_000,
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
  let mappingReadAt = 0;
  let mappingRead: Promise<void> | undefined;

  /** The admin's changes to the org's field maps and settings win over the shipped ones. */
  const readMapping = async (operations: SalesforceOperations): Promise<void> => {
    const records = await readOrgMapping(operations);
    mappingReadAt = Date.now();
    if (!records) return;
    const fromOrg = overridesFromOrg(FLOWS, records);
    const result = applyOverrides(FLOWS, {
      flows: [...configured, ...(fromOrg.overrides.flows ?? [])],
      fields: fromOrg.overrides.fields ?? [],
    });
    for (const problem of [...fromOrg.problems, ...result.problems]) {
      logger.warn({ problem }, 'org mapping record not applied');
    }
    deps.definition = result.definition;
  };
  const connectSalesforce = async (): Promise<SalesforceServices> => {
    const client = await SalesforceClient.connect(config.salesforce, { logger });
    const operations = new SalesforceOperations(client);
    const integrationUserId = client.userId ?? (await identityUserId(client));
    await readMapping(operations);
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
      ...overrides,
    },
    custompms: () => (custompms ??= createCustompmsClient(config.custompms, { logger })),
    salesforce: async () => {
      // One connection per process; a failed connect is forgotten so the next job retries it.
      salesforce ??= connectSalesforce().catch((error: unknown) => {
        salesforce = undefined;
        throw error;
      });
      const services = await salesforce;
      if (Date.now() - mappingReadAt > deps.settings.mappingRefreshMs) {
        // One read at a time; a failed read keeps the mapping in force and is tried again later.
        mappingRead ??= readMapping(services.operations)
          .catch((error: unknown) => {
            mappingReadAt = Date.now();
            logger.warn(
              { err: error },
              'could not read the org mapping records; keeping the current mapping',
            );
          })
          .finally(() => {
            mappingRead = undefined;
          });
        await mappingRead;
      }
      return services;
    },
    now: () => new Date(),
  };
  return deps;
}

async function identityUserId(client: SalesforceClient): Promise<string> {
  const info = await client.call((conn) => conn.request<{ user_id: string }>('/services/oauth2/userinfo'));
  return info.user_id;
}
