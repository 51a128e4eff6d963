/**
 * The chaos harness (scripts/chaos.ts) in its small configuration: 300 changes on both sides,
 * 3 SIGKILLs of the proxy's processes, 20 % Salesforce faults and a Custompms outage. It must end
 * with nothing lost, duplicated or stuck. No wall-clock threshold: the harness waits for
 * convergence (up to its own timeout) and reports how long it took.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database';

const root = path.resolve(__dirname, '../..');

function runChaos(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/chaos.ts'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('chaos harness, small configuration', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('loses, duplicates and strands nothing through kills, faults and an outage', async () => {
    const run = await runChaos([
      '--changes=300',
      '--kills=3',
      '--fault-rate=0.2',
      '--outage-seconds=10',
      '--rate=10',
      '--seed=14',
      '--converge-timeout-seconds=420',
      `--database-url=${db.connectionString}`,
      '--json',
    ]);
    const line = run.stdout.split('\n').find((candidate) => candidate.startsWith('CHAOS_RESULT '));
    if (!line)
      throw new Error(`no result from the harness (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
    const result = JSON.parse(line.slice('CHAOS_RESULT '.length)) as {
      lost: number;
      duplicated: number;
      stuck: number;
      kills: number;
      examples: string[];
    };
    expect({
      lost: result.lost,
      duplicated: result.duplicated,
      stuck: result.stuck,
      examples: result.examples,
    }).toEqual({
      lost: 0,
      duplicated: 0,
      stuck: 0,
      examples: [],
    });
    expect(result.kills).toBe(3);
    expect(run.code).toBe(0);
  }, 900_000);
});
