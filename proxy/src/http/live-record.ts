/**
 * A linked record as both systems hold it now, for the link browser (beside the last synced
 * snapshot): the Custompms record from its API, the Salesforce record by SOQL on its mapped
 * fields, both as the integration user. A side that cannot be read says why instead.
 */
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Config } from '../config';
import { createSyncDeps, type SyncDeps } from '../jobs/deps';
import { soqlString } from '../salesforce/operations';
import type { LinkRow } from '../store/console-queries';
import { FLOWS, type FlowName } from '../sync';

export interface LiveRecord {
  custompms?: Record<string, unknown>;
  salesforce?: Record<string, unknown>;
  /** Why a side could not be read (not configured, deleted, refused). */
  errors: { custompms?: string; salesforce?: string };
}

export type LiveReader = (link: LinkRow) => Promise<LiveRecord>;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function liveReaderFor(config: Config, pool: pg.Pool, logger: Logger): LiveReader {
  let deps: SyncDeps | undefined;
  const sync = () => (deps ??= createSyncDeps(config, pool, logger));
  return async (link) => {
    const flow = FLOWS[link.flow as FlowName];
    const live: LiveRecord = { errors: {} };
    await Promise.all([
      (async () => {
        if (!link.custompmsId) return;
        if (!config.custompms.baseUrl) {
          live.errors.custompms = 'Custompms is not configured (CUSTOMPMS_BASE_URL)';
          return;
        }
        try {
          live.custompms = await sync().custompms().get(flow.custompmsCollection, link.custompmsId);
        } catch (error) {
          live.errors.custompms = message(error);
        }
      })(),
      (async () => {
        if (!link.salesforceId) return;
        try {
          const fields = new Set(['Id', 'SystemModstamp', 'LastModifiedDate']);
          for (const field of flow.fields)
            if (field.enabled && field.kind !== 'constant') fields.add(field.salesforce);
          if (flow.salesforceObject === 'Task') fields.add('Custompms_Type__c');
          const { operations } = await sync().salesforce();
          const [record] = await operations.queryAll(
            `SELECT ${[...fields].join(', ')} FROM ${flow.salesforceObject} WHERE Id = ${soqlString(link.salesforceId)}`,
          );
          if (record) live.salesforce = record;
          else live.errors.salesforce = 'not found (deleted?)';
        } catch (error) {
          live.errors.salesforce = message(error);
        }
      })(),
    ]);
    return live;
  };
}
