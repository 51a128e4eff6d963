/**
 * `npm run demo`: the sandbox (emulated org with force-app deployed by the real sf CLI, the
 * Custompms reference server, the proxy on embedded PostgreSQL), then a narrated tour: records
 * created and edited on each side, a delete on each side, a concurrent edit that conflicts, and a
 * table of both sides at the end. Every step waits for the sync to show its effect, so a step
 * that does not happen fails the demo (exit 1) instead of printing something untrue.
 *
 * Options: `--fast` deploys force-app in-process instead of through the CLI (seconds faster);
 * `--keep` leaves the stack running afterwards (Ctrl-C stops it).
 */
import jsforce from 'jsforce';
import { parseCommandLine } from './lib/cli';
import { startSandbox, type Sandbox } from './sandbox';

type Row = Record<string, unknown>;

const USAGE = `Usage: npm run demo -- [--fast] [--keep]

Starts the sandbox and narrates a tour of the sync; exits 1 if a step is not observed.
  --fast   deploy force-app in-process instead of through the sf CLI
  --keep   leave the stack running afterwards (Ctrl-C stops it)`;

const { values: args } = parseCommandLine(USAGE, {
  options: {
    fast: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
const out = (line = '') => process.stdout.write(`${line}\n`);
let stepNumber = 0;
const step = (title: string) => out(`\n${++stepNumber}. ${title}`);
const say = (line: string) => out(`   ${line}`);

/** Polls until `check` returns something truthy, or fails with `what` after `timeoutMs`. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) {
      say(`✓ ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return value;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function table(rows: Row[], columns: string[]): void {
  const text = (value: unknown): string =>
    value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  const widths = columns.map((column) =>
    Math.min(40, Math.max(column.length, ...rows.map((row) => text(row[column]).length))),
  );
  const line = (values: string[]) =>
    '   ' + values.map((value, index) => value.slice(0, widths[index]).padEnd(widths[index]!)).join('  ');
  out(line(columns));
  out(line(widths.map((width) => '─'.repeat(width))));
  for (const row of rows) out(line(columns.map((column) => text(row[column]))));
}

async function tour(sandbox: Sandbox): Promise<void> {
  const { controls } = sandbox.custompms;
  const { info } = sandbox;
  const conn = new jsforce.Connection({
    instanceUrl: info.salesforceUrl,
    accessToken: info.salesforceAccessToken,
    version: '65.0',
  });
  const task = (id: string) => conn.sobject('Task').retrieve(id) as Promise<Row>;
  const taskByCustompmsId = async (id: string) =>
    (await conn.query<Row>(`SELECT Id, Subject, Status, Division FROM Task WHERE Custompms_Id__c = '${id}'`))
      .records[0];
  const admin = async (path: string) => {
    const response = await fetch(`${info.proxyUrl}${path}`, {
      headers: { authorization: `Bearer ${info.adminApiKey}` },
    });
    return (await response.json()) as Row;
  };

  step('A customer, a project and two tasks are created in Custompms');
  const customer = controls.create('customers', { name: 'Acme Rockets', is_active: true });
  const project = controls.create('projects', {
    customer_id: customer.id,
    name: 'Launch site',
    status: 'active',
    priority: 'high',
    due_date: '2027-03-31',
  });
  const concrete = controls.create('tasks', {
    project_id: project.id,
    title: 'Pour concrete',
    status: 'todo',
  });
  const fuel = controls.create('tasks', { project_id: project.id, title: 'Order fuel', status: 'todo' });
  say(`Custompms: customer ${customer.id}, project ${project.id}, tasks ${concrete.id} and ${fuel.id}`);
  say('The webhooks reach the proxy; it publishes a Custompms_Change__e, the org’s Apex pulls the batch.');
  const division = await until('a Division "Acme Rockets" exists in Salesforce', async () => {
    const rows = await conn.query<Row>("SELECT Id, Name FROM Division WHERE Name = 'Acme Rockets'");
    return rows.records[0];
  });
  const projectRow = await until(
    'the project is a Task (Custompms_Type__c = Project) in that Division',
    async () => {
      const row = await taskByCustompmsId(project.id);
      return row?.Division === division.Id ? row : undefined;
    },
  );
  const concreteRow = await until('both tasks are Tasks in Salesforce', async () => {
    const [a, b] = [await taskByCustompmsId(concrete.id), await taskByCustompmsId(fuel.id)];
    return a && b ? a : undefined;
  });

  step('A Salesforce user edits the project: status and subject');
  await conn.sobject('Task').update({
    Id: String(projectRow.Id),
    Status: 'Waiting on someone else',
    Subject: 'Launch site (permits)',
  });
  say('The Flow sends an outbound message; the proxy stores it, acks, then writes Custompms.');
  await until('Custompms shows the project on hold, renamed', () => {
    const record = controls.record('projects', project.id);
    return record?.status === 'on_hold' && record.name === 'Launch site (permits)';
  });

  step('A Salesforce user creates a task under the project');
  const created = await conn.sobject('Task').create({
    Subject: 'Book the range safety officer',
    Custompms_Type__c: 'Task',
    Custompms_Project_Id__c: project.id,
    Status: 'Not Started',
  });
  const safety = await until('Custompms has the new task', () =>
    controls.records('tasks').find((record) => record.title === 'Book the range safety officer'),
  );
  await until(
    'its Custompms id is written back on the Salesforce Task',
    async () => (await task(created.id!)).Custompms_Id__c === safety.id,
  );

  step('Someone in Custompms marks "Pour concrete" as in progress');
  controls.edit('tasks', concrete.id, { status: 'in_progress' });
  await until(
    'Salesforce shows it In Progress',
    async () => (await task(String(concreteRow.Id))).Status === 'In Progress',
  );

  step('Both sides rename "Order fuel" at the same moment');
  const fuelRow = (await taskByCustompmsId(fuel.id))!;
  // Hold Custompms's webhook back so the two edits truly cross (the proxy learns of the Custompms
  // edit only when its own write is refused with 409).
  controls.setFaults({ webhooks: { lossRate: 1 } });
  controls.edit('tasks', fuel.id, { title: 'Order fuel (LOX)' });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await conn.sobject('Task').update({ Id: String(fuelRow.Id), Subject: 'Order fuel and oxidiser' });
  say('Custompms says "Order fuel (LOX)"; a second later Salesforce says "Order fuel and oxidiser".');
  await until('both sides agree on the later edit (policy: latest wins)', async () => {
    const record = controls.record('tasks', fuel.id);
    const row = await task(String(fuelRow.Id));
    return record?.title === 'Order fuel and oxidiser' && row.Subject === 'Order fuel and oxidiser';
  });
  controls.clearFaults();
  const { conflicts } = (await admin('/admin/v1/conflicts')) as { conflicts: Row[] };
  say('The conflict, as the admin API lists it (GET /admin/v1/conflicts):');
  table(conflicts, ['flow', 'field', 'custompmsValue', 'salesforceValue', 'winner', 'policy']);

  step('Deletes: one in Custompms, one in Salesforce');
  controls.remove('tasks', concrete.id);
  await until('"Pour concrete" is gone from Salesforce', async () => !(await taskByCustompmsId(concrete.id)));
  await conn.sobject('Task').destroy(String(fuelRow.Id));
  say('The Task trigger publishes Custompms_Task_Deletion__e; its Apex job tells the proxy.');
  await until(
    '"Order fuel and oxidiser" is gone from Custompms',
    () => controls.record('tasks', fuel.id) === undefined,
  );

  step('Both sides now');
  const tasks = (
    await conn.query<Row>(
      'SELECT Id, Custompms_Type__c, Subject, Status, Custompms_Id__c, Custompms_Sync_Status__c FROM Task WHERE Custompms_Type__c != null ORDER BY Custompms_Type__c, Subject',
    )
  ).records;
  const custompms = [
    ...controls
      .records('projects')
      .map((record) => ({ type: 'Project', id: record.id, name: record.name, status: record.status })),
    ...controls
      .records('tasks')
      .map((record) => ({ type: 'Task', id: record.id, name: record.title, status: record.status })),
  ];
  const rows = custompms.map((record) => {
    const match = tasks.find((row) => row.Custompms_Id__c === record.id);
    return {
      'Custompms record': `${record.type} ${record.id}`,
      name: record.name,
      status: record.status,
      'Salesforce Task': match?.Id ?? '—',
      Subject: match?.Subject ?? '—',
      Status: match?.Status ?? '—',
      sync: match?.Custompms_Sync_Status__c ?? '—',
    };
  });
  table(rows, ['Custompms record', 'name', 'status', 'Salesforce Task', 'Subject', 'Status', 'sync']);
  out();
  table(
    controls.records('customers').map((record) => ({
      'Custompms customer': record.id,
      name: record.name,
      'Salesforce Division': division.Id,
      'Division name': division.Name,
    })),
    ['Custompms customer', 'name', 'Salesforce Division', 'Division name'],
  );
  const status = await admin('/admin/v1/status');
  out(`\n   Admin status (GET /admin/v1/status): ${JSON.stringify(status)}`);
  const { problems } = (await admin('/admin/v1/problems')) as { problems: Row[] };
  if (problems.length > 0) {
    say('Open problems (GET /admin/v1/problems):');
    table(problems, ['kind', 'flow', 'custompmsId', 'code', 'message']);
  }
}

async function main(): Promise<void> {
  out('Custompms ⇄ Salesforce sync — demo');
  out('Starting the emulated org, the Custompms reference server and the proxy…');
  const sandbox = await startSandbox({
    dataDir: '.data/demo',
    deploy: args.fast ? 'in-process' : 'cli',
  });
  out(
    `   proxy ${sandbox.info.proxyUrl} · org ${sandbox.info.salesforceUrl} · Custompms ${sandbox.info.custompmsUrl}`,
  );
  let failed = false;
  try {
    await tour(sandbox);
    out('\nDone. Every step above was observed on the other side, not assumed.');
  } catch (error) {
    failed = true;
    process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  const { consoleUrl, consoleUsername, consolePassword } = sandbox.info;
  if (args.keep && !failed) {
    out(`\nStill running (Ctrl-C to stop): ${JSON.stringify(sandbox.info)}`);
    out(`\nOperator console: ${consoleUrl}  (sign in as ${consoleUsername} / ${consolePassword})`);
    process.once('SIGINT', () => void sandbox.stop().then(() => process.exit(0)));
    return;
  }
  if (!failed) {
    out(`\nOperator console: ${consoleUrl}  (stops with the demo; npm run demo -- --keep leaves it up)`);
  }
  await sandbox.stop();
  process.exit(failed ? 1 : 0);
}

void main();
