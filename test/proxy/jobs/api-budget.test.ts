/**
 * The API budget (SALESFORCE_API_BUDGET_PERCENT, #18): from the org's last reported usage, ok /
 * tight (Salesforce pollers every 5th slot) / spent (every 30 min); poll_custompms and change
 * syncs are never held back, and a deferred run is no failure.
 */
import type { JobHelpers } from 'graphile-worker';
import type { CustompmsClient } from '../../../proxy/src/custompms/client';
import { loadConfig } from '../../../proxy/src/config';
import { apiBudget, pollerDue } from '../../../proxy/src/jobs/api-budget';
import { createSyncDeps, DEFAULT_SYNC_SETTINGS, type SyncDeps } from '../../../proxy/src/jobs/deps';
import { TASK } from '../../../proxy/src/jobs/task-names';
import { buildTaskList } from '../../../proxy/src/jobs/tasks';
import { saveApiUsage } from '../../../proxy/src/store/api-usage';
import { FLOWS } from '../../../proxy/src/sync';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs, type CapturedLogs } from '../../support/logs';

describe('API budget state', () => {
  it('is ok below 80 % of the share, tight from 80 %, spent at the share', () => {
    const at = (used: number, percent = 50) => apiBudget({ used, limit: 1000 }, percent);
    expect(at(399)).toEqual({ percent: 50, state: 'ok', used: 399, limit: 1000, share: 500 });
    expect(at(400).state).toBe('tight');
    expect(at(499).state).toBe('tight');
    expect(at(500).state).toBe('spent');
    expect(at(900).state).toBe('spent');
    expect(at(799, 100).state).toBe('ok');
    expect(at(800, 100).state).toBe('tight');
    expect(at(10, 1)).toEqual({ percent: 1, state: 'spent', used: 10, limit: 1000, share: 10 });
  });

  it('is ok while the usage is unknown', () => {
    expect(apiBudget(undefined, 50)).toEqual({
      percent: 50,
      state: 'ok',
      used: null,
      limit: null,
      share: null,
    });
    expect(apiBudget({ used: 5, limit: 0 }, 50).state).toBe('ok');
  });

  it('lets a Salesforce poller run every 5th slot when tight and every 30 min when spent', () => {
    const minute = 60_000;
    const start = new Date(Date.UTC(2026, 0, 1, 10, 0, 0));
    // The last run ended 40 s into its slot: the 5th slot after it still counts.
    const lastRun = new Date(start.getTime() + 40_000);
    const later = (ms: number) => new Date(start.getTime() + ms);
    expect(pollerDue('ok', lastRun, later(minute), minute)).toBe(true);
    expect(pollerDue('tight', null, later(minute), minute)).toBe(true);
    expect(pollerDue('tight', lastRun, later(4 * minute), minute)).toBe(false);
    expect(pollerDue('tight', lastRun, later(5 * minute + 200), minute)).toBe(true);
    // Two-minute polls: five of their slots.
    expect(pollerDue('tight', lastRun, later(8 * minute), 2 * minute)).toBe(false);
    expect(pollerDue('tight', lastRun, later(10 * minute), 2 * minute)).toBe(true);
    expect(pollerDue('spent', lastRun, later(5 * minute), minute)).toBe(false);
    expect(pollerDue('spent', lastRun, later(29 * minute), minute)).toBe(false);
    expect(pollerDue('spent', lastRun, later(30 * minute), minute)).toBe(true);
    expect(pollerDue('spent', null, later(minute), minute)).toBe(true);
  });

  it('SALESFORCE_API_BUDGET_PERCENT reaches the sync settings (default 50, 1 to 100)', () => {
    const logger = captureLogs('error').logger;
    const pool = {} as SyncDeps['pool'];
    expect(createSyncDeps(loadConfig({}), pool, logger).settings.apiBudgetPercent).toBe(50);
    const config = loadConfig({ SALESFORCE_API_BUDGET_PERCENT: '20', POLL_INTERVAL_SECONDS: '120' });
    const settings = createSyncDeps(config, pool, logger).settings;
    expect(settings.apiBudgetPercent).toBe(20);
    expect(settings.pollIntervalMs).toBe(2 * 60_000);
    expect(() => loadConfig({ SALESFORCE_API_BUDGET_PERCENT: '0' })).toThrow(/SALESFORCE_API_BUDGET_PERCENT/);
    expect(() => loadConfig({ SALESFORCE_API_BUDGET_PERCENT: '101' })).toThrow(
      /SALESFORCE_API_BUDGET_PERCENT/,
    );
  });
});

describe('API budget gating of the pollers', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  const now = new Date();
  const SALESFORCE_POLLERS = [TASK.pollDivisions, TASK.pollDeletedTasks, TASK.pollTasks];
  const lastAttempt = { job: { attempts: 1, max_attempts: 1 } } as unknown as JobHelpers;

  function deps(logs: CapturedLogs) {
    const salesforce = jest.fn(() => Promise.reject(new Error('the org was called')));
    const empty = async function* () {
      // Nothing changed in Custompms.
    };
    const custompms = { list: empty, listDeleted: empty } as unknown as CustompmsClient;
    const sync: SyncDeps = {
      pool: db.pool,
      logger: logs.logger,
      definition: FLOWS,
      settings: { ...DEFAULT_SYNC_SETTINGS, apiBudgetPercent: 50 },
      custompms: () => custompms,
      salesforce,
      now: () => now,
      abortCalls: () => {},
    };
    return { sync, salesforce };
  }

  async function ranBefore(minutes: number) {
    for (const poller of SALESFORCE_POLLERS) {
      await db.pool.query(
        'INSERT INTO poller_health (poller, last_run_at, last_success_at) VALUES ($1, $2, $2)',
        [poller, new Date(now.getTime() - minutes * 60_000)],
      );
    }
  }

  async function health() {
    const result = await db.pool.query<{
      poller: string;
      last_run_at: Date;
      last_error: string | null;
      consecutive_failures: number;
    }>('SELECT poller, last_run_at, last_error, consecutive_failures FROM poller_health ORDER BY poller');
    return new Map(result.rows.map((row) => [row.poller, row]));
  }

  it('over the share, the Salesforce pollers are deferred (no failure) while poll_custompms runs', async () => {
    await saveApiUsage(db.pool, { used: 600, limit: 1000, at: now.toISOString() });
    await ranBefore(5);
    const before = await health();
    const logs = captureLogs('debug');
    const { sync, salesforce } = deps(logs);
    const tasks = buildTaskList(sync);
    for (const poller of [...SALESFORCE_POLLERS, TASK.pollCustompms]) await tasks[poller]!({}, lastAttempt);

    expect(salesforce).not.toHaveBeenCalled();
    const after = await health();
    for (const poller of SALESFORCE_POLLERS) {
      expect(after.get(poller)).toEqual(before.get(poller));
      expect(after.get(poller)?.last_error).toBeNull();
    }
    expect(after.get(TASK.pollCustompms)).toMatchObject({ last_error: null, consecutive_failures: 0 });
    const deferred = logs
      .lines()
      .filter((line) => line.msg === 'poll deferred: the API budget is running out');
    expect(deferred.map((line) => line.poller).sort()).toEqual([...SALESFORCE_POLLERS].sort());
    expect(deferred[0]).toMatchObject({ level: 'debug', state: 'spent', used: 600, share: 500 });
    const dead = await db.pool.query("SELECT 1 FROM sync_problems WHERE kind = 'dead_letter'");
    expect(dead.rowCount).toBe(0);
  });

  it('spent, a Salesforce poller still runs 30 minutes after its last run (the safety net)', async () => {
    await saveApiUsage(db.pool, { used: 600, limit: 1000, at: now.toISOString() });
    await ranBefore(31);
    const { sync, salesforce } = deps(captureLogs('error'));
    await buildTaskList(sync)[TASK.pollTasks]!({}, lastAttempt);
    expect(salesforce).toHaveBeenCalled();
    expect((await health()).get(TASK.pollTasks)).toMatchObject({ last_error: 'the org was called' });
  });

  it('tight, a Salesforce poller runs every 5th slot; under 80 % of the share every slot', async () => {
    await saveApiUsage(db.pool, { used: 450, limit: 1000, at: now.toISOString() });
    await ranBefore(2);
    const tight = deps(captureLogs('error'));
    await buildTaskList(tight.sync)[TASK.pollTasks]!({}, lastAttempt);
    expect(tight.salesforce).not.toHaveBeenCalled();

    await saveApiUsage(db.pool, { used: 300, limit: 1000, at: now.toISOString() });
    const ok = deps(captureLogs('error'));
    await buildTaskList(ok.sync)[TASK.pollTasks]!({}, lastAttempt);
    expect(ok.salesforce).toHaveBeenCalled();
  });
});
