/**
 * Stored links. The link itself is the sync core's `Link`, kept as JSON (the store does not
 * interpret it, it only returns it typed); its two ids are columns so a change from either side
 * finds it.
 */
import { z } from 'zod';
import type { FlowName, Link, Write } from '../sync';
import { linkSchema, writeSchema } from './pending-write';
import type { Queryable } from './transaction';

export interface StoredLink {
  id: number;
  link: Link;
  salesforceStatus: string | null;
  /** Custompms updates sent from this link whose answers were not stored (journalCustompmsWrite). */
  custompmsWrites: JournalledWrite[];
}

/** A Custompms update about to be sent, with the link it would fold into. */
export interface JournalledWrite {
  /** The stored link's versions the write was planned on: once they move, the entry is inert. */
  basis: { custompms: number | string | null; salesforce: number | string | null };
  /** The link the write's result folds into (what the writer would have stored). */
  link: Link;
  write: Write;
}

const version = z.union([z.number(), z.string(), z.null()]);
const journalSchema = z.array(
  z.object({
    basis: z.object({ custompms: version, salesforce: version }),
    link: linkSchema,
    write: writeSchema,
  }),
);

interface Row {
  id: string;
  link: unknown;
  salesforce_status: string | null;
  custompms_writes?: unknown;
}

function fromRow(row: Row): StoredLink {
  // The journal is a safety net: an entry this proxy cannot read is ignored, not fatal.
  const journal = journalSchema.safeParse(row.custompms_writes ?? []);
  return {
    id: Number(row.id),
    link: row.link as Link,
    salesforceStatus: row.salesforce_status,
    custompmsWrites: journal.success ? journal.data : [],
  };
}

/** The versions of a stored link a journalled write is planned on. */
export function journalBasis(link: Link): JournalledWrite['basis'] {
  return { custompms: link.custompms.version, salesforce: link.salesforce.version };
}

/**
 * Records a Custompms update before it is sent (under the record's lock). Entries planned on
 * other versions of the link are dropped: they were resolved, or can no longer be met.
 */
export async function journalCustompmsWrite(
  db: Queryable,
  stored: StoredLink,
  entry: JournalledWrite,
): Promise<void> {
  const same = (other: JournalledWrite) =>
    other.basis.custompms === entry.basis.custompms && other.basis.salesforce === entry.basis.salesforce;
  const entries = [...stored.custompmsWrites.filter(same).slice(-9), entry];
  await db.query('UPDATE links SET custompms_writes = $2 WHERE id = $1', [
    stored.id,
    JSON.stringify(entries),
  ]);
}

/** `journalCustompmsWrite` for many links at once (one statement): each entry its link's. */
export async function journalCustompmsWrites(
  db: Queryable,
  writes: readonly { stored: StoredLink; entry: JournalledWrite }[],
): Promise<void> {
  if (writes.length === 0) return;
  if (writes.length === 1) return journalCustompmsWrite(db, writes[0]!.stored, writes[0]!.entry);
  const journals = writes.map(({ stored, entry }) => {
    const same = (other: JournalledWrite) =>
      other.basis.custompms === entry.basis.custompms && other.basis.salesforce === entry.basis.salesforce;
    return JSON.stringify([...stored.custompmsWrites.filter(same).slice(-9), entry]);
  });
  await db.query(
    `UPDATE links SET custompms_writes = t.journal
       FROM unnest($1::bigint[], $2::jsonb[]) AS t(id, journal) WHERE links.id = t.id`,
    [writes.map(({ stored }) => stored.id), journals],
  );
}

export async function findLink(
  db: Queryable,
  query: { flow: FlowName; custompmsId?: string | null; salesforceId?: string | null },
  options: { forUpdate?: boolean } = {},
): Promise<StoredLink | undefined> {
  const result = await db.query<Row>(
    `SELECT id, link, salesforce_status, custompms_writes FROM links
     WHERE (flow = $1 AND custompms_id = $2) OR salesforce_id = $3
     ORDER BY (flow = $1 AND custompms_id = $2) DESC LIMIT 1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [query.flow, query.custompmsId ?? null, query.salesforceId ?? null],
  );
  return result.rows[0] && fromRow(result.rows[0]);
}

/** `findLink` for many Custompms ids of a flow at once: Custompms id → stored link. */
export async function storedLinksByCustompmsIds(
  db: Queryable,
  flow: FlowName,
  custompmsIds: readonly string[],
): Promise<Map<string, StoredLink>> {
  const found = new Map<string, StoredLink>();
  if (custompmsIds.length === 0) return found;
  const result = await db.query<Row & { custompms_id: string }>(
    `SELECT id, custompms_id, link, salesforce_status, custompms_writes FROM links
     WHERE flow = $1 AND custompms_id = ANY($2)`,
    [flow, custompmsIds],
  );
  for (const row of result.rows) found.set(row.custompms_id, fromRow(row));
  return found;
}

/** `findLinkBySalesforceId` for many ids at once: Salesforce id → stored link. */
export async function storedLinksBySalesforceIds(
  db: Queryable,
  salesforceIds: readonly string[],
): Promise<Map<string, StoredLink>> {
  const found = new Map<string, StoredLink>();
  if (salesforceIds.length === 0) return found;
  const result = await db.query<Row & { salesforce_id: string }>(
    `SELECT id, salesforce_id, link, salesforce_status, custompms_writes FROM links
     WHERE salesforce_id = ANY($1)`,
    [salesforceIds],
  );
  for (const row of result.rows) found.set(row.salesforce_id, fromRow(row));
  return found;
}

/** A link by its Salesforce id, whatever its flow (a Task id belongs to one flow only). */
export async function findLinkBySalesforceId(
  db: Queryable,
  salesforceId: string,
): Promise<StoredLink | undefined> {
  const result = await db.query<Row>(
    'SELECT id, link, salesforce_status FROM links WHERE salesforce_id = $1',
    [salesforceId],
  );
  return result.rows[0] && fromRow(result.rows[0]);
}

/** Inserts or replaces the link found by either of its ids. */
export async function saveLink(db: Queryable, link: Link, salesforceStatus?: string): Promise<void> {
  await db.query(
    `WITH existing AS (
       SELECT id FROM links WHERE (flow = $1 AND custompms_id = $2) OR salesforce_id = $3 LIMIT 1
     ), updated AS (
       UPDATE links SET custompms_id = $2, salesforce_id = $3, link = $4,
         salesforce_status = COALESCE($5, links.salesforce_status), updated_at = now()
       WHERE id IN (SELECT id FROM existing) RETURNING id
     )
     INSERT INTO links (flow, custompms_id, salesforce_id, link, salesforce_status)
     SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM updated)`,
    [link.flow, link.custompmsId, link.salesforceId, JSON.stringify(link), salesforceStatus ?? null],
  );
}

export async function setSalesforceStatus(
  db: Queryable,
  salesforceId: string,
  status: string,
): Promise<void> {
  await db.query('UPDATE links SET salesforce_status = $2 WHERE salesforce_id = $1', [salesforceId, status]);
}

/** Links of the given Custompms ids in a flow. */
export async function linksByCustompmsIds(
  db: Queryable,
  flow: FlowName,
  custompmsIds: readonly string[],
): Promise<Link[]> {
  if (custompmsIds.length === 0) return [];
  const result = await db.query<{ link: Link }>(
    'SELECT link FROM links WHERE flow = $1 AND custompms_id = ANY($2)',
    [flow, custompmsIds],
  );
  return result.rows.map((row) => row.link);
}

/** Links of the given Salesforce ids in a flow. */
export async function linksBySalesforceIds(
  db: Queryable,
  flow: FlowName,
  salesforceIds: readonly string[],
): Promise<Link[]> {
  if (salesforceIds.length === 0) return [];
  const result = await db.query<{ link: Link }>(
    'SELECT link FROM links WHERE flow = $1 AND salesforce_id = ANY($2)',
    [flow, salesforceIds],
  );
  return result.rows.map((row) => row.link);
}

/** Links per flow: in sync (`active`), ended by a delete on either side, or unlinked by policy. */
export async function linkSummary(
  db: Queryable,
): Promise<Record<FlowName, { active: number; deleted: number; unlinked: number }>> {
  const result = await db.query<{ flow: FlowName; state: 'active' | 'deleted' | 'unlinked'; n: string }>(
    `SELECT flow, state, count(*) AS n FROM (
       SELECT flow,
              CASE WHEN link->>'status' = 'unlinked' THEN 'unlinked'
                   WHEN (link->'custompms'->>'deleted')::boolean OR (link->'salesforce'->>'deleted')::boolean
                     THEN 'deleted'
                   ELSE 'active' END AS state
         FROM links) states
      GROUP BY flow, state`,
  );
  const summary = {
    customers: { active: 0, deleted: 0, unlinked: 0 },
    projects: { active: 0, deleted: 0, unlinked: 0 },
    tasks: { active: 0, deleted: 0, unlinked: 0 },
  };
  for (const row of result.rows) summary[row.flow][row.state] = Number(row.n);
  return summary;
}
