/**
 * Shutting down abandons outbound calls that would outlast it (#14): a job waiting on Custompms or
 * Salesforce fails at once and is retried by the next worker, instead of running until the
 * shutdown timeout kills the process with the job still locked.
 */
import { loadConfig } from '../../../proxy/src/config';
import { createSyncDeps } from '../../../proxy/src/jobs/deps';
import { enqueueCustompmsSync } from '../../../proxy/src/jobs/enqueue';
import { startRuntime, stopRuntime } from '../../../proxy/src/runtime';
import { SalesforceClient } from '../../../proxy/src/salesforce/client';
import { startCustompmsEmulator, type CustompmsEmulator } from '../../emulators/custompms/server';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { eventually } from '../../support/eventually';
import { captureLogs } from '../../support/logs';

describe('shutdown', () => {
  let db: TestDatabase;
  let cpms: CustompmsEmulator;
  let sf: SalesforceEmulator;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    cpms = await startCustompmsEmulator({ token: 'cpms_shutdown_token' });
    sf = await startSalesforceEmulator({ deployForceApp: false });
  });
  afterAll(async () => {
    await cpms.stop();
    await sf.close();
    await db.drop();
  });

  it('a job waiting on Custompms fails and is unlocked, not left running', async () => {
    // Custompms holds the record read for ten minutes: far longer than the shutdown may take.
    cpms.controls.setFaults({
      rules: [{ route: 'GET /api/v1/tasks/:id', action: 'delay', delayMs: 600_000 }],
    });
    const config = loadConfig({
      DATABASE_URL: db.connectionString,
      CUSTOMPMS_BASE_URL: cpms.url,
      CUSTOMPMS_API_TOKEN: 'cpms_shutdown_token',
      SHUTDOWN_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'silent',
    });
    const runtime = await startRuntime(config, { worker: true });
    await enqueueCustompmsSync(runtime.sync, 'task', 'tsk_slow');
    await eventually(() => cpms.controls.faultHits().length === 1, 'the record read to be in flight');
    await stopRuntime(runtime);
    const { rows } = await db.pool.query<{ locked_at: Date | null; last_error: string | null }>(
      "SELECT locked_at, last_error FROM graphile_worker.jobs WHERE task_identifier = 'sync_custompms_record'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.locked_at).toBeNull();
    expect(rows[0]!.last_error).toMatch(/shutting down|abort/i);
  });

  it('a Salesforce call in flight is abandoned with SALESFORCE_CALL_ABORTED', async () => {
    const shutdown = new AbortController();
    const settings = loadConfig(sf.proxyEnv()).salesforce;
    const client = await SalesforceClient.connect(settings, { signal: shutdown.signal });
    sf.org.faults.set([{ route: '*', latencyMs: 600_000 }]);
    try {
      const call = client.call(async (conn) => conn.query('SELECT Id FROM Task LIMIT 1'));
      shutdown.abort(new Error('the worker is shutting down'));
      await expect(call).rejects.toMatchObject({ errorCode: 'SALESFORCE_CALL_ABORTED' });
      // Nothing more is sent once aborted.
      await expect(
        client.call(async (conn) => conn.query('SELECT Id FROM Task LIMIT 1')),
      ).rejects.toMatchObject({
        errorCode: 'SALESFORCE_CALL_ABORTED',
      });
    } finally {
      sf.org.faults.set([]);
    }
  });

  it('the sync deps abandon both sides with one call', async () => {
    const deps = createSyncDeps(
      loadConfig({ CUSTOMPMS_BASE_URL: cpms.url, CUSTOMPMS_API_TOKEN: 'cpms_shutdown_token' }),
      db.pool,
      captureLogs('error').logger,
    );
    cpms.controls.setFaults({
      rules: [{ route: 'GET /api/v1/tasks/:id', action: 'delay', delayMs: 600_000 }],
    });
    const read = deps.custompms().get('tasks', 'tsk_other');
    deps.abortCalls(new Error('the worker is shutting down'));
    await expect(read).rejects.toThrow();
    cpms.controls.setFaults({});
  });
});
