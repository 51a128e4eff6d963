/**
 * The durable inbox. Routes store what they received here, in one transaction, before they
 * acknowledge it; de-duplication on (source, dedupe_key) makes at-least-once senders harmless.
 */
import type pg from 'pg';

export type InboxSource =
  'salesforce.outbound' | 'salesforce.deletion' | 'salesforce.results' | 'custompms.webhook';

export interface InboxMessageInput {
  source: InboxSource;
  /** The sender's id for this delivery (Notification/Id, webhook event id, event UUID). */
  dedupeKey: string;
  payload: unknown;
  /** The record this message is about (`task:<id>`…); messages with one key are processed in order. */
  recordKey?: string;
}

export interface InboxMessage extends InboxMessageInput {
  id: number;
  receivedAt: Date;
  processedAt: Date | null;
}

export interface InsertResult {
  /** Ids of rows inserted now, in input order; duplicates of earlier deliveries are left out. */
  insertedIds: number[];
  duplicates: number;
}

/** Stores every message in one transaction (all or nothing); duplicates are skipped, not errors. */
export async function insertInboxMessages(
  pool: pg.Pool,
  messages: InboxMessageInput[],
): Promise<InsertResult> {
  if (messages.length === 0) return { insertedIds: [], duplicates: 0 };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await client.query<{ id: string }>(
      `INSERT INTO inbox_messages (source, dedupe_key, payload, record_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
       ON CONFLICT (source, dedupe_key) DO NOTHING
       RETURNING id`,
      [
        messages.map((message) => message.source),
        messages.map((message) => message.dedupeKey),
        messages.map((message) => JSON.stringify(message.payload)),
        messages.map((message) => message.recordKey ?? null),
      ],
    );
    await client.query('COMMIT');
    return {
      insertedIds: result.rows.map((row) => Number(row.id)),
      duplicates: messages.length - result.rowCount!,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

interface InboxRow {
  id: string;
  source: InboxSource;
  dedupe_key: string;
  payload: unknown;
  received_at: Date;
  processed_at: Date | null;
}

function fromRow(row: InboxRow): InboxMessage {
  return {
    id: Number(row.id),
    source: row.source,
    dedupeKey: row.dedupe_key,
    payload: row.payload,
    receivedAt: row.received_at,
    processedAt: row.processed_at,
  };
}

export async function getInboxMessage(pool: pg.Pool, id: number): Promise<InboxMessage | undefined> {
  const result = await pool.query<InboxRow>('SELECT * FROM inbox_messages WHERE id = $1', [id]);
  return result.rows[0] && fromRow(result.rows[0]);
}

/** The messages with these ids (any missing are left out), in id order. */
export async function getInboxMessages(pool: pg.Pool, ids: readonly number[]): Promise<InboxMessage[]> {
  const result = await pool.query<InboxRow>('SELECT * FROM inbox_messages WHERE id = ANY($1) ORDER BY id', [
    ids,
  ]);
  return result.rows.map(fromRow);
}

export async function listInboxMessages(pool: pg.Pool, source?: InboxSource): Promise<InboxMessage[]> {
  const result = await pool.query<InboxRow>(
    'SELECT * FROM inbox_messages WHERE $1::text IS NULL OR source = $1 ORDER BY id',
    [source ?? null],
  );
  return result.rows.map(fromRow);
}

export async function markInboxMessageProcessed(
  pool: pg.Pool,
  id: number | readonly number[],
): Promise<void> {
  await pool.query(
    'UPDATE inbox_messages SET processed_at = now() WHERE id = ANY($1) AND processed_at IS NULL',
    [typeof id === 'number' ? [id] : id],
  );
}
