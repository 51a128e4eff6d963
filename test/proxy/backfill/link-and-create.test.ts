/**
 * Backfill through sObject Collections against both emulators: existing records are paired (Tasks
 * by Custompms_Id__c, Divisions by name) instead of duplicated, the rest is created, failures are
 * listed with reasons, a dry run writes nothing, a second run writes nothing.
 */
import { BackfillLockedError, runBackfill, type BackfillReport } from '../../../proxy/src/jobs/backfill';
import { withBackfillLock } from '../../../proxy/src/store/backfill';
import { startWorld, type World } from '../../support/e2e';
import {
  adminConnection,
  insertRecords,
  linkCount,
  salesforceWrites,
  tableCount,
  tasksByCustompmsId,
} from './support';

jest.setTimeout(120_000);

const ALL = ['customers', 'projects', 'tasks'] as const;

function flow(report: BackfillReport, name: string) {
  return report.flows.find((entry) => entry.flow === name)!;
}

describe('backfill (sObject Collections)', () => {
  let world: World;
  const ids: Record<string, string> = {};
  let acmeDivision = '';
  let projectTask = '';
  let taskTask = '';
  let dryRun: BackfillReport | undefined;

  beforeAll(async () => {
    world = await startWorld({ writePath: 'api' });
    const { controls } = world.cpms;
    // The org already holds: a Division named like one customer (other case, trailing space), two
    // Divisions sharing another customer's name, and Tasks carrying two Custompms ids.
    acmeDivision = (await insertRecords(world, 'Division', [{ Name: 'ACME ', IsActive: true }]))[0]!;
    await insertRecords(world, 'Division', [
      { Name: 'Twin', IsActive: true },
      { Name: 'Twin', IsActive: true },
    ]);
    // Two active users share an email: an owner the mapper must refuse to guess.
    world.sf.org.users.create({ username: 'a@shared.test', email: 'shared@example.com', lastName: 'A' });
    world.sf.org.users.create({ username: 'b@shared.test', email: 'shared@example.com', lastName: 'B' });

    const [acme, globex, twin] = controls.seed('customers', [
      { name: 'Acme', is_active: true },
      { name: 'Globex', is_active: true },
      { name: 'Twin', is_active: true },
    ]);
    const [p1, p2, p3] = controls.seed('projects', [
      { customer_id: acme!.id, name: 'Launch', status: 'active', priority: 'high' },
      { customer_id: globex!.id, name: 'Expansion', status: 'planned', priority: 'normal' },
      { customer_id: twin!.id, name: 'Orphan', status: 'planned', priority: 'low' },
    ]);
    Object.assign(ids, {
      acme: acme!.id,
      globex: globex!.id,
      twin: twin!.id,
      p1: p1!.id,
      p2: p2!.id,
      p3: p3!.id,
    });
    const inserted = await insertRecords(world, 'Task', [
      {
        Subject: 'Launch',
        Status: 'In Progress',
        Priority: 'High',
        Custompms_Id__c: p1!.id,
        Custompms_Type__c: 'Project',
        Division: acmeDivision,
      },
      {
        Subject: 'Old title',
        Status: 'Not Started',
        Priority: 'Normal',
        Custompms_Id__c: 'tsk_existing',
        Custompms_Type__c: 'Task',
      },
    ]);
    projectTask = inserted[0]!;
    taskTask = inserted[1]!;
    // Seeded a second after the Salesforce rows (on both emulators' clock; Salesforce stamps to the
    // second): the Custompms values are the latest, so they win.
    world.clock.advance(1_000);
    const [t1, t2, t3, t4] = controls.seed('tasks', [
      { id: 'tsk_existing', project_id: p1!.id, title: 'Write spec', status: 'todo', priority: 'normal' },
      { project_id: p2!.id, title: 'Hire', status: 'in_progress', priority: 'high' },
      {
        project_id: p1!.id,
        title: 'Shared owner',
        status: 'todo',
        priority: 'low',
        assignee_email: 'shared@example.com',
      },
      { project_id: p3!.id, title: 'Blocked by its project', status: 'todo', priority: 'low' },
    ]);
    Object.assign(ids, { t1: t1!.id, t2: t2!.id, t3: t3!.id, t4: t4!.id });
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('a dry run reports what it would do and writes nothing', async () => {
    const writesBefore = salesforceWrites(world);
    const report = await runBackfill(world.deps, { flows: ALL, dryRun: true, examples: 10 });
    expect(flow(report, 'customers').counters).toMatchObject({ linked: 1, created: 1, failed: 1 });
    expect(flow(report, 'customers').reasons[0]).toMatchObject({ code: 'ambiguous_division_name', count: 1 });
    // Nothing is linked for real, yet projects and tasks plan against what the earlier flows
    // would link: the same outcome as the real run below.
    dryRun = report;
    expect(flow(report, 'projects').counters).toMatchObject({ linked: 1, created: 1, failed: 1 });
    expect(flow(report, 'tasks').counters).toMatchObject({ linked: 1, created: 1, failed: 2 });
    expect(
      flow(report, 'customers')
        .examples.map((entry) => entry.outcome)
        .sort(),
    ).toEqual(['create', 'fail', 'link']);
    expect(salesforceWrites(world)).toBe(writesBefore);
    expect(await tableCount(world, 'links')).toBe(0);
    expect(await tableCount(world, 'backfill_runs')).toBe(0);
    expect(await tableCount(world, 'sync_problems')).toBe(0);
    expect(report.dryRun).toBe(true);
  });

  it('pairs existing records, creates the rest, and lists failures with reasons', async () => {
    const report = await runBackfill(world.deps, { flows: ALL });
    const customers = flow(report, 'customers');
    // Acme is paired with "ACME " and, its Custompms name being the latest, renamed.
    expect(customers.counters).toMatchObject({ linked: 1, created: 1, failed: 1, updated: 1 });
    expect(customers.reasons).toEqual([
      expect.objectContaining({ code: 'ambiguous_division_name', count: 1 }),
    ]);
    const projects = flow(report, 'projects');
    expect(projects.counters).toMatchObject({ linked: 1, created: 1, failed: 1 });
    expect(projects.reasons[0]).toMatchObject({ code: 'dependency_not_linked' });
    const tasks = flow(report, 'tasks');
    expect(tasks.counters).toMatchObject({ linked: 1, created: 1, updated: 1, failed: 2 });
    expect(tasks.reasons.map((reason) => reason.code).sort()).toEqual(
      ['dependency_not_linked', 'owner_ambiguous'].sort(),
    );
    expect(report.failed).toBe(4);
    // The dry run foresaw the same creations, pairings and failures (whether a pairing also
    // updates can differ: before customers are linked it cannot compare Divisions).
    for (const name of ['projects', 'tasks']) {
      const { created, linked, failed } = flow(report, name).counters;
      expect(flow(dryRun!, name).counters).toMatchObject({ created, linked, failed });
    }

    const conn = adminConnection(world);
    // Divisions: Acme paired with the existing one (no second "Acme"), Globex created once.
    const divisions = await conn.query<{ Id: string; Name: string }>('SELECT Id, Name FROM Division');
    expect(divisions.records.filter((division) => /acme/i.test(division.Name))).toHaveLength(1);
    expect(divisions.records.filter((division) => division.Name === 'Globex')).toHaveLength(1);
    const acmeLink = await world.db.pool.query<{ salesforce_id: string }>(
      `SELECT salesforce_id FROM links WHERE flow = 'customers' AND custompms_id = $1`,
      [ids.acme],
    );
    expect(acmeLink.rows[0]?.salesforce_id).toBe(acmeDivision);
    expect(await conn.sobject('Division').retrieve(acmeDivision)).toMatchObject({ Name: 'Acme' });

    // Tasks: one per Custompms id, the existing ones reused, the stale title updated.
    const tasksById = await tasksByCustompmsId(world);
    for (const id of [ids.p1!, ids.p2!, ids.t1!, ids.t2!]) expect(tasksById.get(id)).toHaveLength(1);
    expect(tasksById.get(ids.p1!)).toEqual([projectTask]);
    expect(tasksById.get(ids.t1!)).toEqual([taskTask]);
    expect(tasksById.has(ids.t3!)).toBe(false);
    expect(tasksById.has(ids.t4!)).toBe(false);
    const t1 = await conn.sobject('Task').retrieve(taskTask);
    expect(t1).toMatchObject({
      Subject: 'Write spec',
      Custompms_Project_Id__c: ids.p1,
      Division: acmeDivision,
    });

    expect(await linkCount(world, 'customers')).toBe(2);
    expect(await linkCount(world, 'projects')).toBe(2);
    expect(await linkCount(world, 'tasks')).toBe(2);
    const problems = await world.db.pool.query<{ custompms_id: string; code: string }>(
      `SELECT custompms_id, code FROM sync_problems WHERE task = 'backfill' ORDER BY code`,
    );
    expect(problems.rows.map((row) => row.custompms_id).sort()).toEqual(
      [ids.twin, ids.p3, ids.t3, ids.t4].sort(),
    );
    expect(await tableCount(world, 'backfill_runs', `status = 'completed'`)).toBe(3);
    expect(await tableCount(world, 'backfill_items')).toBe(0);
  });

  it('a second run writes nothing and finds everything linked', async () => {
    const writesBefore = salesforceWrites(world);
    const report = await runBackfill(world.deps, { flows: ALL });
    for (const entry of report.flows) {
      expect(entry.counters).toMatchObject({ created: 0, updated: 0, linked: 0 });
      expect(entry.counters.unchanged).toBe(2);
    }
    expect(salesforceWrites(world)).toBe(writesBefore);
  });

  it('refuses to run beside another backfill', async () => {
    const outcome = await withBackfillLock(world.db.pool, () =>
      runBackfill(world.deps, { flows: ['tasks'] }).then(
        () => 'ran',
        (error: unknown) => error,
      ),
    );
    expect(outcome?.result).toBeInstanceOf(BackfillLockedError);
  });
});
