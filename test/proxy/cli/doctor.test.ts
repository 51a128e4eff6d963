/**
 * `custompms-sync doctor` against the sandbox (emulated org with force-app deployed, Custompms
 * reference server, proxy on its own embedded PostgreSQL): every check passes on the sandbox as it
 * starts, and each misconfiguration, provoked once, fails its check with a fix. The command runs
 * in-process here (same code as the compiled CLI, which test/project/production.test.ts runs).
 */
import { main } from '../../../proxy/src/cli';
import type { CliIo } from '../../../proxy/src/cli/common';
import type { DoctorReport } from '../../../proxy/src/cli/doctor-checks';
import { startSandbox, type Sandbox } from '../../../scripts/sandbox';
import { createTestDatabase, type TestDatabase } from '../../support/database';

jest.setTimeout(180_000);

async function doctor(
  env: Record<string, string | undefined>,
  ...args: string[]
): Promise<{ code: number; report: DoctorReport; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk), isTTY: false },
    env,
  };
  const code = await main(['doctor', '--json', ...args], io);
  return { code, report: JSON.parse(stdout) as DoctorReport, stderr };
}

function statusOf(report: DoctorReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((check) => [check.id, check.status]));
}

function failing(report: DoctorReport): { id: string; fix: string | undefined }[] {
  return report.checks
    .filter((check) => check.status === 'fail')
    .map((check) => ({ id: check.id, fix: check.fix }));
}

const QUICK = ['--skip', 'salesforce.named_credential', '--timeout', '5'];

describe('custompms-sync doctor against the sandbox', () => {
  let sandbox: Sandbox;
  let database: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    sandbox = await startSandbox({ deploy: 'in-process', databaseUrl: database.connectionString });
    env = sandbox.proxyEnv;
  });
  afterAll(async () => {
    await sandbox?.stop();
    await database?.drop();
  });

  it('passes every check on the sandbox as it starts, with an honest skip for what cannot be checked', async () => {
    const { code, report } = await doctor(env);
    expect(statusOf(report)).toEqual({
      database: 'pass',
      migrations: 'pass',
      configuration: 'pass',
      public_url: 'pass',
      'salesforce.auth': 'pass',
      'salesforce.org_id': 'pass',
      'salesforce.api_version': 'pass',
      'salesforce.fields': 'pass',
      'salesforce.permission_set': 'pass',
      'salesforce.flow': 'pass',
      // The emulator's Tooling API answers FlowDefinition only: reported as skipped, never passed.
      'salesforce.outbound_endpoint': 'skip',
      'salesforce.named_credential': 'pass',
      'salesforce.api_usage': 'pass',
      'custompms.api': 'pass',
      // The Custompms contract has no webhook-registration endpoint.
      'custompms.webhook': 'skip',
    });
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    expect(report.checks.find((check) => check.id === 'custompms.webhook')!.detail).toMatch(
      /no endpoint to list or register webhooks/,
    );
  });

  it.each([
    [
      'an unreachable database',
      { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' },
      'database',
      /DATABASE_URL/,
    ],
    ['a proxy not reachable at PUBLIC_URL', { PUBLIC_URL: 'http://127.0.0.1:1' }, 'public_url', /PUBLIC_URL/],
    [
      'Salesforce not configured (a fresh Heroku app)',
      { SALESFORCE_CLIENT_ID: undefined, SALESFORCE_CLIENT_SECRET: undefined },
      'salesforce.auth',
      /External Client App/,
    ],
    [
      'a wrong consumer secret',
      { SALESFORCE_CLIENT_SECRET: 'wrong-secret-0000' },
      'salesforce.auth',
      /CLIENT_SECRET|Consumer/,
    ],
    [
      'another org id',
      { SALESFORCE_ORG_ID: '00D000000000001AAA' },
      'salesforce.org_id',
      /SALESFORCE_ORG_ID=00D/,
    ],
    [
      'an API version the org does not serve',
      { SALESFORCE_API_VERSION: '99.0' },
      'salesforce.api_version',
      /SALESFORCE_API_VERSION=/,
    ],
    [
      'a refused Custompms token',
      { CUSTOMPMS_API_TOKEN: 'cpms_wrong_token_000' },
      'custompms.api',
      /CUSTOMPMS_API_TOKEN/,
    ],
    ['a missing key', { PROXY_API_KEY: undefined }, 'configuration', /config:set/],
    ['an invalid configuration', { ADMIN_API_KEY: 'a'.repeat(40) }, 'configuration', /ADMIN_API_KEY/],
  ] as const)('fails with its fix on %s', async (_what, change, check, fix) => {
    const { code, report } = await doctor({ ...env, ...change }, ...QUICK);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(failing(report)).toContainEqual({ id: check, fix: expect.stringMatching(fix) });
  });

  it('fails the migrations check on a database that was never migrated', async () => {
    const fresh = await createTestDatabase({ migrated: false });
    try {
      const { code, report } = await doctor({ ...env, DATABASE_URL: fresh.connectionString }, ...QUICK);
      expect(code).toBe(1);
      expect(failing(report)).toContainEqual({ id: 'migrations', fix: expect.stringMatching(/migrate/) });
      // What needs the schema is skipped, not failed a second time.
      expect(statusOf(report)['salesforce.named_credential']).toBe('skip');
    } finally {
      await fresh.drop();
    }
  });

  it('fails the fields and permission-set checks when the integration user lacks Custompms_Integration', async () => {
    const org = sandbox.salesforce.org;
    const user = org.users.byUsername(sandbox.salesforce.integrationUsername)!;
    org.users.assignPermissionSet(String(user.Id), 'Custompms_Integration', false);
    try {
      const { report } = await doctor(env, ...QUICK);
      expect(failing(report)).toEqual(
        expect.arrayContaining([
          { id: 'salesforce.fields', fix: expect.stringMatching(/Custompms_Integration/) },
          { id: 'salesforce.permission_set', fix: expect.stringMatching(/Custompms_Integration/) },
        ]),
      );
    } finally {
      org.users.assignPermissionSet(String(user.Id), 'Custompms_Integration', true);
    }
  });

  it('fails the Flow check when the Flow is inactive', async () => {
    const schema = sandbox.salesforce.org.schema;
    const name = 'Custompms_Task_Outbound_Message';
    const active = schema.activeFlowVersion(name);
    schema.activateFlow(name, null);
    try {
      const { report } = await doctor(env, ...QUICK);
      expect(failing(report)).toEqual([{ id: 'salesforce.flow', fix: expect.stringMatching(/Activate/) }]);
    } finally {
      schema.activateFlow(name, active);
    }
  });

  it('fails the round trip when the External Credential holds a key the proxy refuses', async () => {
    const apex = sandbox.salesforce.org.apex;
    apex.setCredentialParameter('Custompms_Proxy', 'ApiKey', 'not-the-proxy-api-key-0123456789abcdef');
    try {
      const { report } = await doctor(env, '--timeout', '3');
      expect(failing(report)).toEqual([
        {
          id: 'salesforce.named_credential',
          fix: expect.stringMatching(/ApiKey must be one of PROXY_API_KEY/),
        },
      ]);
    } finally {
      apex.setCredentialParameter('Custompms_Proxy', 'ApiKey', env.PROXY_API_KEY!);
    }
  });

  it('fails the API usage check when the daily allowance is nearly spent', async () => {
    const limits = sandbox.salesforce.org.limits;
    const max = (limits.resource() as unknown as { DailyApiRequests: { Max: number } }).DailyApiRequests.Max;
    limits.reset(max - 20);
    try {
      const { report } = await doctor(env, ...QUICK);
      expect(failing(report)).toEqual([
        { id: 'salesforce.api_usage', fix: expect.stringMatching(/POLL_INTERVAL_SECONDS/) },
      ]);
    } finally {
      limits.reset(0);
    }
  });

  it('prints a checklist for people without --json, and answers --help and unknown flags', async () => {
    let stdout = '';
    const io: CliIo = {
      stdout: { write: (c: string) => (stdout += c) },
      stderr: { write: () => true },
      env: { ...env, PUBLIC_URL: 'http://127.0.0.1:1' },
    };
    expect(await main(['doctor', ...QUICK], io)).toBe(1);
    expect(stdout).toMatch(/\[FAIL\] Proxy reachable at PUBLIC_URL/);
    expect(stdout).toMatch(/ {7}fix: PUBLIC_URL must be/);
    expect(stdout).toMatch(/\[ok\] {3}Salesforce authentication/);
    expect(stdout).toMatch(/doctor: 1 check\(s\) failed/);
    expect(await main(['doctor', '--help'], io)).toBe(0);
    expect(await main(['doctor', '--bogus'], io)).toBe(2);
  });
});
