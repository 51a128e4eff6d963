/**
 * The Apex API's keys during a rotation, its rate limits, and the `doctor` ping batch (recorded,
 * answered 404 so the org's pull job skips it without reporting a failure).
 */
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { apexApiRouter } from '../../../proxy/src/http/apex-api';
import { createPing, pingReceivedAt, PING_BATCH_PREFIX } from '../../../proxy/src/store/doctor-pings';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

const NEW_KEY = 'pak_7c1d9e2f40a8b35c6d1e7f9021a4b3c5';
const OLD_KEY = 'pak_e4a91b7c2d05f83e6a19c4b7d2e0f5a8';

describe('Apex API keys, limits and the doctor ping', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => {
    await db.drop();
  });
  const build = (perKeyPerMinute = 100) =>
    createApp({
      config: loadConfig({}),
      logger: captureLogs().logger,
      pool: db.pool,
      routers: [
        apexApiRouter({
          pool: db.pool,
          apiKey: [NEW_KEY, OLD_KEY],
          bodyLimit: '1mb',
          rateLimits: { perIpPerMinute: 1_000, perKeyPerMinute, failedAuthPer15Minutes: 100 },
        }),
      ],
    });

  it('records a ping batch fetched with either key of a rotation, and answers 404', async () => {
    const app = build();
    const id = `${PING_BATCH_PREFIX}0b4e`;
    await createPing(db.pool, id);
    expect(await pingReceivedAt(db.pool, id)).toBeUndefined();
    const res = await request(app)
      .get(`/salesforce/v1/change-batches/${id}`)
      .set('authorization', `Bearer ${OLD_KEY}`)
      .expect(404);
    expect(res.body.detail).toBe('doctor ping received');
    expect(await pingReceivedAt(db.pool, id)).toEqual(expect.any(Date));
    // An unknown ping id is an ordinary missing batch; a wrong key never reaches the route.
    await request(app)
      .get(`/salesforce/v1/change-batches/${PING_BATCH_PREFIX}unknown`)
      .set('authorization', `Bearer ${NEW_KEY}`)
      .expect(404, /no such change batch/);
    await request(app)
      .get(`/salesforce/v1/change-batches/${id}`)
      .set('authorization', 'Bearer pak_retired_0000000000000000000000')
      .expect(401);
  });

  it('answers 429 with Retry-After once a key is over its limit', async () => {
    const app = build(2);
    const get = (key: string) =>
      request(app).get('/salesforce/v1/change-batches/none').set('authorization', `Bearer ${key}`);
    await get(NEW_KEY).expect(404);
    await get(NEW_KEY).expect(404);
    const over = await get(NEW_KEY).expect(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    await get(OLD_KEY).expect(404);
  });
});
