/**
 * End to end: emulated org + reference Custompms + proxy + PostgreSQL, through the real wire
 * formats (webhooks, platform events and the Apex pull, outbound messages, REST).
 */
import jsforce from 'jsforce';
import { eventually, startWorld, type World } from '../support/e2e';

jest.setTimeout(180_000);

function adminConnection(world: World) {
  return new jsforce.Connection({
    instanceUrl: world.sf.url,
    accessToken: world.sf.tokenFor(world.sf.adminUsername),
    version: '65.0',
  });
}

describe.each(['apex', 'api'] as const)('Custompms ⇄ Salesforce (%s write path)', (writePath) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ writePath });
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
    await world.sf.org.settle();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The Custompms write's webhook comes back as an echo: no further Custompms version, and the
    // Salesforce record keeps the user's values.
    expect(controls.record('tasks', task.id)!.version).toBe(versionBefore + 1);
    const after = await conn.sobject('Task').retrieve(taskRow.Id);
    expect(after.Subject).toBe('Write the spec');
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
    const linkedId = (custompmsId: string) =>
      eventually(async () => {
        const row = await world.db.pool.query<{ salesforce_id: string }>(
          'SELECT salesforce_id FROM links WHERE custompms_id = $1 AND salesforce_id IS NOT NULL',
          [custompmsId],
        );
        return row.rows[0]?.salesforce_id;
      });
    const firstSalesforceId = await linkedId(first.id);
    const secondSalesforceId = await linkedId(second.id);

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
  });
});
