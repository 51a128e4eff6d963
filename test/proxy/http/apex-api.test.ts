import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { apexApiRouter } from '../../../proxy/src/http/apex-api';
import {
  markBatchPublished,
  putOutboxItem,
  takeBatch,
  supersedeBatch,
  completeBatch,
} from '../../../proxy/src/store/batches';
import { listInboxMessages } from '../../../proxy/src/store/inbox';
import { listProblems } from '../../../proxy/src/store/problems';
import { withTransaction } from '../../../proxy/src/store/transaction';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';
import { pendingWrite } from '../../support/pending-write';

const KEY = 'pak_0123456789abcdef0123456789abcdef';

describe('REST API for the org Apex', () => {
  let db: TestDatabase;
  let app: Express;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
    app = createApp({
      config: loadConfig({}),
      logger: captureLogs().logger,
      pool: db.pool,
      routers: [apexApiRouter({ pool: db.pool, apiKey: KEY, bodyLimit: '1mb' })],
    });
  });
  afterEach(async () => {
    await db.drop();
  });

  async function publishedBatch(): Promise<string> {
    await putOutboxItem(db.pool, {
      flow: 'customers',
      custompmsId: 'cus_1',
      kind: 'division',
      record: { Name: 'Acme', IsActive: true },
      plan: pendingWrite('customers', 'cus_1'),
      custompmsVersion: 1,
    });
    await putOutboxItem(db.pool, {
      flow: 'projects',
      custompmsId: 'prj_1',
      kind: 'task',
      record: { Custompms_Id__c: 'prj_1', Custompms_Type__c: 'Project', Subject: 'Launch' },
      plan: pendingWrite('projects', 'prj_1'),
      custompmsVersion: 3,
    });
    const batch = await withTransaction(db.pool, (client) => takeBatch(client, 200));
    await markBatchPublished(db.pool, batch!.id, new Date(Date.now() + 60_000));
    return batch!.id;
  }

  it('refuses calls without the bearer key', async () => {
    await request(app).get('/salesforce/v1/change-batches/b_x').expect(401);
    await request(app)
      .get('/salesforce/v1/change-batches/b_x')
      .set('Authorization', 'Bearer wrong')
      .expect(401);
    await request(app).post('/salesforce/v1/task-deletions').send({}).expect(401);
  });

  it('serves a published batch already mapped, divisions and tasks apart', async () => {
    const id = await publishedBatch();
    const res = await request(app)
      .get(`/salesforce/v1/change-batches/${id}`)
      .set('Authorization', `Bearer ${KEY}`)
      .expect(200);
    expect(res.body).toEqual({
      batchId: id,
      divisions: [{ key: 'cus_1', record: { Name: 'Acme', IsActive: true } }],
      tasks: [
        {
          key: 'prj_1',
          record: { Custompms_Id__c: 'prj_1', Custompms_Type__c: 'Project', Subject: 'Launch' },
        },
      ],
    });
    await request(app)
      .get('/salesforce/v1/change-batches/b_unknown')
      .set('Authorization', `Bearer ${KEY}`)
      .expect(404);
    await supersedeBatch(db.pool, id);
    await request(app)
      .get(`/salesforce/v1/change-batches/${id}`)
      .set('Authorization', `Bearer ${KEY}`)
      .expect(410);
  });

  it('never serves a completed batch again: 410, not its items a second time (#14)', async () => {
    const id = await publishedBatch();
    await completeBatch(db.pool, id);
    await request(app)
      .get(`/salesforce/v1/change-batches/${id}`)
      .set('Authorization', `Bearer ${KEY}`)
      .expect(410);
  });

  it('stores results once, however often they are posted', async () => {
    const id = await publishedBatch();
    const results = {
      results: [
        { kind: 'division', key: 'cus_1', success: true, salesforceId: '02d000000000001AAA', created: true },
        {
          kind: 'task',
          key: 'prj_1',
          success: false,
          errors: [{ statusCode: 'STRING_TOO_LONG', message: 'Subject' }],
        },
      ],
    };
    for (let i = 0; i < 2; i++) {
      await request(app)
        .post(`/salesforce/v1/change-batches/${id}/results`)
        .set('Authorization', `Bearer ${KEY}`)
        .send(results)
        .expect(204);
    }
    const stored = await listInboxMessages(db.pool, 'salesforce.results');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.payload).toEqual({ batchId: id, ...results });
  });

  it("stores a written Task's SystemModstamp as the org sent it", async () => {
    const id = await publishedBatch();
    const results = {
      results: [
        {
          kind: 'task',
          key: 'prj_1',
          success: true,
          salesforceId: '00T000000000001AAA',
          created: true,
          systemModstamp: '2026-11-28T02:20:42.000Z',
        },
        { kind: 'division', key: 'cus_1', success: true, salesforceId: '02d000000000001AAA', created: true },
      ],
    };
    await request(app)
      .post(`/salesforce/v1/change-batches/${id}/results`)
      .set('Authorization', `Bearer ${KEY}`)
      .send(results)
      .expect(204);
    const stored = await listInboxMessages(db.pool, 'salesforce.results');
    // What recordBatchResults gets: the stamp untouched, none where none was sent.
    expect(stored[0]!.payload).toEqual({ batchId: id, ...results });
  });

  it('refuses a stamp that is not a date-time with a clear 422, and stores nothing', async () => {
    const id = await publishedBatch();
    for (const systemModstamp of ['yesterday', '2026-02-30T10:00:00.000Z', 1764296442000]) {
      const res = await request(app)
        .post(`/salesforce/v1/change-batches/${id}/results`)
        .set('Authorization', `Bearer ${KEY}`)
        .send({
          results: [
            { kind: 'task', key: 'prj_1', success: true, salesforceId: '00T000000000001AAA', systemModstamp },
          ],
        })
        .expect(422);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.errors).toEqual([
        {
          path: 'results.0.systemModstamp',
          message: 'an ISO-8601 date-time such as 2026-11-28T02:20:42.000Z',
        },
      ]);
    }
    expect(await listInboxMessages(db.pool)).toHaveLength(0);
  });

  it('validates bodies with a clear 422', async () => {
    const id = await publishedBatch();
    const res = await request(app)
      .post(`/salesforce/v1/change-batches/${id}/results`)
      .set('Authorization', `Bearer ${KEY}`)
      .send({ results: [{ kind: 'account', key: 'x', success: 'yes' }] })
      .expect(422);
    expect(res.type).toBe('application/problem+json');
    expect(res.body.errors.map((error: { path: string }) => error.path)).toEqual([
      'results.0.kind',
      'results.0.success',
    ]);
    expect(await listInboxMessages(db.pool)).toHaveLength(0);
  });

  it('stores task deletions de-duplicated on the event UUID', async () => {
    const body = {
      events: [{ taskId: '00T000000000001AAA', custompmsId: 'tsk_1', operation: 'delete', eventUuid: 'e-1' }],
    };
    await request(app)
      .post('/salesforce/v1/task-deletions')
      .set('Authorization', `Bearer ${KEY}`)
      .send(body)
      .expect(202);
    const again = await request(app)
      .post('/salesforce/v1/task-deletions')
      .set('Authorization', `Bearer ${KEY}`)
      .send(body)
      .expect(202);
    expect(again.body).toEqual({ accepted: 1, duplicates: 1 });
    expect(await listInboxMessages(db.pool, 'salesforce.deletion')).toHaveLength(1);
  });

  it('lists an org-side job failure as a problem once while it is open', async () => {
    const body = {
      failures: [
        {
          job: 'CustompmsPullJob',
          batchId: 'b_1',
          phase: 'FETCH',
          statusCode: 503,
          message: 'Batch not fetched: GET /salesforce/v1/change-batches/b_1 answered 503',
          asyncApexJobId: '7078d0000000001AAA',
        },
      ],
    };
    const first = await request(app)
      .post('/salesforce/v1/job-failures')
      .set('Authorization', `Bearer ${KEY}`)
      .send(body)
      .expect(202);
    expect(first.body).toEqual({ accepted: 1, duplicates: 0 });
    const again = await request(app)
      .post('/salesforce/v1/job-failures')
      .set('Authorization', `Bearer ${KEY}`)
      .send(body)
      .expect(202);
    expect(again.body).toEqual({ accepted: 1, duplicates: 1 });
    const problems = await listProblems(db.pool, 'error');
    expect(problems.filter((p) => p.code === 'apex_job_failed')).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(
          /^CustompmsPullJob FETCH of batch b_1 failed in the org \(HTTP 503\): Batch not fetched/,
        ),
      }),
    ]);
    await request(app).post('/salesforce/v1/job-failures').send(body).expect(401);
    await request(app)
      .post('/salesforce/v1/job-failures')
      .set('Authorization', `Bearer ${KEY}`)
      .send({ failures: [] })
      .expect(422);
  });

  it('a batch the org reports it could not fetch is announced again within seconds, not at its deadline', async () => {
    const batchId = await publishedBatch();
    await db.pool.query(`UPDATE change_batches SET deadline = now() + interval '5 minutes' WHERE id = $1`, [
      batchId,
    ]);
    await request(app)
      .post('/salesforce/v1/job-failures')
      .set('Authorization', `Bearer ${KEY}`)
      .send({
        failures: [
          { job: 'CustompmsPullJob', batchId, phase: 'FETCH', statusCode: null, message: 'Read timed out' },
        ],
      })
      .expect(202);
    const { rows } = await db.pool.query<{ dueInSeconds: number }>(
      `SELECT extract(epoch FROM deadline - now())::float AS "dueInSeconds" FROM change_batches WHERE id = $1`,
      [batchId],
    );
    expect(rows[0]!.dueInSeconds).toBeLessThanOrEqual(10);
    const sweep = await db.pool.query(
      "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'republish_overdue_batches' AND run_at < now() + interval '15 seconds'",
    );
    expect(sweep.rowCount).toBe(1);
  });

  it('serves a batch once per announcement: a second job of the org gets 410; announced again, it is served again', async () => {
    const batchId = await publishedBatch();
    const fetch = () =>
      request(app).get(`/salesforce/v1/change-batches/${batchId}`).set('Authorization', `Bearer ${KEY}`);
    await fetch().expect(200);
    await fetch().expect(410);
    await markBatchPublished(db.pool, batchId, new Date(Date.now() + 60_000));
    await fetch().expect(200);
  });
});
