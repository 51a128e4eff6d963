/**
 * Object and field permissions from profiles and deployed permission sets (security/access.ts,
 * sources cited there), over the API, in outbound messages and in the Apex runtime's access modes:
 * a field the user cannot read does not exist for them (describe, SOQL INVALID_FIELD, GET, a write
 * INVALID_FIELD); a readable, non-editable one fails a write with INVALID_FIELD_FOR_INSERT_UPDATE;
 * required fields are always readable and editable; `Activity.X__c` grants do not reach Task;
 * outbound messages carry only what the "user to send as" can read; Apex USER_MODE enforces all of
 * it, SYSTEM_MODE none of it (sharing only in a `with sharing` class).
 */
import type { Connection } from 'jsforce';
import { connect, fullAccessUser, rejection, startReceiver, waitFor, type Receiver } from './helpers';
import { parseJsonRecord } from './data/values';
import { AccessLevel, type ApexException, type Apex, type SObject } from './apex/runtime';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { STANDARD_USER } from './security/profiles';

const PACKAGE = (type: string, member: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata">' +
  `<types><members>${member}</members><name>${type}</name></types><version>65.0</version></Package>`;

const field = (name: string, readable: boolean, editable: boolean): string =>
  `<fieldPermissions><editable>${editable}</editable><field>${name}</field><readable>${readable}</readable></fieldPermissions>`;

function permissionSet(label: string, body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">' +
    `${body}<hasActivationRequired>false</hasActivationRequired><label>${label}</label></PermissionSet>`
  );
}

describe('object and field permissions', () => {
  let sf: SalesforceEmulator;
  let receiver: Receiver;
  let reader: Connection;
  let readerId: string;
  let otherTask: string;

  const deployPermissionSet = (name: string, body: string): void => {
    const outcome = sf.org.deployFiles(
      new Map([
        ['package.xml', PACKAGE('PermissionSet', name)],
        [`permissionsets/${name}.permissionset`, permissionSet(name, body)],
      ]),
      { checkOnly: false },
    );
    expect(outcome.messages.filter((m) => !m.success)).toEqual([]);
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    sf = await startSalesforceEmulator({
      deployForceApp: true,
      outbound: {
        timeScale: 0.001,
        dispatchIntervalMs: 5,
        outOfOrder: false,
        duplicateRate: 0,
        timeoutMs: 5_000,
        seed: 1,
      },
    });
    sf.org.setOutboundEndpoint(`${receiver.url}/om`);
    deployPermissionSet(
      'Fls_Reader',
      field('Task.Custompms_Id__c', true, true) +
        field('Task.Custompms_Type__c', true, false) +
        // The Activity object's name does not grant the Task field.
        field('Activity.Custompms_Project_Id__c', true, true),
    );
    readerId = sf.org.users.create({
      username: 'reader@fls.test',
      email: 'reader@fls.test',
      lastName: 'Reader',
      profile: STANDARD_USER,
      permissionSets: ['Fls_Reader'],
    }).Id as string;
    reader = connect(sf, 'reader@fls.test');
    const task = sf.org.schema.object('Task')!;
    otherTask = sf.org.transaction(sf.org.adminUserId, (tx) =>
      tx.insert('Task', [parseJsonRecord(task, { Subject: 'not yours', Custompms_Sync_Error__c: 'boom' })]),
    )[0]!.id!;
  });

  afterAll(async () => {
    await sf.close();
    await receiver.close();
  });

  it('leaves fields the user cannot read out of describe, and marks read-only ones not updateable', async () => {
    const describe = await reader.sobject('Task').describe();
    const names = describe.fields.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(['Subject', 'Status', 'Custompms_Id__c', 'Custompms_Type__c']),
    );
    expect(names).not.toContain('Custompms_Sync_Error__c');
    expect(names).not.toContain('Custompms_Project_Id__c');
    const type = describe.fields.find((f) => f.name === 'Custompms_Type__c')!;
    expect({ createable: type.createable, updateable: type.updateable }).toEqual({
      createable: false,
      updateable: false,
    });
  });

  it('answers INVALID_FIELD for a hidden field anywhere in a SOQL query, and leaves it out of a GET', async () => {
    const select = await rejection(reader.query('SELECT Id, Custompms_Sync_Error__c FROM Task'));
    expect(select.errorCode).toBe('INVALID_FIELD');
    expect(select.message).toContain("No such column 'Custompms_Sync_Error__c' on entity 'Task'");
    const where = await rejection(reader.query("SELECT Id FROM Task WHERE Custompms_Project_Id__c = 'x'"));
    expect(where.errorCode).toBe('INVALID_FIELD');
    const created = await reader.sobject('Task').create({ Subject: 'mine', Custompms_Id__c: 'fls-1' });
    const row = (await reader.sobject('Task').retrieve(created.id!)) as Record<string, unknown>;
    expect(row).toMatchObject({ Subject: 'mine', Custompms_Id__c: 'fls-1' });
    expect(row).not.toHaveProperty('Custompms_Sync_Error__c');
    const explicit = await rejection(
      reader.request(`/services/data/v65.0/sobjects/Task/${created.id}?fields=Custompms_Sync_Error__c`),
    );
    expect(explicit.errorCode).toBe('INVALID_FIELD');
  });

  it('refuses writes of hidden (INVALID_FIELD) and read-only (INVALID_FIELD_FOR_INSERT_UPDATE) fields', async () => {
    const hidden = await rejection(
      reader.sobject('Task').create({ Subject: 'x', Custompms_Sync_Error__c: 'no' }),
    );
    expect(hidden.errorCode).toBe('INVALID_FIELD');
    const readOnly = await rejection(
      reader.sobject('Task').create({ Subject: 'x', Custompms_Type__c: 'Task' }),
    );
    expect(readOnly.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    expect(readOnly.message).toContain('Unable to create/update fields: Custompms_Type__c');
    const [bulk] = await reader.sobject('Task').create([{ Subject: 'y', Custompms_Type__c: 'Task' }]);
    expect(bulk).toMatchObject({
      success: false,
      errors: [expect.objectContaining({ statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE' })],
    });
    // Universally required fields (Status, Priority, OwnerId) need no field permission.
    const fine = await reader.sobject('Task').create({ Status: 'Deferred', Priority: 'Low' });
    expect(fine.success).toBe(true);
  });

  it('sends in an outbound message only the fields its "user to send as" can read, and no nulls', async () => {
    // The integration user sends force-app's message; give it a narrower grant for this test.
    sf.org.users.assignPermissionSet(sf.org.integrationUserId, 'Custompms_Integration', false);
    deployPermissionSet(
      'Outbound_Narrow',
      field('Task.Custompms_Id__c', true, false) +
        field('Task.Custompms_Type__c', true, false) +
        '<customPermissions><enabled>true</enabled><name>Custompms_Sync_Bypass</name></customPermissions>',
    );
    sf.org.users.assignPermissionSet(sf.org.integrationUserId, 'Outbound_Narrow');
    try {
      receiver.requests.length = 0;
      const full = connect(sf, fullAccessUser(sf));
      const saved = await full.sobject('Task').create({
        Subject: 'secret subject',
        Description: 'secret description',
        ActivityDate: '2026-12-24',
        Custompms_Type__c: 'Task',
        Custompms_Id__c: 'om-fls-1',
      });
      await sf.org.settle();
      const request = await waitFor(() => receiver.requests.find((r) => r.body.includes(saved.id!)));
      expect(request.body).toContain('<sf:Custompms_Id__c>om-fls-1</sf:Custompms_Id__c>');
      expect(request.body).toContain('<sf:Custompms_Type__c>Task</sf:Custompms_Type__c>');
      expect(request.body).toContain('<sf:Status>Not Started</sf:Status>');
      for (const hidden of ['Subject', 'Description', 'ActivityDate', 'Custompms_Project_Id__c'])
        expect(request.body).not.toContain(`<sf:${hidden}>`);
    } finally {
      sf.org.users.assignPermissionSet(sf.org.integrationUserId, 'Outbound_Narrow', false);
      sf.org.users.assignPermissionSet(sf.org.integrationUserId, 'Custompms_Integration');
    }
  });

  it('needs object permissions: custom metadata type access, Create on a platform event, Modify All Data for Divisions', async () => {
    // A Standard User has none of force-app's grants.
    const mdt = await rejection(reader.query('SELECT MasterLabel FROM Custompms_Sync_Setting__mdt'));
    expect(mdt.errorCode).toBe('INVALID_TYPE');
    const publish = await rejection(
      reader.sobject('Custompms_Change__e').create({ Batch_Id__c: 'b-1' } as Record<string, unknown>),
    );
    // No access at all to the event object: it does not exist for this user.
    expect(publish.errorCode).toBe('NOT_FOUND');
    const division = await rejection(
      reader.sobject('Division').create({ Name: 'North', IsActive: true } as Record<string, unknown>),
    );
    expect(division.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    expect((await reader.query('SELECT Id, Name FROM Division')).totalSize).toBeGreaterThan(0);
    // force-app's integration permission set grants the first two; Modify All Data the third.
    const integration = connect(sf, sf.integrationUsername);
    await integration.query('SELECT MasterLabel FROM Custompms_Sync_Setting__mdt');
    await integration
      .sobject('Custompms_Change__e')
      .create({ Batch_Id__c: 'b-2' } as Record<string, unknown>);
    sf.org.users.grantSystemPermission(sf.org.integrationUserId, 'ModifyAllData');
    try {
      const created = await integration
        .sobject('Division')
        .create({ Name: 'South', IsActive: true } as Record<string, unknown>);
      expect(created.success).toBe(true);
    } finally {
      sf.org.users.grantSystemPermission(sf.org.integrationUserId, 'ModifyAllData', false);
    }
  });

  describe('Apex access modes', () => {
    const run = async <T>(body: (apex: Apex) => T): Promise<T> => {
      let result: T | undefined;
      await sf.org.apex.runTrigger('FlsProbe', sf.org.runAs(readerId), (apex) => {
        result = body(apex);
      });
      return result as T;
    };
    const task = (apex: Apex, values: Record<string, string>): SObject => apex.newSObject('Task', values);

    it('USER_MODE enforces field-level security on DML and SOQL; SYSTEM_MODE does not', async () => {
      const user = await run((apex) =>
        apex.Database.insert(
          [task(apex, { Subject: 'u', Custompms_Sync_Error__c: 'e' })],
          false,
          AccessLevel.USER_MODE,
        ),
      );
      expect(user[0]!.isSuccess()).toBe(false);
      expect(user[0]!.getErrors()[0]!.getStatusCode()).toBe('INVALID_FIELD');
      const system = await run((apex) =>
        apex.Database.insert(
          [task(apex, { Subject: 's', Custompms_Sync_Error__c: 'e' })],
          false,
          AccessLevel.SYSTEM_MODE,
        ),
      );
      expect(system[0]!.isSuccess()).toBe(true);
      const query = await run((apex) => {
        try {
          apex.Database.query('SELECT Custompms_Sync_Error__c FROM Task', AccessLevel.USER_MODE);
          return 'no exception';
        } catch (error) {
          return (error as ApexException).apexType;
        }
      });
      expect(query).toBe('System.QueryException');
      const rows = await run((apex) =>
        apex.Database.query(
          "SELECT Custompms_Sync_Error__c FROM Task WHERE Subject = 'not yours'",
          AccessLevel.SYSTEM_MODE,
        ),
      );
      expect(rows.map((r) => r.Custompms_Sync_Error__c)).toEqual(['boom']);
    });

    it('USER_MODE and `with sharing` system mode respect record access; `without sharing` does not', async () => {
      const ids = (rows: SObject[]): unknown[] => rows.map((r) => r.Id);
      expect(
        ids(await run((apex) => apex.Database.query('SELECT Id FROM Task', AccessLevel.USER_MODE))),
      ).not.toContain(otherTask);
      expect(
        ids(await run((apex) => apex.Database.query('SELECT Id FROM Task', AccessLevel.SYSTEM_MODE))),
      ).toContain(otherTask);
      expect(
        ids(
          await run((apex) =>
            apex.withSharing('with sharing', () =>
              apex.Database.query('SELECT Id FROM Task', AccessLevel.SYSTEM_MODE),
            ),
          ),
        ),
      ).not.toContain(otherTask);
      const update = (mode: Parameters<Apex['Database']['update']>[2]) =>
        run(
          (apex) =>
            apex.Database.update(
              [apex.newSObject('Task', { Id: otherTask, Subject: 'mine now' })],
              false,
              mode,
            )[0]!,
        );
      const withSharing = await update({ accessLevel: 'SYSTEM_MODE', sharing: 'with' });
      expect(withSharing.getErrors()[0]?.getStatusCode()).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
      expect((await update(AccessLevel.USER_MODE)).isSuccess()).toBe(false);
      expect((await update({ accessLevel: 'SYSTEM_MODE', sharing: 'without' })).isSuccess()).toBe(true);
    });

    it("describes fields with the running user's field-level security", async () => {
      const flags = await run((apex) => {
        const fields = apex.Schema.getType('Task')!.fields();
        const of = (name: string) => {
          const f = fields.get(name.toLowerCase())!;
          return [f.isAccessible(), f.isCreateable(), f.isUpdateable()];
        };
        return {
          id: of('Custompms_Id__c'),
          type: of('Custompms_Type__c'),
          error: of('Custompms_Sync_Error__c'),
        };
      });
      expect(flags).toEqual({
        id: [true, true, true],
        type: [true, false, false],
        error: [false, false, false],
      });
    });
  });
});
