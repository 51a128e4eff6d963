/**
 * Links between a Custompms record and a Salesforce record, with the last-synced snapshot and
 * each side's last applied version / SystemModstamp (DESIGN.md "Sync semantics").
 */
import type { Queryable } from './transaction';

export type FlowName = 'customers' | 'projects' | 'tasks';

export interface LinkRow {
  flow: FlowName;
  custompmsId: string;
  salesforceId: string;
  snapshot: Record<string, unknown>;
  custompmsVersion: number | null;
  salesforceModstamp: string | null;
}

interface Row {
  flow: FlowName;
  custompms_id: string;
  salesforce_id: string;
  snapshot: Record<string, unknown>;
  custompms_version: number | null;
  salesforce_modstamp: Date | null;
}

function fromRow(row: Row): LinkRow {
  return {
    flow: row.flow,
    custompmsId: row.custompms_id,
    salesforceId: row.salesforce_id,
    snapshot: row.snapshot,
    custompmsVersion: row.custompms_version,
    salesforceModstamp: row.salesforce_modstamp?.toISOString() ?? null,
  };
}

export async function findLinkByCustompmsId(
  db: Queryable,
  flow: FlowName,
  custompmsId: string,
): Promise<LinkRow | undefined> {
  const result = await db.query<Row>('SELECT * FROM links WHERE flow = $1 AND custompms_id = $2', [
    flow,
    custompmsId,
  ]);
  return result.rows[0] && fromRow(result.rows[0]);
}

export async function findLinkBySalesforceId(
  db: Queryable,
  salesforceId: string,
): Promise<LinkRow | undefined> {
  const result = await db.query<Row>('SELECT * FROM links WHERE salesforce_id = $1', [salesforceId]);
  return result.rows[0] && fromRow(result.rows[0]);
}

/** Locks the link row for the rest of the transaction (one writer per record). */
export async function lockLink(
  db: Queryable,
  flow: FlowName,
  custompmsId: string,
): Promise<LinkRow | undefined> {
  const result = await db.query<Row>('SELECT * FROM links WHERE flow = $1 AND custompms_id = $2 FOR UPDATE', [
    flow,
    custompmsId,
  ]);
  return result.rows[0] && fromRow(result.rows[0]);
}

/**
 * Creates or moves a link forward. Versions and modstamps never go backwards: a late,
 * out-of-order write cannot roll a link back.
 */
export async function saveLink(db: Queryable, link: LinkRow): Promise<void> {
  await db.query(
    `INSERT INTO links (flow, custompms_id, salesforce_id, snapshot, custompms_version, salesforce_modstamp)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (flow, custompms_id) DO UPDATE SET
       salesforce_id = EXCLUDED.salesforce_id,
       snapshot = EXCLUDED.snapshot,
       custompms_version = GREATEST(links.custompms_version, EXCLUDED.custompms_version),
       salesforce_modstamp = GREATEST(links.salesforce_modstamp, EXCLUDED.salesforce_modstamp),
       updated_at = now()`,
    [
      link.flow,
      link.custompmsId,
      link.salesforceId,
      JSON.stringify(link.snapshot),
      link.custompmsVersion,
      link.salesforceModstamp,
    ],
  );
}

export async function deleteLink(db: Queryable, flow: FlowName, custompmsId: string): Promise<void> {
  await db.query('DELETE FROM links WHERE flow = $1 AND custompms_id = $2', [flow, custompmsId]);
}

/** Salesforce ids linked for a set of Custompms ids (e.g. Divisions of customers). */
export async function salesforceIdsFor(
  db: Queryable,
  flow: FlowName,
  custompmsIds: string[],
): Promise<Map<string, string>> {
  if (custompmsIds.length === 0) return new Map();
  const result = await db.query<{ custompms_id: string; salesforce_id: string }>(
    'SELECT custompms_id, salesforce_id FROM links WHERE flow = $1 AND custompms_id = ANY($2)',
    [flow, custompmsIds],
  );
  return new Map(result.rows.map((row) => [row.custompms_id, row.salesforce_id]));
}

export async function countLinks(db: Queryable, flow?: FlowName): Promise<number> {
  const result = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM links WHERE $1::text IS NULL OR flow = $1',
    [flow ?? null],
  );
  return Number(result.rows[0]?.n ?? 0);
}
