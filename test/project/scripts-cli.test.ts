/**
 * Every script under scripts/ and scripts/bench/ takes its command line the same way (node:util
 * parseArgs): `--help` prints the usage on stdout and exits 0 before anything starts; an unknown
 * flag exits 2 with a message on stderr. Scripts are found by listing the folders, so a new one
 * is held to the same rule.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

/** Files in those folders that are not commands. */
const NOT_COMMANDS = new Map([
  ['scripts/bench/heap-probe.mjs', 'preloaded into the backfill CLI with --import; it has no command line'],
]);

const scripts = ['scripts', 'scripts/bench']
  .flatMap((folder) =>
    readdirSync(path.join(root, folder))
      .filter((name) => /\.(ts|mjs)$/.test(name))
      .map((name) => `${folder}/${name}`),
  )
  .filter((script) => !NOT_COMMANDS.has(script))
  .sort();

function run(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      tsx,
      [script, ...args],
      // No proxy settings, no database: --help and a bad flag must not need them.
      { cwd: root, timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

it('finds the scripts', () => {
  expect(scripts).toEqual(
    expect.arrayContaining(['scripts/backfill.ts', 'scripts/demo.ts', 'scripts/bench/sync-plan.ts']),
  );
});

it.concurrent.each(scripts)(
  '%s: --help prints the usage and exits 0; --bogus exits 2 saying why',
  async (script) => {
    const [help, bogus] = await Promise.all([run(script, ['--help']), run(script, ['--bogus'])]);
    expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage:/im);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--bogus/);
    expect(bogus.stdout).toBe('');
  },
  90_000,
);
