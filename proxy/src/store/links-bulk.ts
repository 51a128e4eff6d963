/**
 * Links saved in sets: `saveLink` (links.ts) for many links in one statement, for the backfill,
 * which records thousands of results a chunk. Each link replaces the row found by either of its
 * ids, or is inserted, exactly as `saveLink` does one at a time.
 */
import type { Link } from '../sync';
import { saveLink } from './links';
import type { Queryable } from './transaction';

export interface LinkToSave {
  link: Link;
  /** The Custompms_Sync_Status__c just written (kept as it was when undefined). */
  salesforceStatus?: string | undefined;
}

/**
 * Inserts or replaces the links, one statement (`unnest`). A set in which two links share an id
 * (they would find the same row) is saved one by one, in order, as `saveLink` would.
 */
export async function saveLinks(db: Queryable, links: readonly LinkToSave[]): Promise<void> {
  if (links.length === 0) return;
  const custompmsKeys = new Set<string>();
  const salesforceIds = new Set<string>();
  let distinct = true;
  for (const { link } of links) {
    const key = link.custompmsId === null ? null : `${link.flow}\u0000${link.custompmsId}`;
    if (
      (key !== null && custompmsKeys.has(key)) ||
      (link.salesforceId !== null && salesforceIds.has(link.salesforceId))
    ) {
      distinct = false;
      break;
    }
    if (key !== null) custompmsKeys.add(key);
    if (link.salesforceId !== null) salesforceIds.add(link.salesforceId);
  }
  if (links.length === 1 || !distinct) {
    for (const { link, salesforceStatus } of links) await saveLink(db, link, salesforceStatus);
    return;
  }
  // Each link finds its row by the Custompms id, else by the Salesforce id (both indexed:
  // links_custompms_id, links_salesforce_id).
  const flows = links.map(({ link }) => link.flow);
  const custompmsIds = links.map(({ link }) => link.custompmsId);
  const salesforceIdList = links.map(({ link }) => link.salesforceId);
  const found = await db.query<{ existing: string | null }>(
    `SELECT COALESCE(
         (SELECT id FROM links WHERE links.flow = t.flow AND links.custompms_id = t.custompms_id),
         (SELECT id FROM links WHERE links.salesforce_id = t.salesforce_id)) AS existing
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(flow, custompms_id, salesforce_id, n)
      ORDER BY n`,
    [flows, custompmsIds, salesforceIdList],
  );
  const existing = found.rows.map((row) => row.existing);
  const rows = existing.filter((id) => id !== null);
  if (new Set(rows).size !== rows.length) {
    // Two links would replace one row (one takes over the other's id): one by one, in order.
    for (const { link, salesforceStatus } of links) await saveLink(db, link, salesforceStatus);
    return;
  }
  await db.query(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::bigint[])
         AS t(flow, custompms_id, salesforce_id, link, salesforce_status, existing)
     ), updated AS (
       UPDATE links SET custompms_id = input.custompms_id, salesforce_id = input.salesforce_id,
         link = input.link, salesforce_status = COALESCE(input.salesforce_status, links.salesforce_status),
         updated_at = now()
       FROM input WHERE links.id = input.existing
       RETURNING links.id
     )
     INSERT INTO links (flow, custompms_id, salesforce_id, link, salesforce_status)
     SELECT flow, custompms_id, salesforce_id, link, salesforce_status FROM input WHERE existing IS NULL`,
    [
      flows,
      custompmsIds,
      salesforceIdList,
      links.map(({ link }) => JSON.stringify(link)),
      links.map(({ salesforceStatus }) => salesforceStatus ?? null),
      existing,
    ],
  );
}
