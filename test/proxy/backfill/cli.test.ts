/**
 * `npm run backfill` as an admin runs it: a separate process configured by the proxy's
 * environment variables, a summary on stdout, the exit code telling whether records failed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startWorld, type World } from '../../support/e2e';
import { linkCount } from './support';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../../..');

function backfill(
  world: World,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'warn',
    DATABASE_URL: world.db.connectionString,
    SALESFORCE_AUTH: 'client_credentials',
    SALESFORCE_LOGIN_URL: world.sf.url,
    SALESFORCE_INSTANCE_URL: world.sf.url,
    SALESFORCE_CLIENT_ID: world.sf.clientId,
    SALESFORCE_CLIENT_SECRET: world.sf.clientSecret,
    CUSTOMPMS_BASE_URL: world.cpms.url,
    CUSTOMPMS_API_TOKEN: world.config.custompms.apiToken!,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/backfill.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run backfill', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ writePath: 'api' });
    const [customer] = world.cpms.controls.seed('customers', [{ name: 'Umbrella', is_active: true }]);
    world.cpms.controls.seed('projects', [
      { customer_id: customer!.id, name: 'Hive', status: 'active', priority: 'high' },
    ]);
    // A task whose project does not exist in Custompms any more: it cannot be linked.
    world.cpms.controls.seed('tasks', [
      { project_id: 'prj_gone', title: 'Lost', status: 'todo', priority: 'low' },
    ]);
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('rejects an unknown flow with the usage line and exit code 2', async () => {
    const result = await backfill(world, ['--flow', 'accounts']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: custompms-sync backfill --flow <customers|projects|tasks|all>');
    expect(result.stdout).toBe('');
  });

  it('prints the summary, lists the failure and exits 1; a dry run writes no link', async () => {
    const dry = await backfill(world, ['--flow', 'all', '--dry-run']);
    expect(dry.stdout).toContain('Backfill dry run: nothing was written');
    expect(dry.code).toBe(1);
    expect(await linkCount(world, 'customers')).toBe(0);

    const result = await backfill(world, ['--flow', 'all']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/customers\s+1\s+0\s+1\s+0\s+0\s+0\s+0/);
    expect(result.stdout).toMatch(/tasks\s+1\s+0\s+0\s+0\s+0\s+0\s+1/);
    expect(result.stdout).toContain('dependency_not_linked');
    expect(result.stdout).toContain("payload->>'runId'");
    // Progress goes to stderr only on a terminal; piped, stderr carries nothing but warnings.
    expect(result.stderr).not.toContain('backfill tasks done');
    expect(await linkCount(world, 'projects')).toBe(1);

    const json = await backfill(world, ['--flow', 'all', '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { dryRun: boolean; failed: number; flows: { flow: string }[] };
    expect(report).toMatchObject({ dryRun: false, failed: 1 });
    expect(report.flows.map((flow) => flow.flow)).toEqual(['customers', 'projects', 'tasks']);
  });
});
