/**
 * The org's daily API usage, read from `Sforce-Limit-Info` by the client, is stored by the
 * pollers for every process to see (admin status) and warned about when it runs low.
 */
import { loadConfig } from '../../../proxy/src/config';
import { createSyncDeps } from '../../../proxy/src/jobs/deps';
import { pollDeletedTasks } from '../../../proxy/src/jobs/pollers';
import { getApiUsage } from '../../../proxy/src/store/api-usage';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('API usage', () => {
  let db: TestDatabase;
  let sf: SalesforceEmulator;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    sf = await startSalesforceEmulator({ deployForceApp: true });
  });
  afterAll(async () => {
    await sf.close();
    await db.drop();
  });

  function deps() {
    const logs = captureLogs('warn');
    const config = loadConfig({
      ...sf.proxyEnv(),
    });
    return { deps: createSyncDeps(config, db.pool, logs.logger), logs };
  }

  it('is stored by the pollers as Salesforce reported it, with a warning when it runs low', async () => {
    const first = deps();
    await pollDeletedTasks(first.deps);
    const stored = (await getApiUsage(db.pool))!;
    const org = sf.apiUsage();
    expect(stored.limit).toBe(org.max);
    expect(stored.used).toBeGreaterThan(0);
    expect(stored.used).toBeLessThanOrEqual(org.used);
    expect(
      first.logs.lines().some((line) => line.msg === 'the org has used most of its daily API allowance'),
    ).toBe(false);

    sf.org.limits.reset(Math.ceil(org.max * 0.9));
    const second = deps();
    await pollDeletedTasks(second.deps);
    const low = (await getApiUsage(db.pool))!;
    expect(low.used).toBeGreaterThanOrEqual(Math.ceil(org.max * 0.9));
    expect(second.logs.lines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'the org has used most of its daily API allowance' }),
      ]),
    );
  });
});
