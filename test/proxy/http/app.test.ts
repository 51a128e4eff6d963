import express, { Router } from 'express';
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { createPool } from '../../../proxy/src/store/database';
import { HttpProblem } from '../../../proxy/src/http/problem';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

const config = loadConfig({});

function echoRouter(): Router {
  const router = Router();
  router.post('/echo', express.json({ limit: '1kb' }), (req, res) => {
    req.log.info({ body: req.body as unknown }, 'echo body');
    res.json(req.body);
  });
  router.get('/teapot', () => {
    throw new HttpProblem(418, "I'm a teapot", 'short and stout');
  });
  router.get('/boom', () => {
    throw new Error('database password is hunter2');
  });
  return router;
}

describe('app', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('answers /healthz and /readyz when migrated', async () => {
    const app = createApp({ config, logger: captureLogs().logger, pool: db.pool });
    // A proxy with no credentials at all is up and ready, and says what it lacks.
    const health = await request(app).get('/healthz').expect(200);
    expect(health.body).toEqual({
      status: 'ok',
      notConfigured: expect.objectContaining({
        salesforce: 'SALESFORCE_AUTH=none',
        adminApi: 'ADMIN_API_KEY not set',
      }),
    });
    const ready = await request(app).get('/readyz').expect(200);
    expect(ready.body.status).toBe('ready');
    expect(ready.body.notConfigured.custompms).toBe('CUSTOMPMS_BASE_URL not set');
  });

  it('is not ready before migrations', async () => {
    const fresh = await createTestDatabase();
    try {
      const app = createApp({ config, logger: captureLogs().logger, pool: fresh.pool });
      const res = await request(app).get('/readyz').expect(503);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.detail).toMatch(/migration 0/);
    } finally {
      await fresh.drop();
    }
  });

  it('is not ready when the database is unreachable', async () => {
    const deadPool = createPool('postgres://postgres:postgres@127.0.0.1:1/none');
    const app = createApp({ config, logger: captureLogs().logger, pool: deadPool });
    const res = await request(app).get('/readyz').expect(503);
    expect(res.body).toMatchObject({ title: 'Not Ready', detail: 'database unreachable' });
    await deadPool.end();
  });

  it('answers unknown routes with a problem+json 404', async () => {
    const app = createApp({ config, logger: captureLogs().logger, pool: db.pool });
    const res = await request(app).get('/no/such/route').expect(404);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'No route for GET /no/such/route',
    });
  });

  it('turns body limits, bad JSON, thrown problems and crashes into problem+json', async () => {
    const logs = captureLogs();
    const app = createApp({ config, logger: logs.logger, pool: db.pool, routers: [echoRouter()] });
    const big = await request(app)
      .post('/echo')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ data: 'x'.repeat(5000) }))
      .expect(413);
    expect(big.body.title).toBe('Payload Too Large');
    const bad = await request(app)
      .post('/echo')
      .set('content-type', 'application/json')
      .send('{"a":')
      .expect(400);
    expect(bad.body.title).toBe('Malformed Body');
    const teapot = await request(app).get('/teapot').expect(418);
    expect(teapot.body).toEqual({
      type: 'about:blank',
      title: "I'm a teapot",
      status: 418,
      detail: 'short and stout',
    });
    const boom = await request(app).get('/boom').expect(500);
    expect(boom.body).toEqual({ type: 'about:blank', title: 'Internal Server Error', status: 500 });
    expect(JSON.stringify(boom.body)).not.toContain('hunter2');
  });

  it('sets security headers', async () => {
    const app = createApp({ config, logger: captureLogs().logger, pool: db.pool });
    const res = await request(app).get('/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('logs every line of a request with its request id and no secrets', async () => {
    const logs = captureLogs();
    const app = createApp({ config, logger: logs.logger, pool: db.pool, routers: [echoRouter()] });
    const secrets = [
      'Bearer sk_live_abcdef123456',
      'whsec_topsecret_987',
      'tok_path_secret_555',
      'pw-xyz-42',
    ];
    await request(app)
      .post('/echo?token=tok_query_secret_777')
      .set('Authorization', secrets[0]!)
      .set('Custompms-Signature', `t=1,v1=${secrets[1]}`)
      .set('X-Request-Id', 'req-123')
      .send({ token: secrets[2], nested: { password: secrets[3] }, visible: 'hello' })
      .expect(200);
    await request(app).get(`/salesforce/v1/outbound-messages/${secrets[2]}`).expect(404);

    const text = logs.text();
    for (const secret of [...secrets, 'tok_query_secret_777']) expect(text).not.toContain(secret);
    expect(text).toContain('hello');
    const requestLines = logs.lines().filter((line) => JSON.stringify(line).includes('req-123'));
    expect(requestLines.length).toBeGreaterThanOrEqual(2);
    for (const line of logs.lines().filter((line) => line.msg === 'echo body')) {
      expect(line.reqId).toBe('req-123');
    }
  });
});
