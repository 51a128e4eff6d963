import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { adminApiRouter } from '../../../proxy/src/http/admin-api';
import { recordConflicts, recordProblem } from '../../../proxy/src/store/problems';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

const KEY = 'adm_0123456789abcdef0123456789abcdef';

describe('admin API', () => {
  let db: TestDatabase;
  let app: Express;
  const logger = captureLogs().logger;
  const build = (apiKey: string | undefined) =>
    createApp({
      config: loadConfig({}),
      logger,
      pool: db.pool,
      routers: [adminApiRouter({ pool: db.pool, logger, apiKey })],
    });
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
    app = build(KEY);
  });
  afterEach(async () => {
    await db.drop();
  });

  const auth = { authorization: `Bearer ${KEY}` };
  async function queuedJobs(): Promise<{ task_identifier: string; payload: unknown }[]> {
    const rows = await db.pool.query<{ task_identifier: string; payload: unknown }>(
      `SELECT t.identifier AS task_identifier, j.payload
         FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
        ORDER BY j.id`,
    );
    return rows.rows;
  }
  async function problemIds(): Promise<number[]> {
    const rows = await db.pool.query<{ id: string }>('SELECT id FROM sync_problems ORDER BY id');
    return rows.rows.map((row) => Number(row.id));
  }

  it('is off without a key, and refuses a wrong key', async () => {
    const off = await request(build(undefined)).get('/admin/v1/status').set(auth);
    expect(off.status).toBe(503);
    expect(off.body.detail).toContain('ADMIN_API_KEY');
    expect((await request(app).get('/admin/v1/status')).status).toBe(401);
    expect((await request(app).get('/admin/v1/problems').set('authorization', 'Bearer nope')).status).toBe(
      401,
    );
  });

  it('lists open problems by kind and the conflicts, and summarises the state', async () => {
    await recordProblem(db.pool, {
      kind: 'error',
      code: 'INVALID',
      message: 'bad value',
      flow: 'tasks',
      custompmsId: 't1',
    });
    await recordProblem(db.pool, {
      kind: 'dead_letter',
      code: 'JOB_FAILED',
      message: 'gave up',
      task: 'poll_divisions',
      payload: {},
    });
    await recordConflicts(db.pool, [
      {
        flow: 'tasks',
        custompmsId: 't1',
        salesforceId: '00T',
        field: 'title',
        custompmsValue: 'a',
        salesforceValue: 'b',
        winner: 'salesforce',
        policy: 'latest',
      },
    ]);
    const all = await request(app).get('/admin/v1/problems').set(auth);
    expect(all.status).toBe(200);
    expect(all.body.problems.map((problem: { code: string }) => problem.code)).toEqual([
      'INVALID',
      'JOB_FAILED',
    ]);
    const dead = await request(app).get('/admin/v1/problems?kind=dead_letter').set(auth);
    expect(dead.body.problems).toEqual([
      expect.objectContaining({ code: 'JOB_FAILED', task: 'poll_divisions' }),
    ]);
    expect((await request(app).get('/admin/v1/problems?kind=fatal').set(auth)).status).toBe(400);
    const conflicts = await request(app).get('/admin/v1/conflicts').set(auth);
    expect(conflicts.body.conflicts).toEqual([
      expect.objectContaining({
        field: 'title',
        custompmsValue: 'a',
        salesforceValue: 'b',
        winner: 'salesforce',
      }),
    ]);
    const status = await request(app).get('/admin/v1/status').set(auth);
    expect(status.body).toEqual({
      links: {
        customers: { active: 0, deleted: 0, unlinked: 0 },
        projects: { active: 0, deleted: 0, unlinked: 0 },
        tasks: { active: 0, deleted: 0, unlinked: 0 },
      },
      salesforceApiUsage: null,
      openProblems: { error: 1, dead_letter: 1 },
      outboxWaiting: 0,
    });
  });

  it('replays a dead job once, then it is resolved', async () => {
    await recordProblem(db.pool, {
      kind: 'dead_letter',
      code: 'CUSTOMPMS_UNAVAILABLE',
      message: 'Custompms answered 503',
      task: 'sync_custompms_record',
      payload: { type: 'task', id: 'tsk_9' },
    });
    const [id] = await problemIds();
    const replay = await request(app).post(`/admin/v1/problems/${id}/replay`).set(auth);
    expect(replay.status).toBe(202);
    expect(await queuedJobs()).toEqual([
      { task_identifier: 'sync_custompms_record', payload: { type: 'task', id: 'tsk_9' } },
    ]);
    expect((await request(app).get('/admin/v1/problems').set(auth)).body.problems).toEqual([]);
    expect((await request(app).post(`/admin/v1/problems/${id}/replay`).set(auth)).status).toBe(409);
    expect(await queuedJobs()).toHaveLength(1);
  });

  it('replays an unanswered batch as a fresh sync of each of its records', async () => {
    await recordProblem(db.pool, {
      kind: 'dead_letter',
      code: 'BATCH_UNANSWERED',
      message: 'no results',
      task: 'flush_outbox',
      payload: { batchId: 'b_1', records: ['customers:cus_1', 'tasks:tsk:with:colons'] },
    });
    const [id] = await problemIds();
    expect((await request(app).post(`/admin/v1/problems/${id}/replay`).set(auth)).status).toBe(202);
    expect(await queuedJobs()).toEqual([
      { task_identifier: 'sync_custompms_record', payload: { type: 'customer', id: 'cus_1' } },
      { task_identifier: 'sync_custompms_record', payload: { type: 'task', id: 'tsk:with:colons' } },
    ]);
  });

  it('refuses to replay what is not a dead letter, and dismisses problems', async () => {
    await recordProblem(db.pool, { kind: 'error', code: 'INVALID', message: 'bad value' });
    const [id] = await problemIds();
    expect((await request(app).post(`/admin/v1/problems/${id}/replay`).set(auth)).status).toBe(409);
    expect((await request(app).post('/admin/v1/problems/999/replay').set(auth)).status).toBe(404);
    expect((await request(app).post('/admin/v1/problems/abc/replay').set(auth)).status).toBe(400);
    expect((await request(app).post(`/admin/v1/problems/${id}/resolve`).set(auth)).status).toBe(204);
    expect((await request(app).post(`/admin/v1/problems/${id}/resolve`).set(auth)).status).toBe(409);
    expect(await queuedJobs()).toEqual([]);
  });
});
