/**
 * The operator console in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against the whole product (startWorld: both emulators, the proxy, PostgreSQL):
 * sign in through the emulated org's web server flow as an admin with Custompms_Admin (and be
 * refused without it), see the overview's charts drawn from a real sync, find a record and
 * resync it, replay a dead letter, apply a conflict's other value, sign out. axe-core (injected
 * into each page) must find no serious or critical violation. Screenshots of every page go to
 * test-output/console/ (gitignored).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { chromium, type Browser, type Page } from 'playwright-core';
import { enqueueJob } from '../../../proxy/src/store/jobs';
import { recordProblem } from '../../../proxy/src/store/problems';
import { webLogin, DEFAULT_PASSWORD } from '../../emulators/salesforce/http/web-login';
import { STANDARD_USER } from '../../emulators/salesforce/security/profiles';
import { adminConnection, linkedId, startWorld, type World } from '../../support/e2e';
import { eventually } from '../../support/eventually';

jest.setTimeout(300_000);

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(__dirname, '../../../test-output/console');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

async function axeSerious(
  page: Page,
): Promise<{ id: string; impact: string; help: string; nodes: string[] }[]> {
  // Evaluated through the DevTools protocol, so the console's CSP (script-src 'self') stays on.
  await page.evaluate(AXE);
  type Violation = { id: string; impact: string; help: string; nodes: { target: string[] }[] };
  // A string, evaluated in the page (the test program has no DOM types).
  const violations = await page.evaluate<Violation[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations)`,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function checkPage(page: Page, name: string): Promise<void> {
  await shoot(page, name);
  expect({ page: name, violations: await axeSerious(page) }).toEqual({ page: name, violations: [] });
}

/** Sum of a family's samples whose labels include `labels`. */
function sum(families: PrometheusFamily[], name: string, labels: Record<string, string>): number {
  return (families.find((family) => family.name === name)?.metrics ?? [])
    .filter((sample) => Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v))
    .reduce((total, sample) => total + Number(sample.value ?? 0), 0);
}

async function signIn(page: Page, baseUrl: string, username: string, shots?: string): Promise<void> {
  await page.goto(`${baseUrl}/console`);
  await page.waitForSelector('#sign-in');
  if (shots) await checkPage(page, `${shots}-sign-in`);
  await page.click('#sign-in');
  // The emulated org's login page, then its consent page.
  await page.waitForSelector('#username');
  if (shots) await shoot(page, `${shots}-org-login`);
  await page.fill('#username', username);
  await page.fill('#password', DEFAULT_PASSWORD);
  await page.click('#Login');
  await page.waitForSelector('#oaapprove');
  if (shots) await shoot(page, `${shots}-org-consent`);
  await page.click('#oaapprove');
}

describe('operator console (headless Chromium)', () => {
  let world: World;
  let browser: Browser;
  const adminKey = randomBytes(32).toString('hex');
  const metricsKey = randomBytes(32).toString('hex');

  const scrape = async (): Promise<PrometheusFamily[]> => {
    const response = await fetch(`${world.proxyUrl}/metrics`, {
      headers: { authorization: `Bearer ${metricsKey}` },
    });
    expect(response.status).toBe(200);
    return parsePrometheusTextFormat(await response.text());
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    world = await startWorld({ env: { ADMIN_API_KEY: adminKey, METRICS_API_KEY: metricsKey } });
    webLogin(world.sf.org).registerApp({
      clientId: world.sf.clientId,
      callbackUrls: [`${world.proxyUrl}/console/auth/callback`],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await world?.stop();
  });

  it('refuses a Salesforce user without the Custompms_Admin permission set', async () => {
    world.sf.org.users.create({
      username: 'viewer@custompms.example',
      email: 'viewer@custompms.example',
      lastName: 'Viewer',
      profile: STANDARD_USER,
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, world.proxyUrl, 'viewer@custompms.example', '00');
    await page.waitForSelector('text=Access refused');
    expect(await page.textContent('main')).toContain('does not hold the Custompms_Admin permission set');
    await checkPage(page, '00-refused');
    // Still no way in.
    await page.goto(`${world.proxyUrl}/console/problems`);
    await page.waitForSelector('#sign-in');
    await context.close();
  });

  it('signs an admin in, shows a real sync, resyncs a record, replays a dead letter, applies a conflict’s other value', async () => {
    const { controls } = world.cpms;
    const conn = adminConnection(world);
    const before = await scrape();
    // A real sync run: a customer, a project and two tasks travel to Salesforce.
    const customer = controls.create('customers', { name: 'Console Rockets', is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Moon shot',
      status: 'active',
    });
    const task = controls.create('tasks', { project_id: project.id, title: 'Order fuel', status: 'todo' });
    const other = controls.create('tasks', {
      project_id: project.id,
      title: 'Paint the fins',
      status: 'todo',
    });
    const taskId = await linkedId(world, 'tasks', task.id);
    await linkedId(world, 'tasks', other.id);
    // /metrics (parsed as Prometheus text) moved with the sync.
    const after = await eventually(async () => {
      const now = await scrape();
      return sum(now, 'custompms_sync_writes_total', { side: 'salesforce', flow: 'tasks', outcome: 'ok' }) >=
        sum(before, 'custompms_sync_writes_total', { side: 'salesforce', flow: 'tasks', outcome: 'ok' }) + 2
        ? now
        : undefined;
    }, 'the writes counter to move');
    expect(
      sum(after, 'custompms_sync_changes_received_total', { source: 'custompms.webhook', flow: 'tasks' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sum(after, 'custompms_sync_salesforce_api_calls_total', {})).toBeGreaterThan(
      sum(before, 'custompms_sync_salesforce_api_calls_total', {}),
    );

    // A conflict, for real: both sides rename the task before either edit reaches the other.
    controls.setFaults({ webhooks: { lossRate: 1 } });
    controls.edit('tasks', task.id, { title: 'Order fuel (LOX)' });
    world.clock.advance(2_000);
    await conn.sobject('Task').update({ Id: taskId, Subject: 'Order fuel and oxidiser' });
    await eventually(
      async () =>
        (
          await world.db.pool.query(
            "SELECT 1 FROM conflicts WHERE custompms_id = $1 AND field = 'tasks.title'",
            [task.id],
          )
        ).rowCount === 1,
      { what: 'the conflict recorded', timeoutMs: 60_000 },
    );
    controls.clearFaults();
    await eventually(
      async () =>
        controls.record('tasks', task.id)?.title === 'Order fuel and oxidiser' &&
        (await conn.sobject('Task').retrieve(taskId)).Subject === 'Order fuel and oxidiser',
      { what: 'both sides on the later edit', timeoutMs: 60_000 },
    );

    // The pollers run once (as their cron would): their health and the org's API usage are recorded.
    await enqueueJob(world.db.pool, 'poll_divisions', {});
    await enqueueJob(world.db.pool, 'poll_deleted_tasks', {});
    await eventually(
      async () => (await world.db.pool.query('SELECT 1 FROM poller_health')).rowCount === 2,
      'both pollers to have run',
    );

    // A dead letter as the worker parks one after its last attempt.
    await recordProblem(world.db.pool, {
      kind: 'dead_letter',
      code: 'CUSTOMPMS_UNAVAILABLE',
      message: 'Custompms answered 503 ten times',
      task: 'sync_custompms_record',
      payload: { type: 'task', id: other.id },
    });

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, world.proxyUrl, world.sf.adminUsername);

    // Overview: charts drawn from the run.
    await page.waitForSelector('html[data-charts="drawn"]');
    expect(page.url()).toBe(`${world.proxyUrl}/console`);
    expect(await page.locator('.plot canvas').count()).toBeGreaterThanOrEqual(6);
    expect(await page.textContent('#flow-tasks + dl')).toMatch(/Linked, active\s*2/);
    await page.goto(`${world.proxyUrl}/console?range=60`);
    await page.waitForSelector('html[data-charts="drawn"]');
    await checkPage(page, '01-overview');
    const changesCaption = await page.textContent('#changes-tasks >> xpath=..');
    expect(changesCaption).toMatch(/[1-9]\d* in, [1-9]\d* out/);
    expect(await page.textContent('#lag-tasks >> xpath=..')).toMatch(/p50 \d/);
    expect(await page.locator('svg.gauge').count()).toBe(1);
    expect(await page.textContent('#pollers + div')).toContain('poll_divisions');

    // The same page at phone width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.waitForSelector('html[data-charts="drawn"]');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shoot(page, '02-overview-phone');
    await page.setViewportSize({ width: 1280, height: 900 });

    // Links: find the record by name, open it, resync it.
    await page.click('nav >> text=Links');
    await page.fill('#q', 'Paint');
    await page.click('button:has-text("Search")');
    await page.waitForSelector('table >> text=Paint the fins');
    await checkPage(page, '03-links');
    await page.click('table >> text=Paint the fins');
    await page.waitForSelector('#resync');
    await checkPage(page, '04-link');
    await page.click('#resync');
    await page.waitForSelector('.flash >> text=Resync queued');
    expect(await page.textContent('main')).toContain('requested');
    await eventually(
      async () =>
        (
          await world.db.pool.query(
            "SELECT 1 FROM admin_audit WHERE action = 'link.resync' AND outcome = 'queued' AND actor = 'console:admin@custompms.example'",
          )
        ).rowCount === 1,
      'the resync audited',
    );

    // Problems: the dead letter, replayed through the bulk action and its confirmation.
    await page.click('nav >> text=Problems');
    await page.selectOption('#kind', 'dead_letter');
    await page.click('button:has-text("Filter")');
    await page.waitForSelector('table >> text=CUSTOMPMS_UNAVAILABLE');
    await checkPage(page, '05-problems');
    const problemId = Number(
      (
        await world.db.pool.query<{ id: string }>(
          "SELECT id FROM sync_problems WHERE code = 'CUSTOMPMS_UNAVAILABLE'",
        )
      ).rows[0]!.id,
    );
    await page.check(`#select-${problemId}`);
    await page.click('button[value="replay"]');
    await page.waitForSelector('#confirm');
    await checkPage(page, '06-confirm-replay');
    await page.click('#confirm');
    await page.waitForSelector('.flash >> text=Replayed 1 of 1 problem');
    await page.goto(`${world.proxyUrl}/console/problems/${problemId}`);
    await page.waitForSelector('#status');
    expect(await page.textContent('#status')).toMatch(/^resolved/);
    await checkPage(page, '07-problem');

    // Conflicts: apply the other value (Custompms's "Order fuel (LOX)"), which then wins on both sides.
    await page.click('nav >> text=Conflicts');
    await page.waitForSelector('table >> text=tasks.title');
    await checkPage(page, '08-conflicts');
    await page.click('button:has-text("Apply the Custompms value")');
    await page.waitForSelector('.flash >> text=the other value is written');
    await eventually(
      async () =>
        controls.record('tasks', task.id)?.title === 'Order fuel (LOX)' &&
        (await conn.sobject('Task').retrieve(taskId)).Subject === 'Order fuel (LOX)',
      { what: 'the other value on both sides', timeoutMs: 60_000 },
    );
    expect(await page.textContent('main')).toContain(
      'other value applied by console:admin@custompms.example',
    );

    // Settings.
    await page.click('nav >> text=Settings');
    await page.waitForSelector('text=Mapping of tasks');
    await checkPage(page, '09-settings');

    // Every action is in the audit log, and the admin API sees the same.
    const audit = await world.db.pool.query<{ action: string }>('SELECT action FROM admin_audit ORDER BY id');
    expect(audit.rows.map((row) => row.action)).toEqual([
      'link.resync',
      'problem.replay',
      'conflict.apply_other',
    ]);

    // A POST without the CSRF token is refused.
    const forged = await page.evaluate<number>(
      "fetch('/console/links/1/resync', { method: 'POST', body: new URLSearchParams() }).then((r) => r.status)",
    );
    expect(forged).toBe(403);

    // Sign out: the session is gone.
    await page.click('button:has-text("Sign out")');
    await page.waitForSelector('text=You are signed out.');
    await page.goto(`${world.proxyUrl}/console/settings`);
    await page.waitForSelector('#sign-in');
    await shoot(page, '10-signed-out');
    await context.close();
  });
});
