import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { adminApiRouter } from '../../../proxy/src/http/admin-api';
import type { RateLimitSettings } from '../../../proxy/src/http/rate-limit';
import { keyFingerprint } from '../../../proxy/src/http/secrets';
import { recordConflicts, recordProblem } from '../../../proxy/src/store/problems';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

const KEY = 'adm_5f1c9a03e7b24d6a8c1e0f937b2a4d58';
const OLD_KEY = 'adm_b81e2c7d40a95f3e6d2c18a7094be3f1';

describe('admin API', () => {
  let db: TestDatabase;
  let app: Express;
  const logger = captureLogs().logger;
  const build = (apiKey: string | string[] | undefined, rateLimits?: RateLimitSettings) =>
    createApp({
      config: loadConfig({}),
      logger,
      pool: db.pool,
      routers: [adminApiRouter({ pool: db.pool, logger, apiKey, ...(rateLimits ? { rateLimits } : {}) })],
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
      notConfigured: {},
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

  it('accepts every configured key (rotation) and audits who replayed and resolved what', async () => {
    const rotating = build([KEY, OLD_KEY]);
    await recordProblem(db.pool, {
      kind: 'dead_letter',
      code: 'CUSTOMPMS_UNAVAILABLE',
      message: 'Custompms answered 503',
      task: 'sync_custompms_record',
      payload: { type: 'task', id: 'tsk_9' },
    });
    await recordProblem(db.pool, { kind: 'error', code: 'INVALID', message: 'bad value' });
    const [dead, error] = await problemIds();
    await request(rotating)
      .post(`/admin/v1/problems/${dead}/replay`)
      .set('authorization', `Bearer ${OLD_KEY}`)
      .set('x-admin-actor', 'alice@acme.com')
      .expect(202);
    await request(rotating).post(`/admin/v1/problems/${error}/resolve`).set(auth).expect(204);
    await request(rotating).post(`/admin/v1/problems/${error}/resolve`).set(auth).expect(409);
    await request(rotating)
      .get('/admin/v1/status')
      .set('authorization', 'Bearer adm_not_a_key_at_all_0000000000')
      .expect(401);

    const audit = await request(rotating).get('/admin/v1/audit').set(auth).expect(200);
    expect(audit.body.entries).toEqual([
      expect.objectContaining({
        action: 'problem.resolve',
        target: `problem:${error}`,
        outcome: 'already_resolved',
        actor: keyFingerprint(KEY),
        actorLabel: null,
      }),
      expect.objectContaining({
        action: 'problem.resolve',
        target: `problem:${error}`,
        outcome: 'resolved',
        actor: keyFingerprint(KEY),
      }),
      expect.objectContaining({
        action: 'problem.replay',
        target: `problem:${dead}`,
        outcome: 'replayed',
        actor: keyFingerprint(OLD_KEY),
        actorLabel: 'alice@acme.com',
        ip: expect.any(String),
        at: expect.any(String),
      }),
    ]);
    expect(JSON.stringify(audit.body)).not.toContain(KEY);
    const page = await request(rotating)
      .get(`/admin/v1/audit?limit=1&before=${audit.body.entries[0].id}&action=problem.replay`)
      .set(auth);
    expect(page.body.entries).toEqual([expect.objectContaining({ action: 'problem.replay' })]);
  });

  it('answers 429 with Retry-After over the per-key limit and after repeated wrong keys', async () => {
    const limited = build([KEY, OLD_KEY], {
      perIpPerMinute: 100,
      perKeyPerMinute: 3,
      failedAuthPer15Minutes: 2,
    });
    for (let i = 0; i < 3; i++) await request(limited).get('/admin/v1/status').set(auth).expect(200);
    const over = await request(limited).get('/admin/v1/status').set(auth).expect(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.headers['content-type']).toContain('application/problem+json');
    // Another key is its own bucket.
    await request(limited).get('/admin/v1/status').set('authorization', `Bearer ${OLD_KEY}`).expect(200);

    const guessing = build(KEY, { perIpPerMinute: 100, perKeyPerMinute: 100, failedAuthPer15Minutes: 2 });
    const wrong = { authorization: 'Bearer adm_wrong_wrong_wrong_wrong_wrong_00' };
    await request(guessing).get('/admin/v1/status').set(wrong).expect(401);
    await request(guessing).get('/admin/v1/status').set(wrong).expect(401);
    const blocked = await request(guessing).get('/admin/v1/status').set(auth).expect(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);

    const perIp = build(KEY, { perIpPerMinute: 2, perKeyPerMinute: 100, failedAuthPer15Minutes: 100 });
    await request(perIp).get('/admin/v1/status').set(auth).expect(200);
    await request(perIp).get('/admin/v1/status').set(auth).expect(200);
    await request(perIp).get('/admin/v1/status').set(auth).expect(429);
  });
});
