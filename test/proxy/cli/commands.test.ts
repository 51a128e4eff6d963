/**
 * `custompms-sync` subcommands other than doctor (test/proxy/cli/doctor.test.ts): the command-line
 * contract (--help, unknown flags and commands, exit codes, --json on stdout) and what each does
 * to the database. In-process; test/project/production.test.ts runs the compiled build.
 */
import { COMMANDS, main } from '../../../proxy/src/cli';
import type { CliIo } from '../../../proxy/src/cli/common';
import { listAudit } from '../../../proxy/src/store/audit';
import { latestMigrationId } from '../../../proxy/src/store/migrate';
import { recordProblem } from '../../../proxy/src/store/problems';
import { createTestDatabase, type TestDatabase } from '../../support/database';

async function cli(env: Record<string, string>, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk), isTTY: false },
    env,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe('custompms-sync', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.connectionString, NODE_ENV: 'production', LOG_LEVEL: 'error' };
  });
  afterAll(async () => {
    await db.drop();
  });

  it.each(Object.keys(COMMANDS))(
    '%s --help prints its usage on stdout (exit 0); --bogus exits 2',
    async (name) => {
      const help = await cli({}, name, '--help');
      expect(help).toEqual({
        code: 0,
        stdout: expect.stringMatching(new RegExp(`^Usage: custompms-sync ${name}`)),
        stderr: '',
      });
      const bogus = await cli({}, name, '--bogus');
      expect(bogus.code).toBe(2);
      expect(bogus.stdout).toBe('');
      expect(bogus.stderr).toMatch(/--bogus/);
    },
  );

  it('lists the commands, refuses an unknown one, and exits 3 on an invalid configuration', async () => {
    expect(await cli({}, '--help')).toEqual({
      code: 0,
      stdout: expect.stringMatching(/Exit codes:/),
      stderr: '',
    });
    expect((await cli({}, 'frobnicate')).code).toBe(2);
    expect((await cli({})).code).toBe(2);
    const invalid = await cli({ NODE_ENV: 'production' }, 'migrate');
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toMatch(/DATABASE_URL is required when NODE_ENV=production/);
    expect((await cli({ ...env, ADMIN_API_KEY: 'x'.repeat(40) }, 'resolve', '1')).code).toBe(3);
  });

  it('migrate applies every migration with only the database settings, then has nothing to do', async () => {
    const first = await cli({ ...env, SALESFORCE_AUTH: 'jwt', PROXY_API_KEY: 'short' }, 'migrate', '--json');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout) as { applied: number[]; latest: number };
    expect(result.latest).toBe(latestMigrationId());
    expect(result.applied.at(-1)).toBe(latestMigrationId());
    expect(await cli(env, 'migrate')).toEqual({
      code: 0,
      stdout: `database up to date (migration ${latestMigrationId()})\n`,
      stderr: '',
    });
  });

  it('replay and resolve act on problems, exit 1 when refused, and are audited as the CLI', async () => {
    await recordProblem(db.pool, {
      kind: 'dead_letter',
      code: 'CUSTOMPMS_UNAVAILABLE',
      message: 'Custompms answered 503',
      task: 'sync_custompms_record',
      payload: { type: 'task', id: 'tsk_1' },
    });
    await recordProblem(db.pool, { kind: 'error', code: 'INVALID', message: 'bad value' });
    const ids = (await db.pool.query<{ id: string }>('SELECT id FROM sync_problems ORDER BY id')).rows.map(
      (row) => row.id,
    );
    const [dead, error] = ids as [string, string];
    expect(await cli(env, 'replay', dead, '--actor', 'ops@acme.com', '--json')).toEqual({
      code: 0,
      stdout: expect.stringContaining('"outcome": "replayed"'),
      stderr: '',
    });
    expect((await cli(env, 'replay', error)).code).toBe(1);
    expect(await cli(env, 'resolve', error)).toEqual({
      code: 0,
      stdout: `problem ${error}: resolved\n`,
      stderr: '',
    });
    expect((await cli(env, 'resolve', error)).code).toBe(1);
    expect((await cli(env, 'resolve', 'abc')).code).toBe(2);
    expect((await cli(env, 'resolve')).code).toBe(2);
    const audit = await listAudit(db.pool, { limit: 10 });
    expect(audit.map((entry) => [entry.actor, entry.action, entry.outcome])).toEqual([
      ['cli', 'problem.resolve', 'already_resolved'],
      ['cli', 'problem.resolve', 'resolved'],
      ['cli', 'problem.replay', 'not_replayable'],
      ['cli', 'problem.replay', 'replayed'],
    ]);
    expect(audit.at(-1)!.actorLabel).toBe('ops@acme.com');
  });

  it('resync queues a fresh sync of each record named', async () => {
    const result = await cli(env, 'resync', '--type', 'project', 'prj_1', 'prj_2', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      queued: [
        { type: 'project', id: 'prj_1' },
        { type: 'project', id: 'prj_2' },
      ],
    });
    const jobs = await db.pool.query<{ payload: unknown }>(
      `SELECT j.payload FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
        WHERE t.identifier = 'sync_custompms_record' ORDER BY j.id`,
    );
    expect(jobs.rows.map((row) => row.payload)).toEqual(
      expect.arrayContaining([
        { type: 'project', id: 'prj_1' },
        { type: 'project', id: 'prj_2' },
      ]),
    );
    expect((await cli(env, 'resync', '--type', 'invoice', 'x')).code).toBe(2);
    expect((await cli(env, 'resync', '--type', 'task')).code).toBe(2);
  });

  it('backfill refuses a missing or unknown flow before touching anything', async () => {
    expect((await cli(env, 'backfill')).code).toBe(2);
    const bad = await cli(env, 'backfill', '--flow', 'invoices');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--flow must be customers, projects, tasks or all, not "invoices"/);
  });
});
