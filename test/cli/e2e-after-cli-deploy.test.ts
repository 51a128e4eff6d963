/**
 * End to end on an org whose definitions came only from a real `sf project deploy start` (the
 * deploy script, the real CLI): fields, events, Flow and outbound message, Apex triggers and
 * credentials all as deployed. Custompms → Salesforce through the event and the Apex pull;
 * Salesforce → Custompms through the Flow's outbound message; a delete through the Task trigger.
 */
import jsforce from 'jsforce';
import { startWorld, type World } from '../support/e2e';
import { eventually } from '../support/eventually';

jest.setTimeout(240_000);

describe('after a real sf CLI deploy', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ deploy: 'cli' });
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('syncs both ways on the deployed definitions', async () => {
    const { controls } = world.cpms;
    const conn = new jsforce.Connection({
      instanceUrl: world.sf.url,
      accessToken: world.sf.tokenFor(world.sf.adminUsername),
      version: '65.0',
    });
    const customer = controls.create('customers', { name: 'Deployed Co', is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Via the CLI',
      status: 'active',
    });
    const row = await eventually(async () => {
      const result = await conn.query<{ Id: string; Subject: string; Status: string }>(
        `SELECT Id, Subject, Status FROM Task WHERE Custompms_Id__c = '${project.id}'`,
      );
      return result.records[0];
    });
    expect(row).toMatchObject({ Subject: 'Via the CLI', Status: 'In Progress' });

    await conn.sobject('Task').update({ Id: row.Id, Subject: 'Edited in the deployed org' });
    await eventually(() => controls.record('projects', project.id)!.name === 'Edited in the deployed org');

    await conn.sobject('Task').destroy(row.Id);
    await eventually(() => controls.record('projects', project.id) === undefined);
  });
});
