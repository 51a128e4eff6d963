/**
 * Helpers for the backfill suites: the two emulators and a database as the e2e world wires them
 * (test/support/e2e.ts), an admin connection to the emulated org, and counters of what was written.
 */
import { Connection } from 'jsforce';
import type { World } from '../../support/e2e';

export function adminConnection(world: World): Connection {
  return new Connection({
    instanceUrl: world.sf.url,
    accessToken: world.sf.tokenFor(world.sf.adminUsername),
    version: '65.0',
  });
}

/** Writes to the org's data APIs (REST, Collections, Bulk) logged by the emulator so far. */
export function salesforceWrites(world: World): number {
  return world.sf.org.requestLog.filter(
    (entry) =>
      entry.method !== 'GET' && entry.path.includes('/services/data/') && !entry.path.includes('/query'),
  ).length;
}

/** Bulk API 2.0 ingest jobs created so far. */
export function bulkJobsCreated(world: World): number {
  return world.sf.org.requestLog.filter(
    (entry) => entry.method === 'POST' && /\/jobs\/ingest$/.test(entry.path),
  ).length;
}

export async function tableCount(world: World, table: string, where = 'true'): Promise<number> {
  const result = await world.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table} WHERE ${where}`,
  );
  return Number(result.rows[0]!.n);
}

export async function linkCount(world: World, flow: string): Promise<number> {
  return tableCount(world, 'links', `flow = '${flow}' AND salesforce_id IS NOT NULL`);
}

/** Tasks in the org per Custompms id (all of them, archived too). */
export async function tasksByCustompmsId(world: World): Promise<Map<string, string[]>> {
  const rows = await adminConnection(world).query<{ Id: string; Custompms_Id__c: string | null }>(
    'SELECT Id, Custompms_Id__c FROM Task',
    { autoFetch: true, maxFetch: 100_000 },
  );
  const result = new Map<string, string[]>();
  for (const row of rows.records) {
    if (!row.Custompms_Id__c) continue;
    result.set(row.Custompms_Id__c, [...(result.get(row.Custompms_Id__c) ?? []), row.Id]);
  }
  return result;
}

/**
 * A connection as the integration user: what it inserts fires no outbound message (it holds
 * `Custompms_Sync_Bypass`), so seeding the org does not wake the incremental sync.
 */
export function integrationConnection(world: World): Connection {
  return new Connection({
    instanceUrl: world.sf.url,
    accessToken: world.sf.tokenFor(),
    version: '65.0',
  });
}

/** Inserts records in the org, returning their ids (in order). */
export async function insertRecords(
  world: World,
  sobject: string,
  records: Record<string, unknown>[],
): Promise<string[]> {
  const results = await integrationConnection(world).sobject(sobject).create(records, { allOrNone: true });
  return results.map((result) => {
    if (!result.success) throw new Error(JSON.stringify(result.errors));
    return result.id;
  });
}
