/**
 * flushOutbox: what the outbox holds when a flush starts leaves in full batches (≤200 records
 * each, one event per batch, ≤200 events per publish call); rows committed meanwhile wait for
 * the next flush instead of trickling out one tiny batch at a time.
 */
import { flushOutbox, republishOverdue } from '../../../proxy/src/jobs/batches';
import {
  COALESCE_MS,
  flushEnded,
  flushLeftovers,
  gatherBurst,
  holdRemainder,
  MAX_HOLD_MS,
  scheduleFlush,
} from '../../../proxy/src/jobs/enqueue';
import { buildTaskList } from '../../../proxy/src/jobs/tasks';
import { TASK } from '../../../proxy/src/jobs/task-names';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from '../../../proxy/src/jobs/deps';
import {
  addWaitingChanges,
  CHANGE_BATCH_MAX_CHARACTERS,
  countUnbatched,
  putOutboxItem,
} from '../../../proxy/src/store/batches';
import { FLOWS } from '../../../proxy/src/sync';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { eventually } from '../../support/eventually';
import { captureLogs } from '../../support/logs';
import { pendingWrite } from '../../support/pending-write';

describe('flushOutbox', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  const put = (id: string) =>
    putOutboxItem(db.pool, {
      flow: 'tasks',
      custompmsId: id,
      kind: 'task',
      record: { Custompms_Id__c: id, Subject: id },
      plan: pendingWrite('tasks', id),
      custompmsVersion: 1,
    });

  function depsPublishing(onPublish: (events: Record<string, unknown>[]) => Promise<void>): SyncDeps {
    const operations = {
      publishEvents: async (_type: string, events: Record<string, unknown>[]) => {
        await onPublish(events);
        return events.map(() => ({ success: true, errors: [] }));
      },
    };
    return {
      pool: db.pool,
      logger: captureLogs('warn').logger,
      definition: FLOWS,
      settings: { ...DEFAULT_SYNC_SETTINGS, writePath: 'apex' },
      custompms: () => {
        throw new Error('not used');
      },
      salesforce: () =>
        Promise.resolve({ operations } as unknown as Awaited<ReturnType<SyncDeps['salesforce']>>),
      now: () => new Date(),
      abortCalls: () => {},
    };
  }

  it('sends what is there in full batches, one publish call for up to 200 of them', async () => {
    for (let index = 0; index < 450; index++) await put(`tsk_${index}`);
    const calls: number[][] = [];
    const handled = await flushOutbox(
      depsPublishing((events) => {
        calls.push(events.map((event) => Number(event.Record_Count__c)));
        return Promise.resolve();
      }),
    );
    expect(handled).toBe(3);
    expect(calls).toEqual([[200, 200, 50]]);
    const published = await db.pool.query("SELECT 1 FROM change_batches WHERE status = 'published'");
    expect(published.rowCount).toBe(3);
    expect(await countUnbatched(db.pool)).toBe(0);
  });

  it('the minute sweep removes an outbox row a completed batch left behind and syncs its record again', async () => {
    await put('tsk_orphan');
    await db.pool.query(
      `INSERT INTO change_batches (id, status, items, created_at, completed_at)
       VALUES ('b_done', 'completed', '[]', now() - interval '5 minutes', now() - interval '5 minutes')`,
    );
    await db.pool.query(
      "UPDATE outbox SET batch_id = 'b_done', resync = true WHERE custompms_id = 'tsk_orphan'",
    );
    const deps = depsPublishing(() => Promise.resolve());
    await republishOverdue(deps);
    expect((await db.pool.query('SELECT 1 FROM outbox')).rowCount).toBe(0);
    const jobs = await db.pool.query(
      "SELECT payload FROM graphile_worker._private_jobs WHERE key = 'cpms:task:tsk_orphan'",
    );
    expect(jobs.rows).toEqual([{ payload: { type: 'task', id: 'tsk_orphan' } }]);
  });

  it('full batches only: the remainder waits for more changes', async () => {
    for (let index = 0; index < 450; index++) await put(`tsk_${index}`);
    const calls: number[][] = [];
    const deps = depsPublishing((events) => {
      calls.push(events.map((event) => Number(event.Record_Count__c)));
      return Promise.resolve();
    });
    expect(await flushOutbox(deps, { fullBatchesOnly: true })).toBe(2);
    expect(calls).toEqual([[200, 200]]);
    expect(await countUnbatched(db.pool)).toBe(50);
  });

  it('cuts batches at the org heap budget: 200 Tasks with a 32,000-character Description leave in five', async () => {
    const description = 'x'.repeat(32_000);
    for (let index = 0; index < 200; index++) {
      await putOutboxItem(db.pool, {
        flow: 'tasks',
        custompmsId: `tsk_${index}`,
        kind: 'task',
        record: { Custompms_Id__c: `tsk_${index}`, Subject: `Task ${index}`, Description: description },
        plan: pendingWrite('tasks', `tsk_${index}`),
        custompmsVersion: 1,
      });
    }
    const sizes: number[] = [];
    await flushOutbox(
      depsPublishing((events) => {
        sizes.push(...events.map((event) => Number(event.Record_Count__c)));
        return Promise.resolve();
      }),
    );
    expect(sizes).toEqual([46, 46, 46, 46, 16]);
    const largest = await db.pool.query<{ chars: number }>(
      'SELECT max(length(items::text)) AS chars FROM change_batches',
    );
    // What the org's pull job receives stays within the budget (plus a little JSON around it).
    expect(largest.rows[0]!.chars).toBeLessThan(CHANGE_BATCH_MAX_CHARACTERS * 1.05);
    expect(await countUnbatched(db.pool)).toBe(0);
  });

  it('leaves rows committed during the flush to the next flush', async () => {
    for (let index = 0; index < 3; index++) await put(`tsk_${index}`);
    const calls: number[][] = [];
    const deps = depsPublishing(async (events) => {
      calls.push(events.map((event) => Number(event.Record_Count__c)));
      // Syncs keep committing while the announcement is on its way.
      if (calls.length === 1) for (let index = 3; index < 8; index++) await put(`tsk_${index}`);
    });
    expect(await flushOutbox(deps)).toBe(1);
    expect(calls).toEqual([[3]]);
    expect(await countUnbatched(db.pool)).toBe(5);
    // The next flush (scheduled by those puts) takes them together.
    expect(await flushOutbox(deps)).toBe(1);
    expect(calls).toEqual([[3], [5]]);
  });

  it("a burst's flush takes the changes committed while it waits", async () => {
    await put('tsk_a');
    const calls: number[][] = [];
    const deps = depsPublishing((events) => {
      calls.push(events.map((event) => Number(event.Record_Count__c)));
      return Promise.resolve();
    });
    const flush = buildTaskList(deps)[TASK.flushOutbox] as (
      payload: unknown,
      helpers: unknown,
    ) => Promise<void>;
    const running = flush({ coalesceMs: 2_000 }, {});
    await put('tsk_b');
    await running;
    expect(calls).toEqual([[2]]);
  });

  /** The pool, counting the outbox counts a flush makes (gatherBurst looks at the outbox that way). */
  function countingOutboxLooks() {
    const looks = { n: 0 };
    const pool = new Proxy(db.pool, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return (text: string, values?: unknown[]) => {
          if (typeof text === 'string' && text.includes('count(*) AS n FROM outbox')) looks.n++;
          return target.query(text, values);
        };
      },
    });
    return { pool, looks };
  }

  it("a burst's flush does not gather when other changes wait for one it holds", async () => {
    await put('tsk_parent');
    // Sorted as a project for the test's sake: a task waits for this outbox row.
    await db.pool.query("UPDATE outbox SET flow = 'projects' WHERE custompms_id = 'tsk_parent'");
    await addWaitingChanges(db.pool, [
      { flow: 'tasks', custompmsId: 'tsk_child', waitsForFlow: 'projects', waitsForId: 'tsk_parent' },
    ]);
    const { pool, looks } = countingOutboxLooks();
    const looksAtPublish: number[] = [];
    const deps = {
      ...depsPublishing(async () => {
        looksAtPublish.push(looks.n);
        // A change put while the flush was due: it scheduled no flush of its own (scheduleFlush).
        if (looksAtPublish.length === 1) await put('tsk_late');
      }),
      pool,
    };
    const flush = buildTaskList(deps)[TASK.flushOutbox] as (
      payload: unknown,
      helpers: unknown,
    ) => Promise<void>;
    await flush({ coalesceMs: COALESCE_MS }, {});
    // Sent without a look at what else might come (nothing gathered); once its due time passed,
    // the flush sent the change put meanwhile too.
    expect(looksAtPublish[0]).toBe(0);
    expect(looksAtPublish).toHaveLength(2);
    expect(await countUnbatched(db.pool)).toBe(0);
  });

  it("a flush that replaced a burst's gathering one (a restart's leftovers) still takes the changes left to that one", async () => {
    await put('tsk_first');
    // A burst: its flush is scheduled to gather for COALESCE_MS…
    for (let change = 0; change < 10; change++) await scheduleFlush({ pool: db.pool });
    expect((await flushJob())!.coalesce_ms).toBe(COALESCE_MS);
    // …and a starting worker replaces it with a flush at once (so could another process, for a
    // full or awaited batch).
    await flushLeftovers({ pool: db.pool });
    expect(await flushJob()).toEqual({ ms: expect.any(Number), coalesce_ms: null });
    await flushRan();
    const calls: number[][] = [];
    const deps = depsPublishing(async (events) => {
      calls.push(events.map((event) => Number(event.Record_Count__c)));
      // A change of the burst, committed while that flush runs: its process counts on the
      // burst's flush (gathering until its due time) and schedules none.
      if (calls.length === 1) {
        await put('tsk_late');
        await scheduleFlush({ pool: db.pool });
      }
    });
    const flush = buildTaskList(deps)[TASK.flushOutbox] as (
      payload: unknown,
      helpers: unknown,
    ) => Promise<void>;
    await flush({}, {});
    // Sent by it (or, on a machine slower than the burst's wait, left a flush of its own): a change
    // with neither waited for the minute sweep.
    const stranded = (await countUnbatched(db.pool)) > 0 && (await flushJob()) === undefined;
    expect(stranded).toBe(false);
  });

  describe('gatherBurst', () => {
    const settings = { ...DEFAULT_SYNC_SETTINGS, batchSize: 5 };
    // A minute: a gather that did not end on its own would time the test out.
    const aMinute = () => Date.now() + 60_000;

    it('ends when a batch is full', async () => {
      for (let index = 0; index < 5; index++) await put(`tsk_full_${index}`);
      await gatherBurst({ pool: db.pool, settings }, aMinute());
      expect(await countUnbatched(db.pool)).toBe(5);
    });

    it('ends when nothing more is on its way, and gathers while a Custompms webhook waits', async () => {
      await put('tsk_1');
      // A Salesforce notification waiting (e.g. of the burst's own writes) does not hold the flush back.
      await db.pool.query(
        `INSERT INTO inbox_messages (source, dedupe_key, payload)
         VALUES ('custompms.webhook', 'evt_pending', '{}'), ('salesforce.outbound', 'sf_pending', '{}')`,
      );
      const { pool, looks } = countingOutboxLooks();
      let ended = false;
      const gathering = gatherBurst({ pool, settings }, aMinute()).then(() => (ended = true));
      // Several looks with an unprocessed message in the inbox: still gathering.
      await eventually(() => looks.n >= 3, 'three looks at the outbox');
      expect(ended).toBe(false);
      await put('tsk_2');
      await db.pool.query("UPDATE inbox_messages SET processed_at = now() WHERE dedupe_key = 'evt_pending'");
      await gathering;
      expect(await db.pool.query('SELECT 1 FROM inbox_messages WHERE processed_at IS NULL')).toMatchObject({
        rowCount: 1,
      });
      expect(await countUnbatched(db.pool)).toBe(2);
    });
  });

  /** The pending flush job: when it is due (ms from now) and how long it gathers. */
  const flushJob = async () =>
    (
      await db.pool.query<{ ms: number; coalesce_ms: number | null }>(
        `SELECT extract(epoch FROM run_at - now())::float * 1000 AS ms, (payload->>'coalesceMs')::int AS coalesce_ms
           FROM graphile_worker._private_jobs WHERE key = 'flush_outbox'`,
      )
    ).rows[0];
  const flushRan = () =>
    db.pool.query("DELETE FROM graphile_worker._private_jobs WHERE key = 'flush_outbox'");

  it('schedules a flush at once for a few changes; in a burst it waits in the job to gather a batch', async () => {
    await scheduleFlush({ pool: db.pool });
    expect(await flushJob()).toEqual({ ms: expect.any(Number), coalesce_ms: null });
    expect((await flushJob())!.ms).toBeLessThanOrEqual(50);
    // Eight more changes within the second (the pending flush keeps its time and takes them).
    for (let change = 0; change < 8; change++) await scheduleFlush({ pool: db.pool });
    expect(await flushJob()).toEqual({ ms: expect.any(Number), coalesce_ms: null });
    // That flush ran; the burst goes on (the tenth change within the second): the next flush is due at once too (a later run_at would
    // wait for the worker's next poll, a second) and waits COALESCE_MS in the job to gather a batch.
    await flushRan();
    await scheduleFlush({ pool: db.pool });
    const burst = (await flushJob())!;
    expect(burst.ms).toBeLessThanOrEqual(50);
    expect(burst.coalesce_ms).toBe(COALESCE_MS);
    // A full batch while that flush gathers: it sends full batches itself, nothing is scheduled.
    await scheduleFlush({ pool: db.pool }, { full: true });
    expect((await flushJob())!.coalesce_ms).toBe(COALESCE_MS);
    // Changes others wait for: a flush at once.
    await scheduleFlush({ pool: db.pool }, { awaited: true });
    expect(await flushJob()).toEqual({ ms: expect.any(Number), coalesce_ms: null });
  });

  it('a flush ending with changes left leaves them a flush: at once for a few, gathering in a burst, none while another gathers', async () => {
    await put('tsk_left');
    const start = Date.now();
    const at = (ms: number) => jest.spyOn(Date, 'now').mockReturnValue(start + ms);
    try {
      at(0);
      await flushEnded({ pool: db.pool }, { again: true });
      expect(await flushJob()).toEqual({ ms: expect.any(Number), coalesce_ms: null });
      await flushRan();
      // A burst: ten changes within the second; the last one's flush gathers.
      for (let change = 0; change < 9; change++) await scheduleFlush({ pool: db.pool });
      await flushRan();
      await scheduleFlush({ pool: db.pool });
      expect((await flushJob())!.coalesce_ms).toBe(COALESCE_MS);
      await flushRan();
      // Another flush ends while that one gathers: it takes the change, nothing more is scheduled.
      await flushEnded({ pool: db.pool }, { again: true });
      expect(await flushJob()).toBeUndefined();
      // Past its due time, the burst still on: the next flush gathers too (not an immediate one
      // that would send whatever arrived meanwhile in a small batch).
      at(COALESCE_MS + 200);
      await flushEnded({ pool: db.pool }, { again: true });
      expect((await flushJob())!.coalesce_ms).toBe(COALESCE_MS);
      await flushRan();
      // The burst over: at once.
      at(COALESCE_MS + 2_000);
      await flushEnded({ pool: db.pool }, { again: true });
      expect(await flushJob()).toEqual({ ms: expect.any(Number), coalesce_ms: null });
    } finally {
      jest.restoreAllMocks();
    }
  });

  it("a burst's partial batch waits for the next flush while webhooks arrive, for at most MAX_HOLD_MS", async () => {
    await put('tsk_partial');
    // Nothing more on its way: it leaves.
    expect(await holdRemainder({ pool: db.pool })).toBe(false);
    await db.pool.query(
      "INSERT INTO inbox_messages (source, dedupe_key, payload) VALUES ('custompms.webhook', 'evt_more', '{}')",
    );
    expect(await holdRemainder({ pool: db.pool })).toBe(true);
    // Processed, but received within the quiet window (the worker caught up between two deliveries
    // of a burst): still arriving. (Stamped ahead so that a slow machine cannot age it meanwhile.)
    await db.pool.query(
      "UPDATE inbox_messages SET processed_at = now(), received_at = now() + interval '1 minute' WHERE dedupe_key = 'evt_more'",
    );
    expect(await holdRemainder({ pool: db.pool })).toBe(true);
    // Received a while ago and processed: Custompms went quiet, it leaves.
    await db.pool.query(
      "UPDATE inbox_messages SET received_at = now() - interval '1 second' WHERE dedupe_key = 'evt_more'",
    );
    expect(await holdRemainder({ pool: db.pool })).toBe(false);
    await db.pool.query("UPDATE inbox_messages SET processed_at = NULL WHERE dedupe_key = 'evt_more'");
    expect(await holdRemainder({ pool: db.pool })).toBe(true);
    // Held long enough: it leaves even though the burst goes on.
    await db.pool.query(`UPDATE outbox SET created_at = now() - make_interval(secs => $1::float / 1000)`, [
      MAX_HOLD_MS + 1,
    ]);
    expect(await holdRemainder({ pool: db.pool })).toBe(false);
  });
});
