/**
 * Data safety of the Salesforce-bound batches (#14): a batch taken but never published is
 * reclaimed (exception at once, crash by the sweep), a per-record transient refusal is written
 * again later instead of ending as an error, and a Division an earlier attempt created (answer
 * lost) is found, not created twice.
 */
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { apexApiRouter } from '../../../proxy/src/http/apex-api';
import { flushOutbox, recordBatchResults, republishOverdue } from '../../../proxy/src/jobs/batches';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from '../../../proxy/src/jobs/deps';
import {
  claimBatchFetch,
  countUnbatched,
  getBatch,
  markBatchPublished,
  overdueBatches,
  putOutboxItem,
  takeBatch,
} from '../../../proxy/src/store/batches';
import { saveLink } from '../../../proxy/src/store/links';
import { withTransaction } from '../../../proxy/src/store/transaction';
import { FLOWS } from '../../../proxy/src/sync';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { withWriteBatch } from '../../support/composite-operations';
import { captureLogs } from '../../support/logs';
import { pendingWrite } from '../../support/pending-write';

const API_KEY = 'pak_0123456789abcdef0123456789abcdef';

describe('change batches under faults', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  const put = (id: string, kind: 'task' | 'division' = 'task') =>
    putOutboxItem(db.pool, {
      flow: kind === 'task' ? 'tasks' : 'customers',
      custompmsId: id,
      kind,
      record: kind === 'task' ? { Custompms_Id__c: id, Subject: id } : { Name: `Customer ${id}` },
      plan: pendingWrite(kind === 'task' ? 'tasks' : 'customers', id),
      custompmsVersion: 1,
    });

  function deps(
    operations: Record<string, unknown>,
    settings: Partial<SyncDeps['settings']> = {},
    now = () => new Date(),
  ): SyncDeps {
    return {
      pool: db.pool,
      logger: captureLogs('error').logger,
      definition: FLOWS,
      settings: { ...DEFAULT_SYNC_SETTINGS, writePath: 'apex', ...settings },
      custompms: () => {
        throw new Error('not used');
      },
      salesforce: () =>
        Promise.resolve({
          operations: withWriteBatch(operations),
          integrationUserId: '005000000000001AAA',
          org: { hasDivisions: () => Promise.resolve(true), listUsers: () => Promise.resolve([]) },
        } as unknown as Awaited<ReturnType<SyncDeps['salesforce']>>),
      now,
      abortCalls: () => {},
    };
  }
  const publishing = {
    publishEvents: (_type: string, events: unknown[]) =>
      Promise.resolve(events.map(() => ({ success: true, errors: [] }))),
  };
  const statuses = async () =>
    (
      await db.pool.query<{ status: string }>('SELECT status FROM change_batches ORDER BY created_at')
    ).rows.map((row) => row.status);

  it('a batch taken but not published (failed auth) goes back to the outbox and is sent on the retry', async () => {
    await put('tsk_1');
    const failing = deps(publishing);
    failing.salesforce = () => Promise.reject(new Error('INVALID_GRANT: authentication failure'));
    await expect(flushOutbox(failing)).rejects.toThrow('INVALID_GRANT');
    expect(await countUnbatched(db.pool)).toBe(1);
    expect(await statuses()).toEqual(['superseded']);
    expect(await flushOutbox(deps(publishing))).toBe(1);
    expect(await statuses()).toEqual(['superseded', 'published']);
  });

  it('a batch left open by a dead process is reclaimed by the overdue sweep and sent again', async () => {
    await put('tsk_1');
    // The process took the batch and died before publishing it.
    await withTransaction(db.pool, (client) => takeBatch(client, 200));
    expect(await countUnbatched(db.pool)).toBe(0);
    const later = deps(
      publishing,
      {},
      () => new Date(Date.now() + DEFAULT_SYNC_SETTINGS.openBatchStaleMs + 1_000),
    );
    await republishOverdue(later);
    expect(await statuses()).toEqual(['superseded', 'published']);
    const rows = await db.pool.query<{ status: string }>(
      'SELECT b.status FROM outbox o JOIN change_batches b ON b.id = o.batch_id',
    );
    expect(rows.rows).toEqual([{ status: 'published' }]);
  });

  it('api path: a batch whose writer process stopped beating is overdue at once, not at its deadline', async () => {
    await put('tsk_1');
    const batch = (await withTransaction(db.pool, (client) => takeBatch(client, 200)))!;
    // Published by a process that then died (SIGKILL) mid-write; its deadline is far ahead.
    await markBatchPublished(db.pool, batch.id, new Date(Date.now() + 3_600_000), 'process-dead');
    await db.pool.query(
      `UPDATE change_batches SET published_at = now() - interval '1 minute' WHERE id = $1`,
      [batch.id],
    );
    await db.pool.query(
      `INSERT INTO worker_heartbeats (worker_id, beat_at) VALUES ('process-dead', now() - interval '50 seconds')`,
    );
    expect((await overdueBatches(db.pool, new Date())).map((due) => due.id)).toEqual([batch.id]);
    // A writer still beating is left to finish.
    await db.pool.query(`UPDATE worker_heartbeats SET beat_at = now() WHERE worker_id = 'process-dead'`);
    expect(await overdueBatches(db.pool, new Date())).toEqual([]);
  });

  it('apex path: a batch the org has not fetched a minute after its first announcement is overdue', async () => {
    await put('tsk_1');
    const batch = (await withTransaction(db.pool, (client) => takeBatch(client, 200)))!;
    await markBatchPublished(db.pool, batch.id, new Date(Date.now() + 3_600_000));
    const ageTo = (seconds: number) =>
      db.pool.query(
        `UPDATE change_batches SET published_at = now() - make_interval(secs => $2) WHERE id = $1`,
        [batch.id, seconds],
      );
    await ageTo(30);
    expect(await overdueBatches(db.pool, new Date())).toEqual([]);
    await ageTo(61);
    expect((await overdueBatches(db.pool, new Date())).map((due) => due.id)).toEqual([batch.id]);
    // Fetched: the org is applying it; its deadline decides.
    await claimBatchFetch(db.pool, batch.id);
    expect(await overdueBatches(db.pool, new Date())).toEqual([]);
    // Announced again and still not fetched: only its deadline makes it due now (no churn).
    await markBatchPublished(db.pool, batch.id, new Date(Date.now() + 3_600_000));
    await ageTo(120);
    expect(await overdueBatches(db.pool, new Date())).toEqual([]);
  });

  it('UNABLE_TO_LOCK_ROW on one record is written again later, not recorded as an error', async () => {
    await put('tsk_1');
    await put('tsk_2');
    await flushOutbox(deps(publishing));
    const batchId = (await db.pool.query<{ id: string }>('SELECT id FROM change_batches')).rows[0]!.id;
    const operations = {
      ...publishing,
      query: function* () {
        yield* [] as unknown[];
      },
    };
    await recordBatchResults(deps(operations), batchId, [
      { kind: 'task', key: 'tsk_1', success: true, salesforceId: '00T000000000001AAA', created: true },
      {
        kind: 'task',
        key: 'tsk_2',
        success: false,
        errors: [
          { statusCode: 'UNABLE_TO_LOCK_ROW', message: 'unable to obtain exclusive access to this record' },
        ],
      },
    ]);
    const problems = await db.pool.query("SELECT code FROM sync_problems WHERE code = 'UNABLE_TO_LOCK_ROW'");
    expect(problems.rowCount).toBe(0);
    const waiting = await db.pool.query<{ custompms_id: string; attempts: number; batch_id: string | null }>(
      'SELECT custompms_id, attempts, batch_id FROM outbox',
    );
    expect(waiting.rows).toEqual([{ custompms_id: 'tsk_2', attempts: 1, batch_id: null }]);
    const flush = await db.pool.query(
      "SELECT 1 FROM graphile_worker.jobs WHERE key = 'flush_outbox:deferred'",
    );
    expect(flush.rowCount).toBe(1);
  });

  it('apex path: a Task deleted since its batch was cut is not served to the org, and its missing result is expected', async () => {
    await put('tsk_4');
    await put('tsk_5');
    await flushOutbox(deps(publishing));
    const batchId = (await db.pool.query<{ id: string }>('SELECT id FROM change_batches')).rows[0]!.id;
    // Custompms deleted tsk_5 after the batch was cut (its delete reached Salesforce): the org's
    // upsert on Custompms_Id__c would create the Task again.
    const linked = pendingWrite('tasks', 'tsk_5').link;
    await saveLink(db.pool, {
      ...linked,
      salesforceId: '00T000000000005AAA',
      custompms: { ...linked.custompms, version: 2, deleted: true },
      salesforce: { ...linked.salesforce, deleted: true },
    });
    const app = createApp({
      config: loadConfig({}),
      logger: captureLogs().logger,
      pool: db.pool,
      routers: [apexApiRouter({ pool: db.pool, apiKey: API_KEY, bodyLimit: '1mb' })],
    });
    const served = await request(app)
      .get(`/salesforce/v1/change-batches/${batchId}`)
      .set('Authorization', `Bearer ${API_KEY}`)
      .expect(200);
    expect(served.body.tasks.map((task: { key: string }) => task.key)).toEqual(['tsk_4']);
    const operations = { ...publishing, query: function* () {} };
    await recordBatchResults(deps(operations), batchId, [
      { kind: 'task', key: 'tsk_4', success: true, salesforceId: '00T000000000004AAA', created: true },
    ]);
    const problems = await db.pool.query("SELECT code FROM sync_problems WHERE code = 'missing_result'");
    expect(problems.rowCount).toBe(0);
    expect(await statuses()).toEqual(['completed']);
  });

  /**
   * A batch announcing a new Task for `id`, which the org fetched; then the Custompms delete of the
   * record was applied (its linked Task `salesforceId` deleted); then the org's upsert ran: a
   * deleted Task does not match Custompms_Id__c, so it made a new one. Returns the batch id.
   */
  async function batchForRecordDeletedSince(id: string, salesforceId: string): Promise<string> {
    await put(id);
    await flushOutbox(deps(publishing));
    const batchId = (await db.pool.query<{ id: string }>('SELECT id FROM change_batches')).rows[0]!.id;
    const linked = pendingWrite('tasks', id).link;
    await saveLink(db.pool, {
      ...linked,
      salesforceId,
      custompms: { ...linked.custompms, version: 2, deleted: true },
      salesforce: { ...linked.salesforce, deleted: true },
    });
    return batchId;
  }

  it('apex path: a Task the org created anyway for a record deleted since is deleted again, nothing recorded', async () => {
    const batchId = await batchForRecordDeletedSince('tsk_6', '00T000000000006AAA');
    const destroyed: string[][] = [];
    const operations = {
      ...publishing,
      query: function* () {},
      destroy: (_object: string, ids: string[]) => {
        destroyed.push(ids);
        return Promise.resolve(ids.map(() => ({ success: true, errors: [] })));
      },
    };
    await recordBatchResults(deps(operations), batchId, [
      { kind: 'task', key: 'tsk_6', success: true, salesforceId: '00T000000000066AAA', created: true },
    ]);
    expect(destroyed).toEqual([['00T000000000066AAA']]);
    const { rows } = await db.pool.query<{ salesforce_id: string }>(
      "SELECT salesforce_id FROM links WHERE custompms_id = 'tsk_6'",
    );
    expect(rows).toEqual([{ salesforce_id: '00T000000000006AAA' }]);
    expect(await statuses()).toEqual(['completed']);
  });

  it('apex path: a Task for a deleted record that cannot be deleted is shown; one refused for now is retried', async () => {
    const batchId = await batchForRecordDeletedSince('tsk_7', '00T000000000007AAA');
    const refusals = [
      [{ statusCode: 'UNABLE_TO_LOCK_ROW', message: 'unable to obtain exclusive access to this record' }],
      [{ statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY', message: 'insufficient access rights on object id' }],
    ];
    const operations = {
      ...publishing,
      query: function* () {},
      destroy: (_object: string, ids: string[]) =>
        Promise.resolve(ids.map(() => ({ success: false, errors: refusals.shift()! }))),
    };
    const results = [
      {
        kind: 'task' as const,
        key: 'tsk_7',
        success: true,
        salesforceId: '00T000000000077AAA',
        created: true,
      },
    ];
    // Locked for now: the recording fails as a whole (its job retries), nothing recorded yet.
    await expect(recordBatchResults(deps(operations), batchId, results)).rejects.toThrow(/for now/);
    expect(await statuses()).toEqual(['published']);
    // Refused for good: an error naming the Task, and the batch completes.
    await recordBatchResults(deps(operations), batchId, results);
    const problems = await db.pool.query(
      "SELECT kind, custompms_id, salesforce_id FROM sync_problems WHERE code = 'ORPHAN_TASK_NOT_DELETED'",
    );
    expect(problems.rows).toEqual([
      { kind: 'error', custompms_id: 'tsk_7', salesforce_id: '00T000000000077AAA' },
    ]);
    expect(await statuses()).toEqual(['completed']);
  });

  it('apex path: a refused delete of such a Task with no error code is shown, not retried for ever', async () => {
    const batchId = await batchForRecordDeletedSince('tsk_8', '00T000000000008AAA');
    const operations = {
      ...publishing,
      query: function* () {},
      destroy: (_object: string, ids: string[]) =>
        Promise.resolve(ids.map(() => ({ success: false, errors: [] }))),
    };
    await recordBatchResults(deps(operations), batchId, [
      { kind: 'task', key: 'tsk_8', success: true, salesforceId: '00T000000000088AAA', created: true },
    ]);
    const problems = await db.pool.query(
      "SELECT salesforce_id FROM sync_problems WHERE code = 'ORPHAN_TASK_NOT_DELETED'",
    );
    expect(problems.rows).toEqual([{ salesforce_id: '00T000000000088AAA' }]);
    expect(await statuses()).toEqual(['completed']);
  });

  it('a validation error is still a shown error at once', async () => {
    await put('tsk_3');
    await flushOutbox(deps(publishing));
    const batchId = (await db.pool.query<{ id: string }>('SELECT id FROM change_batches')).rows[0]!.id;
    await recordBatchResults(deps(publishing), batchId, [
      {
        kind: 'task',
        key: 'tsk_3',
        success: false,
        errors: [{ statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'no' }],
      },
    ]);
    const problems = await db.pool.query(
      "SELECT 1 FROM sync_problems WHERE code = 'FIELD_CUSTOM_VALIDATION_EXCEPTION'",
    );
    expect(problems.rowCount).toBe(1);
    expect(await countUnbatched(db.pool)).toBe(0);
  });

  it('api path: a Division whose create answer was lost is found by name, not created again', async () => {
    await put('cus_1', 'division');
    // Written once already (its answer lost): the sweep writes the batch again.
    const batch = (await withTransaction(db.pool, (client) => takeBatch(client, 200)))!;
    await markBatchPublished(db.pool, batch.id, new Date(Date.now() - 1_000), 'process-dead');
    const created: unknown[] = [];
    const updated: unknown[] = [];
    const operations = {
      create: (_object: string, records: unknown[]) => {
        created.push(...records);
        return Promise.resolve(records.map(() => ({ success: true, id: '02d000000000009AAA', errors: [] })));
      },
      update: (_object: string, records: unknown[]) => {
        updated.push(...records);
        return Promise.resolve(records.map(() => ({ success: true, errors: [] })));
      },
      upsert: () => Promise.resolve([]),
      // The earlier attempt's Division, created by the integration user a moment ago.
      query: function* (soql: string) {
        if (soql.includes('FROM Division')) yield { Id: '02d000000000001AAA', Name: 'Customer cus_1' };
      },
    };
    expect(await republishOverdue(deps(operations, { writePath: 'api' }))).toBe(1);
    expect(created).toEqual([]);
    expect(updated).toEqual([{ Name: 'Customer cus_1', Id: '02d000000000001AAA' }]);
  });

  it("apex path: a batch announced again turns a Division create the org's first run made into an update", async () => {
    await put('cus_1', 'division');
    const queries: string[] = [];
    let divisionExists = false;
    const operations = {
      ...publishing,
      query: function* (soql: string) {
        queries.push(soql);
        if (divisionExists && soql.includes('FROM Division'))
          yield { Id: '02d000000000001AAA', Name: 'Customer cus_1' };
      },
    };
    await flushOutbox(deps(operations));
    const [batchId] = (await db.pool.query<{ id: string }>('SELECT id FROM change_batches')).rows.map(
      (row) => row.id,
    );
    // The org's job created the Division (running as the Automated Process user), then its report was lost.
    divisionExists = true;
    const later = deps(
      operations,
      {},
      () => new Date(Date.now() + DEFAULT_SYNC_SETTINGS.batchDeadlineMs + 1_000),
    );
    expect(await republishOverdue(later)).toBe(1);
    expect(queries.some((soql) => soql.includes('FROM Division') && !soql.includes('CreatedById'))).toBe(
      true,
    );
    const batch = await getBatch(db.pool, batchId!);
    expect(batch?.items.map((item) => item.record)).toEqual([
      { Name: 'Customer cus_1', Id: '02d000000000001AAA' },
    ]);
  });

  /**
   * A task's batch whose first attempt created its Task (as `firstAttempt` now is in the org), then
   * whose writer died before recording the result; written again by the sweep. Returns what the
   * rewrite upserted and the Task the link names.
   */
  async function rewriteAfterFirstAttempt(firstAttempt: { IsDeleted: boolean }) {
    await put('tsk_1');
    const batch = (await withTransaction(db.pool, (client) => takeBatch(client, 200)))!;
    await markBatchPublished(db.pool, batch.id, new Date(Date.now() - 1_000), 'process-dead');
    const upserted: unknown[] = [];
    const operations = {
      upsert: (_object: string, _field: string, records: unknown[]) => {
        upserted.push(...records);
        return Promise.resolve(records.map(() => ({ success: true, id: '00T000000000009AAA', errors: [] })));
      },
      create: () => Promise.resolve([]),
      update: () => Promise.resolve([]),
      queryAll: () =>
        Promise.resolve([{ Id: '00T000000000001AAA', Custompms_Id__c: 'tsk_1', ...firstAttempt }]),
      query: function* () {},
    };
    await republishOverdue(deps(operations, { writePath: 'api' }));
    const links = await db.pool.query<{ salesforce_id: string }>(
      "SELECT salesforce_id FROM links WHERE custompms_id = 'tsk_1'",
    );
    const deletions = await db.pool.query<{ payload: unknown }>(
      "SELECT payload FROM inbox_messages WHERE source = 'salesforce.deletion'",
    );
    return { upserted, linked: links.rows.map((row) => row.salesforce_id), deletions: deletions.rows };
  }

  it('api path: a batch written again does not re-create a Task a user deleted since; the delete is synced', async () => {
    const { upserted, linked, deletions } = await rewriteAfterFirstAttempt({ IsDeleted: true });
    expect(upserted).toEqual([]);
    expect(linked).toEqual(['00T000000000001AAA']);
    expect(deletions).toEqual([
      {
        payload: { taskId: '00T000000000001AAA', custompmsId: 'tsk_1', operation: 'delete', confirmed: true },
      },
    ]);
  });

  it("api path: a batch written again leaves a Task its first attempt created alone (a user's edits since stand)", async () => {
    const { upserted, linked, deletions } = await rewriteAfterFirstAttempt({ IsDeleted: false });
    expect(upserted).toEqual([]);
    expect(linked).toEqual(['00T000000000001AAA']);
    expect(deletions).toEqual([]);
  });
});
