/**
 * End to end: emulated org + reference Custompms + proxy + PostgreSQL, through the real wire
 * formats (webhooks, platform events and the Apex pull, outbound messages, REST).
 */
import { pollDivisions } from '../../proxy/src/jobs/pollers';
import { listProblems } from '../../proxy/src/store/problems';
import {
  adminConnection,
  countSaves,
  custompmsWrites,
  linkedId,
  quiet,
  startWorld,
  webhookProcessed,
  type World,
} from '../support/e2e';
import { eventually } from '../support/eventually';

jest.setTimeout(180_000);

describe.each(['apex', 'api'] as const)('Custompms ⇄ Salesforce (%s write path)', (writePath) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ writePath, env: { CREATE_CUSTOMERS_FROM_DIVISIONS: 'true' } });
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('creates a customer, a project and a task in Salesforce, then syncs an edit back', async () => {
    const { controls } = world.cpms;
    const customer = controls.create('customers', { name: `Acme ${writePath}`, is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Launch',
      status: 'active',
      priority: 'high',
      due_date: '2026-12-31',
    });
    const task = controls.create('tasks', {
      project_id: project.id,
      title: 'Write spec',
      status: 'todo',
      priority: 'normal',
    });

    const conn = adminConnection(world);
    type TaskRow = {
      Id: string;
      Subject: string;
      Status: string;
      Priority: string;
      ActivityDate: string | null;
      Division?: string;
    };
    const rows = await eventually(async () => {
      const result = await conn.query<TaskRow>(
        `SELECT Id, Subject, Status, Priority, ActivityDate, Division, Custompms_Id__c FROM Task WHERE Custompms_Id__c IN ('${project.id}', '${task.id}')`,
      );
      return result.records.length === 2 ? result.records : undefined;
    });
    const projectRow = rows.find((row) => row.Subject === 'Launch')!;
    expect(projectRow).toMatchObject({ Status: 'In Progress', Priority: 'High', ActivityDate: '2026-12-31' });
    const divisions = await conn.query<{ Id: string; Name: string; IsActive: boolean }>(
      `SELECT Id, Name, IsActive FROM Division WHERE Name = 'Acme ${writePath}'`,
    );
    expect(divisions.records).toHaveLength(1);
    expect(divisions.records[0]!.IsActive).toBe(true);
    expect(projectRow.Division).toBe(divisions.records[0]!.Id);
    const taskRow = rows.find((row) => row.Subject === 'Write spec')!;
    await eventually(
      async () =>
        (await world.db.pool.query('SELECT 1 FROM links WHERE salesforce_id = $1', [taskRow.Id])).rowCount ===
        1,
    );

    // A Salesforce user edits the task: one write in Custompms, none back.
    const versionBefore = controls.record('tasks', task.id)!.version;
    await conn.sobject('Task').update({ Id: taskRow.Id, Status: 'Completed', Subject: 'Write the spec' });
    const updated = await eventually(() => {
      const record = controls.record('tasks', task.id)!;
      return record.status === 'done' ? record : undefined;
    });
    expect(updated.title).toBe('Write the spec');
    expect(updated.version).toBe(versionBefore + 1);
    // The Custompms write's webhook comes back as an echo: once the proxy has processed it (and
    // everything that followed), no further Custompms version, and the Salesforce record keeps
    // the user's values.
    await webhookProcessed(world, task.id, versionBefore + 1);
    await quiet(world);
    expect(controls.record('tasks', task.id)!.version).toBe(versionBefore + 1);
    const after = await conn.sobject('Task').retrieve(taskRow.Id);
    expect(after.Subject).toBe('Write the spec');
  });

  it('creates in Custompms a Division (opt-in), a project and a task created in Salesforce, and links them', async () => {
    const { controls } = world.cpms;
    const conn = adminConnection(world);
    const division = await conn
      .sobject('Division')
      .create({ Name: `Made in SF ${writePath}`, IsActive: true });
    await pollDivisions(world.deps);
    const customer = await eventually(() =>
      controls.records('customers').find((record) => record.name === `Made in SF ${writePath}`),
    );
    expect(customer.is_active).toBe(true);
    expect(await linkedId(world, 'customers', customer.id)).toBe(division.id);

    controls.clearRequests();
    const project = await conn.sobject('Task').create({
      Subject: 'Planned in Salesforce',
      Custompms_Type__c: 'Project',
      Status: 'Waiting on someone else',
      Priority: 'Low',
      ActivityDate: '2027-01-15',
      Division: division.id,
    });
    const projectRecord = await eventually(() =>
      controls.records('projects').find((record) => record.name === 'Planned in Salesforce'),
    );
    expect(projectRecord).toMatchObject({
      customer_id: customer.id,
      status: 'on_hold',
      priority: 'low',
      due_date: '2027-01-15',
    });
    // The Custompms id is written back on the Task, by the integration user (no outbound echo).
    await eventually(async () => {
      const row = await conn.sobject('Task').retrieve(project.id!);
      return row.Custompms_Id__c === projectRecord.id && row.Custompms_Sync_Status__c === 'Synced';
    });

    const task = await conn.sobject('Task').create({
      Subject: 'Sub-task from Salesforce',
      Custompms_Type__c: 'Task',
      Custompms_Project_Id__c: projectRecord.id,
      Status: 'In Progress',
    });
    const taskRecord = await eventually(() =>
      controls.records('tasks').find((record) => record.title === 'Sub-task from Salesforce'),
    );
    expect(taskRecord).toMatchObject({ project_id: projectRecord.id, status: 'in_progress' });
    expect(await linkedId(world, 'tasks', taskRecord.id)).toBe(task.id);
    await quiet(world);
    // One create each, keyed by the Salesforce Id, and nothing else written.
    const writes = custompmsWrites(world.cpms);
    expect(writes.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      'POST /api/v1/projects',
      'POST /api/v1/tasks',
    ]);
    expect(writes.map((entry) => entry.idempotencyKey)).toEqual([`sf:${project.id}`, `sf:${task.id}`]);
  });

  it('an edit in Custompms of a customer, a project and a task is one write in Salesforce, none back', async () => {
    const { controls } = world.cpms;
    const conn = adminConnection(world);
    const customer = controls.create('customers', { name: `Edits ${writePath}`, is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Before',
      status: 'planned',
    });
    const task = controls.create('tasks', { project_id: project.id, title: 'Before', status: 'todo' });
    const [divisionId, projectTaskId, taskId] = [
      await linkedId(world, 'customers', customer.id),
      await linkedId(world, 'projects', project.id),
      await linkedId(world, 'tasks', task.id),
    ];
    await quiet(world);

    const saves = countSaves(world.sf);
    controls.clearRequests();
    controls.edit('customers', customer.id, { name: `Edited ${writePath}` });
    controls.edit('projects', project.id, { name: 'After', status: 'completed', description: 'Done' });
    controls.edit('tasks', task.id, { title: 'After', status: 'blocked', due_date: '2027-02-01' });
    await eventually(async () => {
      const division = await conn.sobject('Division').retrieve(divisionId);
      const rows = await conn.query<{ Id: string; Subject: string }>(
        `SELECT Id, Subject FROM Task WHERE Id IN ('${projectTaskId}', '${taskId}') AND Subject = 'After'`,
      );
      return division.Name === `Edited ${writePath}` && rows.records.length === 2;
    });
    await quiet(world);
    saves.stop();
    expect([saves.of(divisionId), saves.of(projectTaskId), saves.of(taskId)]).toEqual([1, 1, 1]);
    expect(custompmsWrites(world.cpms)).toEqual([]);
    const projectRow = await conn.sobject('Task').retrieve(projectTaskId);
    expect(projectRow).toMatchObject({ Status: 'Completed', Description: 'Done', Division: divisionId });
    const taskRow = await conn.sobject('Task').retrieve(taskId);
    expect(taskRow).toMatchObject({ Status: 'Waiting on someone else', ActivityDate: '2027-02-01' });
  });

  it('an edit of a Division or a project in Salesforce is one write in Custompms, none back', async () => {
    const { controls } = world.cpms;
    const conn = adminConnection(world);
    const customer = controls.create('customers', { name: `Renamed in SF ${writePath}`, is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'SF edits me',
      status: 'planned',
    });
    const divisionId = await linkedId(world, 'customers', customer.id);
    const projectTaskId = await linkedId(world, 'projects', project.id);
    await quiet(world);

    const saves = countSaves(world.sf);
    controls.clearRequests();
    await conn
      .sobject('Division')
      .update({ Id: divisionId, Name: `Renamed by SF ${writePath}`, IsActive: false });
    await conn.sobject('Task').update({ Id: projectTaskId, Subject: 'Edited in SF', Priority: 'High' });
    await pollDivisions(world.deps);
    await eventually(() => {
      const customerNow = controls.record('customers', customer.id)!;
      const projectNow = controls.record('projects', project.id)!;
      return (
        customerNow.name === `Renamed by SF ${writePath}` &&
        customerNow.is_active === false &&
        projectNow.name === 'Edited in SF' &&
        projectNow.priority === 'high'
      );
    });
    await quiet(world);
    await pollDivisions(world.deps);
    await quiet(world);
    saves.stop();
    expect(
      custompmsWrites(world.cpms)
        .map((entry) => `${entry.method} ${entry.path}`)
        .sort(),
    ).toEqual([`PATCH /api/v1/customers/${customer.id}`, `PATCH /api/v1/projects/${project.id}`].sort());
    // Only the user's own saves: nothing written back to the Division or the Task.
    expect([saves.of(divisionId), saves.of(projectTaskId)]).toEqual([1, 1]);
    // The outbound message carries no Division: the project keeps its customer, nothing is reported.
    expect(controls.record('projects', project.id)!.customer_id).toBe(customer.id);
    const problems = await listProblems(world.db.pool);
    expect(problems.filter((problem) => problem.custompmsId === project.id)).toEqual([]);
  });

  it('deletes on each side delete the linked record on the other', async () => {
    const { controls } = world.cpms;
    const conn = adminConnection(world);
    const customer = controls.create('customers', { name: `Deletes ${writePath}`, is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Temporary',
      status: 'planned',
    });
    const first = controls.create('tasks', {
      project_id: project.id,
      title: 'Delete me in Custompms',
      status: 'todo',
    });
    const second = controls.create('tasks', {
      project_id: project.id,
      title: 'Delete me in Salesforce',
      status: 'todo',
    });
    const firstSalesforceId = await linkedId(world, 'tasks', first.id);
    const secondSalesforceId = await linkedId(world, 'tasks', second.id);
    const projectTaskId = await linkedId(world, 'projects', project.id);
    const divisionId = await linkedId(world, 'customers', customer.id);

    controls.remove('tasks', first.id);
    await eventually(async () => {
      const rows = await conn.query(`SELECT Id FROM Task WHERE Id = '${firstSalesforceId}'`);
      return rows.records.length === 0;
    });

    await conn.sobject('Task').destroy(secondSalesforceId);
    await eventually(() => controls.record('tasks', second.id) === undefined);
    expect(controls.tombstones().map((tombstone) => tombstone.id)).toEqual(
      expect.arrayContaining([first.id, second.id]),
    );

    // A project deleted in Salesforce is deleted in Custompms.
    await conn.sobject('Task').destroy(projectTaskId);
    await eventually(() => controls.record('projects', project.id) === undefined);
    // A customer deleted in Custompms deactivates its Division (Division has no delete).
    controls.remove('customers', customer.id);
    await eventually(async () => {
      const division = await conn.sobject('Division').retrieve(divisionId);
      return division.IsActive === false;
    });
  });
});
