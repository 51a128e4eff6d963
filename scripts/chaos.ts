/**
 * Chaos harness (#14, STYLE.md "Chaos and convergence — Jepsen's discipline"): a seeded run of
 * changes on both sides (creates, edits, deletes over customers, projects and tasks) while the
 * proxy's processes are SIGKILLed and restarted, Salesforce answers 503 / UNABLE_TO_LOCK_ROW /
 * expired sessions, and Custompms is down for a stretch; then both systems are compared record by
 * record against the expected state.
 *
 *   npm run chaos -- [--changes 10000] [--kills 10] [--fault-rate 0.2] [--outage-seconds 60]
 *                    [--processes 2|3] [--seed N] [--rate 50] [--write-path api|apex]
 *                    [--converge-timeout-seconds 600] [--database-url URL] [--json]
 *
 * The proxy runs as separate OS processes from the sources (web + worker; `--processes 3`: a web
 * process with its worker and two worker processes), all on one PostgreSQL (embedded, or
 * `--database-url`). The two emulators run inside this process, so the harness can inject their
 * faults and read their state directly (their HTTP faces are what the proxy talks to). A failing
 * run is replayed with its `--seed`. `--json` ends with one `CHAOS_RESULT {...}` line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPool } from '../proxy/src/store/database';
import { freePort, startEmbeddedPostgres } from '../proxy/src/store/embedded-postgres';
import { migrate } from '../proxy/src/store/migrate';
import { startSalesforceEmulator } from '../test/emulators/salesforce';
import { DEFAULT_OUTBOUND } from '../test/emulators/salesforce/automation/outbound';
import { parseJsonRecord } from '../test/emulators/salesforce/data/values';
import { startCustompmsEmulator } from '../test/emulators/custompms/server';
import { exitWithUsageError, nonNegative, parseCommandLine, positiveInteger } from './lib/cli';

const root = path.resolve(__dirname, '..');

interface Options {
  changes: number;
  kills: number;
  faultRate: number;
  outageSeconds: number;
  processes: 2 | 3;
  seed: number;
  rate: number;
  writePath: 'api' | 'apex';
  convergeTimeoutMs: number;
  databaseUrl: string | undefined;
  json: boolean;
}

const USAGE = `usage: npm run chaos -- [options]
  --changes N                   changes on both sides (default 10000)
  --kills N                     SIGKILLs of a random proxy process (default 10)
  --fault-rate R                Salesforce faults per request, 0-1 (default 0.2)
  --outage-seconds N            Custompms down for this long (default 60)
  --processes 2|3               web + worker, or web with worker + two workers (default 2)
  --seed N                      replays a run (default: from the clock, printed)
  --rate N                      changes per second (default 50)
  --write-path api|apex         the proxy's Salesforce write path (default api)
  --converge-timeout-seconds N  how long to wait for convergence (default 600)
  --database-url URL            PostgreSQL to use (default: an embedded one)
  --json                        end with one CHAOS_RESULT {...} line
  -h, --help                    this text`;

function options(): Options {
  const { values } = parseCommandLine(USAGE, {
    options: {
      help: { type: 'boolean', short: 'h' },
      changes: { type: 'string' },
      kills: { type: 'string' },
      'fault-rate': { type: 'string' },
      'outage-seconds': { type: 'string' },
      processes: { type: 'string' },
      seed: { type: 'string' },
      rate: { type: 'string' },
      'write-path': { type: 'string' },
      'converge-timeout-seconds': { type: 'string' },
      'database-url': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const processes = Number(values.processes ?? 2);
  if (processes !== 2 && processes !== 3) exitWithUsageError(USAGE, '--processes must be 2 or 3');
  const writePath = values['write-path'] ?? 'api';
  if (writePath !== 'api' && writePath !== 'apex')
    exitWithUsageError(USAGE, '--write-path must be api or apex');
  const faultRate = Number(values['fault-rate'] ?? 0.2);
  if (!(faultRate >= 0 && faultRate <= 1)) exitWithUsageError(USAGE, '--fault-rate must be between 0 and 1');
  return {
    changes: positiveInteger(USAGE, '--changes', values.changes, 10_000),
    kills: nonNegative(USAGE, '--kills', values.kills, 10),
    faultRate,
    outageSeconds: nonNegative(USAGE, '--outage-seconds', values['outage-seconds'], 60),
    processes,
    seed: nonNegative(USAGE, '--seed', values.seed, Date.now() % 1_000_000),
    rate: positiveInteger(USAGE, '--rate', values.rate, 50),
    writePath,
    convergeTimeoutMs:
      positiveInteger(USAGE, '--converge-timeout-seconds', values['converge-timeout-seconds'], 600) * 1000,
    databaseUrl: values['database-url'],
    json: values.json === true,
  };
}

/** mulberry32: the whole run (workload, kill times, choices) follows from the seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface ProxyProcess {
  name: string;
  args: string[];
  env: Record<string, string>;
  child?: ChildProcess;
  restarts: number;
}

async function main(): Promise<void> {
  const opts = options();
  const random = seeded(opts.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const log = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
  const work = mkdtempSync(path.join(tmpdir(), 'chaos-'));
  mkdirSync(path.join(work, 'logs'));
  log(`seed ${opts.seed}; logs in ${work}/logs`);

  const postgres = opts.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: path.join(work, 'db'), port: 0 });
  const databaseUrl = opts.databaseUrl ?? postgres!.connectionString;
  const pool = createPool(databaseUrl, { max: 4 });
  await migrate(pool);

  const secret = () => randomBytes(24).toString('hex');
  const outboundToken = secret();
  const apiKey = secret() + secret();
  const webhookSecret = `whsec_${secret()}`;
  const cpmsToken = `cpms_${secret()}`;
  const sf = await startSalesforceEmulator({
    deployForceApp: true,
    integrationUserSystemPermissions: ['ViewAllData', 'ModifyAllData'],
    // Salesforce's outbound retry intervals (30 s doubling up to 2 h) at 1/100: the proxy's
    // Task poller, not a patient org, is what a long outage relies on.
    outbound: { ...DEFAULT_OUTBOUND, timeScale: 0.01, dispatchIntervalMs: 50 },
  });
  const cpms = await startCustompmsEmulator({ token: cpmsToken });
  const port = await freePort();
  const proxyUrl = `http://127.0.0.1:${port}`;
  cpms.controls.setWebhook({
    url: `${proxyUrl}/custompms/v1/webhooks`,
    secret: webhookSecret,
    baseDelayMs: 200,
  });
  sf.org.setOutboundEndpoint(`${proxyUrl}/salesforce/v1/outbound-messages/${outboundToken}`);
  sf.org.setProxy({ url: proxyUrl, apiKey });

  const baseEnv: Record<string, string> = {
    ...sf.proxyEnv(),
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    DATABASE_SSL: 'off',
    SALESFORCE_WRITE_PATH: opts.writePath,
    OUTBOUND_MESSAGE_TOKEN: outboundToken,
    PROXY_API_KEY: apiKey,
    CUSTOMPMS_BASE_URL: cpms.url,
    CUSTOMPMS_API_TOKEN: cpmsToken,
    CUSTOMPMS_WEBHOOK_SECRETS: webhookSecret,
    CUSTOMPMS_TIMEOUT_MS: '5000',
    POLL_INTERVAL_SECONDS: '60',
    WORKER_CONCURRENCY: '4',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // The run deletes far more than a real org would in ten minutes: the brake is tested on its own.
    MASS_DELETE_LIMIT: '1000000000',
  };
  const entry = (file: string) => ['--import', 'tsx', path.join(root, 'proxy/src', file)];
  const processes: ProxyProcess[] =
    opts.processes === 2
      ? [
          {
            name: 'web',
            args: entry('server.ts'),
            env: { PORT: String(port), RUN_WORKER: 'false' },
            restarts: 0,
          },
          { name: 'worker', args: entry('worker.ts'), env: {}, restarts: 0 },
        ]
      : [
          {
            name: 'web',
            args: entry('server.ts'),
            env: { PORT: String(port), RUN_WORKER: 'true' },
            restarts: 0,
          },
          { name: 'worker-1', args: entry('worker.ts'), env: {}, restarts: 0 },
          { name: 'worker-2', args: entry('worker.ts'), env: {}, restarts: 0 },
        ];
  const start = (proc: ProxyProcess) => {
    const out = createWriteStream(path.join(work, 'logs', `${proc.name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, proc.args, {
      cwd: root,
      env: { ...process.env, ...baseEnv, ...proc.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    proc.child = child;
  };
  for (const proc of processes) start(proc);
  for (const proc of processes) {
    proc.child!.once('exit', (code) => {
      if (code !== null && code !== 0) log(`${proc.name} exited with ${code} (see its log)`);
    });
  }
  await waitFor(
    async () => (await fetch(`${proxyUrl}/healthz`).catch(() => undefined))?.ok === true,
    120_000,
  );
  log(`proxy up (${processes.map((p) => p.name).join(' + ')}), write path ${opts.writePath}`);

  // --- the workload -------------------------------------------------------------------------
  type Side = 'custompms' | 'salesforce';
  interface TaskState {
    id: string;
    title: string;
    editedOn: Side;
    deleted: boolean;
  }
  const customers: { id: string; name: string }[] = [];
  const projects: { id: string; name: string }[] = [];
  const tasks: TaskState[] = [];
  const counts = { creates: 0, edits: 0, deletes: 0, salesforceEdits: 0, salesforceDeletes: 0 };
  const taskObject = sf.org.schema.object('Task')!;
  const externalId = taskObject.fields.find((field) => field.name === 'Custompms_Id__c')!;
  const salesforceTaskId = (custompmsId: string): string | undefined => {
    const table = sf.org.db.table('Task');
    return table.lookup(externalId, custompmsId).find((id) => table.get(id)?.IsDeleted !== true);
  };

  let version = 0;
  const change = (): void => {
    version++;
    const roll = random();
    const liveTasks = () => tasks.filter((task) => !task.deleted);
    if (
      customers.length < Math.max(2, Math.ceil(opts.changes / 500)) ||
      (roll < 0.02 && customers.length < 50)
    ) {
      const name = `Chaos customer ${customers.length} v${version}`;
      customers.push({ id: cpms.controls.create('customers', { name, is_active: true }).id, name });
      counts.creates++;
      return;
    }
    if (
      projects.length < Math.max(3, Math.ceil(opts.changes / 100)) ||
      (roll < 0.04 && projects.length < 200)
    ) {
      const name = `Chaos project ${projects.length} v${version}`;
      const customer = pick(customers);
      const created = cpms.controls.create('projects', { customer_id: customer.id, name, status: 'active' });
      projects.push({ id: created.id, name });
      counts.creates++;
      return;
    }
    if (roll < 0.07) {
      const customer = pick(customers);
      customer.name = `Chaos customer renamed v${version}`;
      cpms.controls.edit('customers', customer.id, { name: customer.name });
      counts.edits++;
      return;
    }
    if (roll < 0.12) {
      const project = pick(projects);
      project.name = `Chaos project renamed v${version}`;
      cpms.controls.edit('projects', project.id, { name: project.name });
      counts.edits++;
      return;
    }
    const live = liveTasks();
    if (roll < 0.42 || live.length < 5) {
      const title = `Chaos task ${tasks.length} v${version}`;
      const created = cpms.controls.create('tasks', { project_id: pick(projects).id, title, status: 'todo' });
      tasks.push({
        id: created.id,
        title,
        editedOn: random() < 0.5 ? 'custompms' : 'salesforce',
        deleted: false,
      });
      counts.creates++;
      return;
    }
    // Half the edits and deletes are made in Salesforce, on a Task already there.
    let task = pick(live);
    let sfId: string | undefined;
    if (random() < 0.5) {
      for (let tries = 0; tries < 20 && !sfId; tries++) {
        const candidate = pick(live);
        if (candidate.editedOn !== 'salesforce') continue;
        sfId = salesforceTaskId(candidate.id);
        if (sfId) task = candidate;
      }
    } else if (task.editedOn === 'salesforce') task = live.find((t) => t.editedOn === 'custompms') ?? task;
    if (roll < 0.9) {
      task.title = `Chaos task edited v${version}`;
      if (sfId) {
        // A person editing the Task in the org: triggers, flows and the outbound message fire.
        sf.org.transaction(sf.org.adminUserId, (tx) =>
          tx.update('Task', [{ id: sfId, input: parseJsonRecord(taskObject, { Subject: task.title }) }]),
        );
        counts.salesforceEdits++;
      } else {
        // A Custompms-side task (or none in Salesforce yet): the edit is made in Custompms, and the
        // task stays a Custompms-side one (one side edits a task, so the expected state is known).
        task.editedOn = 'custompms';
        cpms.controls.edit('tasks', task.id, { title: task.title });
      }
      counts.edits++;
      return;
    }
    task.deleted = true;
    if (sfId) {
      sf.org.transaction(sf.org.adminUserId, (tx) => tx.delete([sfId]));
      counts.salesforceDeletes++;
    } else cpms.controls.remove('tasks', task.id);
    counts.deletes++;
  };

  // --- the chaos schedule ---------------------------------------------------------------------
  const runMs = (opts.changes / opts.rate) * 1000;
  const killAt = Array.from({ length: opts.kills }, () => random() * runMs).sort((a, b) => a - b);
  const outageFrom = opts.outageSeconds > 0 ? runMs * (0.2 + random() * 0.4) : Infinity;
  const outageUntil = outageFrom + opts.outageSeconds * 1000;
  const third = opts.faultRate / 3;
  let kills = 0;
  let lastFaultAt = Date.now();
  let outage: 'before' | 'on' | 'after' = 'before';
  const restarts: Promise<void>[] = [];
  const started = Date.now();
  // Counts what the emulated org injects (503s and expired sessions per request, locks per record).
  let faultsInjected = 0;
  const faults = sf.org.faults;
  const forRequest = faults.forRequest.bind(faults);
  faults.forRequest = (category, method, requestPath) => {
    const decided = forRequest(category, method, requestPath);
    if (decided.failure) faultsInjected++;
    const lockRow = decided.lockRow;
    return {
      ...decided,
      lockRow: () => {
        const locked = lockRow();
        if (locked) faultsInjected++;
        return locked;
      },
    };
  };
  faults.reseed(opts.seed);
  if (opts.faultRate > 0) {
    sf.org.faults.set([{ route: '*', unavailableRate: third, lockRowRate: third, sessionExpiryRate: third }]);
  }
  log(
    `${opts.changes} changes over ~${Math.round(runMs / 1000)} s, ${opts.kills} kills, ${opts.faultRate * 100} % faults, ${opts.outageSeconds} s outage`,
  );
  for (let index = 0; index < opts.changes || outage === 'on' || Date.now() - started < outageUntil;) {
    const elapsed = Date.now() - started;
    while (killAt.length > 0 && killAt[0]! <= elapsed) {
      killAt.shift();
      const victim = pick(processes);
      victim.child?.kill('SIGKILL');
      kills++;
      const delay = 500 + random() * 2_500;
      log(`SIGKILL ${victim.name} at ${Math.round(elapsed / 1000)} s; restart in ${Math.round(delay)} ms`);
      restarts.push(
        sleep(delay).then(() => {
          victim.restarts++;
          start(victim);
          lastFaultAt = Date.now();
        }),
      );
    }
    if (outage === 'before' && elapsed >= outageFrom) {
      cpms.controls.setFaults({ rules: [{ route: '*', status: 503 }] });
      outage = 'on';
      log(`Custompms down at ${Math.round(elapsed / 1000)} s`);
    } else if (outage === 'on' && elapsed >= outageUntil) {
      cpms.controls.clearFaults();
      outage = 'after';
      lastFaultAt = Date.now();
      log(`Custompms up again at ${Math.round(elapsed / 1000)} s`);
    }
    if (index < opts.changes && elapsed >= (index / opts.rate) * 1000) {
      change();
      index++;
    } else await sleep(5);
  }
  await Promise.all(restarts);
  sf.org.faults.set([]);
  lastFaultAt = Math.max(lastFaultAt, Date.now());
  log(`changes done; ${kills} kills; faults off; waiting for convergence`);

  // --- convergence and the verdict ------------------------------------------------------------
  const compare = async () => {
    const taskTable = sf.org.db.table('Task');
    const liveByCpmsId = new Map<string, Readonly<Record<string, unknown>>[]>();
    for (const row of taskTable.rows.values()) {
      if (row.IsDeleted === true || typeof row.Custompms_Id__c !== 'string') continue;
      const list = liveByCpmsId.get(row.Custompms_Id__c) ?? [];
      list.push(row);
      liveByCpmsId.set(row.Custompms_Id__c, list);
    }
    const divisionsByName = new Map<string, number>();
    for (const row of sf.org.db.table('Division').rows.values()) {
      if (row.IsDeleted === true) continue;
      divisionsByName.set(String(row.Name), (divisionsByName.get(String(row.Name)) ?? 0) + 1);
    }
    let lost = 0;
    let duplicated = 0;
    const examples: string[] = [];
    const miss = (what: string) => {
      lost++;
      if (examples.length < 10) examples.push(what);
    };
    for (const task of tasks) {
      const inSf = liveByCpmsId.get(task.id) ?? [];
      const inCpms = cpms.controls.record('tasks', task.id);
      if (inSf.length > 1) duplicated += inSf.length - 1;
      if (task.deleted) {
        if (inSf.length > 0 || inCpms)
          miss(`task ${task.id} deleted but still in ${inCpms ? 'Custompms' : 'Salesforce'}`);
        continue;
      }
      if (!inCpms || inCpms.title !== task.title)
        miss(`task ${task.id}: Custompms has ${String(inCpms?.title)}, expected ${task.title}`);
      else if (inSf.length === 0 || inSf[0]!.Subject !== task.title)
        miss(`task ${task.id}: Salesforce has ${String(inSf[0]?.Subject)}, expected ${task.title}`);
    }
    for (const project of projects) {
      const inSf = liveByCpmsId.get(project.id) ?? [];
      if (inSf.length > 1) duplicated += inSf.length - 1;
      if (inSf.length === 0 || inSf[0]!.Subject !== project.name)
        miss(`project ${project.id}: Salesforce has ${String(inSf[0]?.Subject)}, expected ${project.name}`);
    }
    for (const customer of customers) {
      const count = divisionsByName.get(customer.name) ?? 0;
      if (count > 1) duplicated += count - 1;
      if (count === 0) miss(`customer ${customer.id}: no Division named ${customer.name}`);
    }
    const stuck = (
      await pool.query<{ n: number; what: string }>(
        `SELECT 'open or published batches' AS what, count(*)::int AS n FROM change_batches WHERE status IN ('open', 'published')
         UNION ALL SELECT 'locked jobs (over 2 min)', count(*)::int FROM graphile_worker.jobs WHERE locked_at < now() - interval '2 minutes'
         UNION ALL SELECT 'jobs with attempts spent', count(*)::int FROM graphile_worker.jobs WHERE attempts >= max_attempts AND locked_at IS NULL
         UNION ALL SELECT 'waiting changes', count(*)::int FROM waiting_changes
         UNION ALL SELECT 'outbox rows', count(*)::int FROM outbox
         UNION ALL SELECT 'unprocessed inbox', count(*)::int FROM inbox_messages WHERE processed_at IS NULL`,
      )
    ).rows;
    return { lost, duplicated, stuck, examples };
  };
  let verdict = await compare();
  let convergedAt: number | undefined;
  let rounds = 0;
  const deadline = Date.now() + opts.convergeTimeoutMs;
  while (Date.now() < deadline) {
    verdict = await compare();
    if (verdict.lost === 0 && verdict.stuck.every((row) => row.n === 0)) {
      convergedAt = Date.now();
      break;
    }
    if (++rounds % 10 === 0) {
      const stuck = verdict.stuck.filter((row) => row.n > 0).map((row) => `${row.n} ${row.what}`);
      log(
        `not yet: ${verdict.lost} lost, ${stuck.join(', ') || 'nothing stuck'}; e.g. ${verdict.examples[0] ?? '-'}`,
      );
    }
    await sleep(2_000);
  }
  const deadLetters = (
    await pool.query<{ code: string; n: number }>(
      "SELECT code, count(*)::int AS n FROM sync_problems WHERE kind = 'dead_letter' GROUP BY code",
    )
  ).rows;
  const divisionsTotal = [...sf.org.db.table('Division').rows.values()].filter(
    (row) => row.IsDeleted !== true,
  ).length;
  const result = {
    seed: opts.seed,
    processes: opts.processes,
    writePath: opts.writePath,
    changes: opts.changes,
    ...counts,
    kills,
    faultsInjected,
    outageSeconds: opts.outageSeconds,
    lost: verdict.lost,
    duplicated: verdict.duplicated,
    stuck: verdict.stuck.reduce((sum, row) => sum + row.n, 0),
    stuckDetail: Object.fromEntries(verdict.stuck.map((row) => [row.what, row.n])),
    divisions: divisionsTotal,
    customers: customers.length,
    deadLetters: Object.fromEntries(deadLetters.map((row) => [row.code, row.n])),
    convergedSeconds: convergedAt === undefined ? null : Math.round((convergedAt - lastFaultAt) / 100) / 10,
    runSeconds: Math.round((Date.now() - started) / 1000),
    examples: verdict.examples,
  };
  const table = [
    [
      'changes',
      `${result.changes} (${counts.creates} creates, ${counts.edits} edits, ${counts.deletes} deletes; ${counts.salesforceEdits} edits and ${counts.salesforceDeletes} deletes in Salesforce)`,
    ],
    ['processes', `${opts.processes} (${opts.writePath} write path)`],
    ['kills (SIGKILL)', String(kills)],
    ['Salesforce faults injected', `${faultsInjected} (rate ${opts.faultRate})`],
    ['Custompms outage', `${opts.outageSeconds} s`],
    ['lost', String(result.lost)],
    ['duplicated (incl. Divisions)', String(result.duplicated)],
    ['stuck', `${result.stuck} ${JSON.stringify(result.stuckDetail)}`],
    ['dead letters', JSON.stringify(result.deadLetters)],
    [
      'time to converge after the last fault',
      result.convergedSeconds === null ? 'did not converge' : `${result.convergedSeconds} s`,
    ],
    ['seed', String(opts.seed)],
  ];
  const width = Math.max(...table.map(([name]) => name!.length));
  process.stdout.write(`\n${table.map(([name, value]) => `${name!.padEnd(width)}  ${value}`).join('\n')}\n`);
  if (verdict.examples.length > 0) process.stdout.write(`\nexamples:\n  ${verdict.examples.join('\n  ')}\n`);
  if (opts.json) process.stdout.write(`CHAOS_RESULT ${JSON.stringify(result)}\n`);

  for (const proc of processes) proc.child?.kill('SIGTERM');
  await Promise.all(
    processes.map((proc) =>
      proc.child && proc.child.exitCode === null
        ? Promise.race([new Promise((resolve) => proc.child!.once('exit', resolve)), sleep(10_000)])
        : Promise.resolve(),
    ),
  );
  for (const proc of processes) if (proc.child?.exitCode === null) proc.child.kill('SIGKILL');
  await pool.end();
  await cpms.stop();
  await sf.close();
  await postgres?.stop();
  process.exitCode = result.lost === 0 && result.duplicated === 0 && result.stuck === 0 ? 0 : 1;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the proxy');
    await sleep(250);
  }
}

main().then(
  // Exits even if an emulator left a timer or a keep-alive socket behind (the run is over).
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
