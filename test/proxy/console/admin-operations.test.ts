/**
 * The admin API's share of the console: filtered, cursor-paged problems; bulk replay and resolve
 * (audited); links by id or name, a record's detail and "resync now"; the overview and settings.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { saveLink } from '../../../proxy/src/store/links';
import { recordProblem } from '../../../proxy/src/store/problems';
import type { Link } from '../../../proxy/src/sync';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('admin API: console operations', () => {
  let db: TestDatabase;
  const key = randomBytes(32).toString('hex');
  const auth = { authorization: `Bearer ${key}` };
  const app = () =>
    createApp({
      config: loadConfig({ ADMIN_API_KEY: key }),
      logger: captureLogs('silent').logger,
      pool: db.pool,
    });

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    for (let i = 1; i <= 5; i += 1) {
      await recordProblem(db.pool, {
        flow: i % 2 ? 'tasks' : 'projects',
        custompmsId: `t${i}`,
        kind: i <= 3 ? 'dead_letter' : 'error',
        code: i <= 3 ? 'JOB_FAILED' : 'REQUIRED_FIELD_MISSING',
        message: `problem ${i}`,
        task: 'sync_custompms_record',
        payload: { type: 'task', id: `t${i}` },
      });
    }
    const link: Link = {
      flow: 'tasks',
      custompmsId: 'tsk_1',
      salesforceId: '00T000000000001AAA',
      status: 'active',
      snapshot: { custompms: { title: 'Order fuel' }, salesforce: { Subject: 'Order fuel' } },
      custompms: { version: 3, modifiedAt: null, deleted: false },
      salesforce: { version: null, modifiedAt: null, deleted: false },
    };
    await saveLink(db.pool, link, 'Synced');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('filters problems and pages them with a cursor', async () => {
    const first = await request(app()).get('/admin/v1/problems?kind=dead_letter&limit=2').set(auth);
    expect(first.status).toBe(200);
    expect(first.body.problems.map((p: { message: string }) => p.message)).toEqual([
      'problem 1',
      'problem 2',
    ]);
    const second = await request(app())
      .get(`/admin/v1/problems?kind=dead_letter&limit=2&cursor=${first.body.nextCursor}`)
      .set(auth);
    expect(second.body.problems.map((p: { message: string }) => p.message)).toEqual(['problem 3']);
    expect(second.body.nextCursor).toBeNull();
    const byFlowAndCode = await request(app())
      .get('/admin/v1/problems?flow=projects&code=REQUIRED_FIELD_MISSING')
      .set(auth);
    expect(byFlowAndCode.body.problems.map((p: { custompmsId: string }) => p.custompmsId)).toEqual(['t4']);
    const future = await request(app()).get('/admin/v1/problems?from=2999-01-01').set(auth);
    expect(future.body.problems).toEqual([]);
    expect((await request(app()).get('/admin/v1/problems?status=maybe').set(auth)).status).toBe(400);
  });

  it('replays and resolves many at once, each audited', async () => {
    const ids = (await request(app()).get('/admin/v1/problems').set(auth)).body.problems.map(
      (p: { id: number }) => p.id,
    );
    const replay = await request(app())
      .post('/admin/v1/problems/replay')
      .set(auth)
      .set('x-admin-actor', 'ops@example.com')
      .send({ ids: ids.slice(0, 3) });
    expect(replay.status).toBe(200);
    expect(replay.body.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'replayed',
      'replayed',
      'replayed',
    ]);
    const resolve = await request(app())
      .post('/admin/v1/problems/resolve')
      .set(auth)
      .send({ ids: [ids[3], ids[0]] });
    expect(resolve.body.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'resolved',
      'already_resolved',
    ]);
    const open = await request(app()).get('/admin/v1/problems').set(auth);
    expect(open.body.problems.map((p: { message: string }) => p.message)).toEqual(['problem 5']);
    const audit = await request(app()).get('/admin/v1/audit').set(auth);
    expect(audit.body.entries.filter((e: { action: string }) => e.action === 'problem.replay')).toHaveLength(
      3,
    );
    expect((await request(app()).post('/admin/v1/problems/replay').set(auth).send({ ids: [] })).status).toBe(
      400,
    );
  });

  it('finds a link by id or name, shows it, and resyncs it', async () => {
    for (const q of ['tsk_1', '00T000000000001AAA', '00T000000000001', 'fuel']) {
      const found = await request(app()).get(`/admin/v1/links?q=${q}`).set(auth);
      expect({ q, ids: found.body.links.map((l: { custompmsId: string }) => l.custompmsId) }).toEqual({
        q,
        ids: ['tsk_1'],
      });
    }
    const [link] = (await request(app()).get('/admin/v1/links').set(auth)).body.links;
    expect(link).toMatchObject({
      flow: 'tasks',
      name: 'Order fuel',
      state: 'active',
      salesforceStatus: 'Synced',
    });
    const resync = await request(app()).post(`/admin/v1/links/${link.id}/resync`).set(auth);
    expect(resync.status).toBe(202);
    const jobs = await db.pool.query(
      "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'sync_custompms_record' AND key = 'cpms:task:tsk_1'",
    );
    expect(jobs.rowCount).toBe(1);
    const detail = await request(app()).get(`/admin/v1/links/${link.id}`).set(auth);
    expect(detail.body.history[0]).toMatchObject({ direction: 'resync', outcome: 'requested' });
    expect((await request(app()).post('/admin/v1/links/999999/resync').set(auth)).status).toBe(404);
  });

  it('gives the overview and the settings', async () => {
    const overview = await request(app()).get('/admin/v1/overview?range=60').set(auth);
    expect(overview.status).toBe(200);
    expect(overview.body.flows).toHaveLength(3);
    expect(overview.body.flows[2].changes.minutes).toHaveLength(60);
    expect(overview.body.queue).toHaveProperty('jobsWaiting');
    const settings = await request(app()).get('/admin/v1/settings').set(auth);
    expect(settings.body).toMatchObject({ writePath: 'apex', policies: { conflict: 'latest' } });
    expect(JSON.stringify(settings.body)).not.toContain(key);
  });
});
