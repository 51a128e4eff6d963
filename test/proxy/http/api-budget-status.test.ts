/**
 * The API budget in the status (#18): the admin overview reports the state the worker's pollers
 * act on (the budget share it stored with the usage), and the console's overview shows it.
 */
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { adminApiRouter } from '../../../proxy/src/http/admin-api';
import { overviewPage } from '../../../proxy/src/http/console/views';
import { overview } from '../../../proxy/src/http/operations';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps } from '../../../proxy/src/jobs/deps';
import { recordApiUsage } from '../../../proxy/src/jobs/pollers';
import { saveApiUsage } from '../../../proxy/src/store/api-usage';
import { FLOWS } from '../../../proxy/src/sync';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

const KEY = 'adm_3c9e1f07b5a24d68e0c1f9a3b7d24e56';

describe('API budget in the status', () => {
  let db: TestDatabase;
  const logger = captureLogs('error').logger;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  /** What a worker with SALESFORCE_API_BUDGET_PERCENT=`percent` stores after a poll. */
  async function workerReports(used: number, limit: number, percent: number) {
    const deps = {
      pool: db.pool,
      logger,
      definition: FLOWS,
      settings: { ...DEFAULT_SYNC_SETTINGS, apiBudgetPercent: percent },
      custompms: () => {
        throw new Error('not used');
      },
      salesforce: () => Promise.resolve({ client: { apiUsage: () => ({ used, limit }) } }),
      now: () => new Date(),
    } as unknown as SyncDeps;
    await recordApiUsage(deps);
  }

  it('the admin overview reports the budget the worker applies', async () => {
    await workerReports(900, 10_000, 10);
    const app = createApp({
      config: loadConfig({}),
      logger,
      pool: db.pool,
      routers: [adminApiRouter({ pool: db.pool, logger, apiKey: KEY })],
    });
    const response = await request(app)
      .get('/admin/v1/overview?range=60')
      .set('authorization', `Bearer ${KEY}`)
      .expect(200);
    expect(response.body.apiBudget).toEqual({
      percent: 10,
      state: 'tight',
      used: 900,
      limit: 10_000,
      share: 1000,
    });

    await workerReports(1000, 10_000, 10);
    expect((await overview({ pool: db.pool, logger }, 60)).apiBudget.state).toBe('spent');
    await workerReports(100, 10_000, 10);
    expect((await overview({ pool: db.pool, logger }, 60)).apiBudget.state).toBe('ok');
  });

  it('before the worker stored a budget: the configured or default share, ok while nothing is reported', async () => {
    expect((await overview({ pool: db.pool, logger }, 60)).apiBudget).toEqual({
      percent: 50,
      state: 'ok',
      used: null,
      limit: null,
      share: null,
    });
    await saveApiUsage(db.pool, { used: 700, limit: 1000, at: new Date().toISOString() });
    expect((await overview({ pool: db.pool, logger }, 60)).apiBudget).toMatchObject({
      percent: 50,
      state: 'spent',
    });
    expect((await overview({ pool: db.pool, logger, apiBudgetPercent: 80 }, 60)).apiBudget).toMatchObject({
      percent: 80,
      state: 'tight',
      share: 800,
    });
  });

  it("the console's overview shows the budget in one line", async () => {
    await workerReports(9_500, 10_000, 50);
    const page = overviewPage({ base: '/console' }, await overview({ pool: db.pool, logger }, 60));
    expect(page).toMatch(
      /Budget 50% \(5,000 requests\): <span class="bad">spent: Salesforce pollers deferred to every 30 min<\/span>/,
    );
  });
});
