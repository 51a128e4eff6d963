/**
 * `npm run demo` is the README's first command: it must run to the end on a fresh checkout. The
 * tour itself waits for every effect it narrates, so exit 0 means each step was observed.
 * (`--fast` deploys force-app in-process; test/cli covers the real sf CLI deploy.)
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

it('runs the scripted tour to the end, with both sides in the final table', () => {
  const run = spawnSync(path.join(root, 'node_modules/.bin/tsx'), ['scripts/demo.ts', '--fast'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 150_000,
    env: { ...process.env, LOG_LEVEL: 'error' },
  });
  expect(run.stderr).not.toContain('demo failed');
  expect(run.status).toBe(0);
  expect(run.stdout).toContain('policy: latest wins');
  expect(run.stdout).toMatch(
    /tasks\s+tasks\.title\s+Order fuel \(LOX\)\s+Order fuel and oxidiser\s+salesforce\s+latest/,
  );
  expect(run.stdout).toMatch(
    /Project prj_\w+\s+Launch site \(permits\)\s+on_hold\s+00T\w{15}\s+Launch site \(permits\)/,
  );
  expect(run.stdout).not.toContain('Open problems');
  // Two of the three tasks were deleted on one side or the other; their links say so.
  expect(run.stdout).toContain('"tasks":{"active":1,"deleted":2,"unlinked":0}');
}, 180_000);
