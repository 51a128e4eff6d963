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
  /** Per input message, in order: a duplicate of a stored row or of a message before it. */
  duplicate: boolean[];
}

/**
 * Stores every message in one statement (all or nothing: a statement is its own transaction, and
 * its trigger enqueues the job in it); duplicates are skipped, not errors. One round trip: a
 * burst's webhooks each cost one, not three (BEGIN, INSERT, COMMIT).
 */
export async function insertInboxMessages(
  pool: pg.Pool,
  messages: InboxMessageInput[],
): Promise<InsertResult> {
  if (messages.length === 0) return { insertedIds: [], duplicates: 0, duplicate: [] };
  const result = await pool.query<{ id: string; source: InboxSource; dedupe_key: string }>(
    `INSERT INTO inbox_messages (source, dedupe_key, payload, record_key)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
     ON CONFLICT (source, dedupe_key) DO NOTHING
     RETURNING id, source, dedupe_key`,
    [
      messages.map((message) => message.source),
      messages.map((message) => message.dedupeKey),
      messages.map((message) => JSON.stringify(message.payload)),
      messages.map((message) => message.recordKey ?? null),
    ],
  );
  const inserted = new Set(result.rows.map((row) => `${row.source}\u0000${row.dedupe_key}`));
  return {
    insertedIds: result.rows.map((row) => Number(row.id)),
    duplicates: messages.length - result.rowCount!,
    duplicate: messages.map((message) => !inserted.delete(`${message.source}\u0000${message.dedupeKey}`)),
  };
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

/**
 * Where a claim is taken over: its process has not beaten for `staleMs` (it died), or it is older
 * than ten minutes (a live process that lost track of it).
 */
function claimStale(staleMsParam: string): string {
  return `(m.claimed_at < now() - interval '10 minutes'
    OR NOT EXISTS (SELECT 1 FROM worker_heartbeats h WHERE h.worker_id = m.claimed_by
                   AND h.beat_at > now() - make_interval(secs => ${staleMsParam}::double precision / 1000)))`;
}

/**
 * Claims unprocessed webhook messages for one run (migration 0014): the run's own (`own`) first,
 * then others waiting in the inbox, up to `limit` in all. A message another live run holds is not
 * taken. Returns the messages claimed, in id order.
 */
export async function claimWebhookMessages(
  pool: pg.Pool,
  claim: { own: readonly number[]; processId: string; claimId: string; limit: number; staleMs: number },
): Promise<InboxMessage[]> {
  const result = await pool.query<InboxRow>(
    `WITH candidates AS (
       SELECT m.id FROM inbox_messages m
        WHERE m.processed_at IS NULL AND m.source = 'custompms.webhook'
          AND (m.claim_id IS NULL OR ${claimStale('$3')})
        ORDER BY (m.id = ANY($1)) DESC, m.id
        LIMIT $2 FOR UPDATE SKIP LOCKED
     )
     UPDATE inbox_messages m SET claimed_by = $4, claim_id = $5, claimed_at = now()
       FROM candidates c WHERE m.id = c.id
     RETURNING m.*`,
    [claim.own, claim.limit, claim.staleMs, claim.processId, claim.claimId],
  );
  return result.rows.map(fromRow).sort((a, b) => a.id - b.id);
}

/**
 * Removes the pending (not yet running) `process_inbox_messages` jobs that name only these
 * messages: a run claimed them, so those jobs would only find them claimed or processed. Safe to
 * lose: a claim the run cannot finish goes to a job of its own, and a dead run's claims are
 * enqueued again by the minute sweep (`requeueStaleClaims`). Returns how many were removed.
 */
export async function dropPendingJobsOf(pool: pg.Pool, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await pool.query(
    `DELETE FROM graphile_worker._private_jobs j USING graphile_worker._private_tasks t
      WHERE j.task_id = t.id AND t.identifier = 'process_inbox_messages' AND j.locked_at IS NULL
        AND j.attempts = 0 AND jsonb_typeof(j.payload::jsonb) = 'array'
        AND j.payload::jsonb <@ to_jsonb($1::bigint[])`,
    [ids],
  );
  return result.rowCount ?? 0;
}

/** Gives claimed messages back (a run that could not finish them; their jobs retry them). */
export async function releaseClaims(pool: pg.Pool, ids: readonly number[], claimId: string): Promise<void> {
  if (ids.length === 0) return;
  await pool.query(
    `UPDATE inbox_messages SET claimed_by = NULL, claim_id = NULL, claimed_at = NULL
      WHERE id = ANY($1) AND claim_id = $2 AND processed_at IS NULL`,
    [ids, claimId],
  );
}

/**
 * Unprocessed messages whose claim went stale (the claiming process died mid-run): their claims
 * cleared and a `process_inbox_messages` job enqueued for them (a hundred a job). Returns how many.
 */
export async function requeueStaleClaims(pool: pg.Pool, staleMs: number): Promise<number> {
  const result = await pool.query<{ n: string }>(
    `WITH stale AS (
       UPDATE inbox_messages m SET claimed_by = NULL, claim_id = NULL, claimed_at = NULL
        WHERE m.id IN (SELECT m.id FROM inbox_messages m
                        WHERE m.processed_at IS NULL AND m.source = 'custompms.webhook'
                          AND m.claim_id IS NOT NULL AND ${claimStale('$1')}
                        LIMIT 10000 FOR UPDATE SKIP LOCKED)
       RETURNING m.id
     ), jobs AS (
       SELECT graphile_worker.add_job('process_inbox_messages', json_agg(id ORDER BY id), max_attempts := 10)
         FROM stale GROUP BY id / 100
     )
     SELECT (SELECT count(*) FROM stale) + 0 * (SELECT count(*) FROM jobs) AS n`,
    [staleMs],
  );
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Whether Custompms webhooks are still arriving: one waits to be processed (its work may put
 * changes in the outbox), or one was received within `recentMs` (the worker may have caught up
 * with the intake between two deliveries of a burst). Salesforce's messages do not count: they
 * write to Custompms, and during a burst the notifications of the burst's own writes arrive all
 * the time — counting them kept a burst's flush gathering until its due time instead of ending
 * when Custompms went quiet.
 */
export async function custompmsWebhooksArriving(pool: pg.Pool, recentMs: number): Promise<boolean> {
  const result = await pool.query<{ arriving: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM inbox_messages WHERE processed_at IS NULL AND source = 'custompms.webhook')
         OR EXISTS (SELECT 1 FROM inbox_messages WHERE source = 'custompms.webhook'
                      AND received_at > now() - make_interval(secs => $1::double precision / 1000)) AS arriving`,
    [recentMs],
  );
  return result.rows[0]?.arriving === true;
}

/** Statements a `GroupedInboxWriter` keeps in flight at once (of the pool's connections). */
const GROUPED_IN_FLIGHT = 2;
/** Most messages one grouped statement stores. */
const GROUPED_MAX_ROWS = 500;

/**
 * Group commit for a route that receives one message per request (Custompms webhooks): a message
 * arriving while earlier inserts are in flight waits for one of them and is stored with the
 * others that arrived meanwhile, in one statement. An idle receiver stores each message at once;
 * a burst's 1,000 webhooks become a few dozen statements (and inbox jobs) instead of 1,000. Each
 * caller is answered when its own row has committed, so nothing is acknowledged before it is
 * durable; a failed statement fails every message in it (each sender retries).
 */
export class GroupedInboxWriter {
  #waiting: {
    message: InboxMessageInput;
    resolve: (answer: { duplicate: boolean }) => void;
    reject: (error: Error) => void;
  }[] = [];
  #inFlight = 0;

  constructor(private readonly pool: pg.Pool) {}

  /** Stores one message; resolves with whether it was a duplicate once it is committed. */
  insert(message: InboxMessageInput): Promise<{ duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ message, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#inFlight >= GROUPED_IN_FLIGHT || this.#waiting.length === 0) return;
    const group = this.#waiting.splice(0, GROUPED_MAX_ROWS);
    this.#inFlight++;
    void this.#store(group.map((entry) => entry.message))
      .then(
        (duplicates) => {
          for (const [index, entry] of group.entries()) entry.resolve({ duplicate: duplicates[index]! });
        },
        (error: unknown) => {
          const failure = error instanceof Error ? error : new Error(`inbox insert failed: ${String(error)}`);
          for (const entry of group) entry.reject(failure);
        },
      )
      .finally(() => {
        this.#inFlight--;
        this.#next();
      });
  }

  /** One statement; per message, whether it was a duplicate (of a stored row or of one before it). */
  async #store(messages: InboxMessageInput[]): Promise<boolean[]> {
    return (await insertInboxMessages(this.pool, messages)).duplicate;
  }
}
