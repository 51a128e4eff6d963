/**
 * Record access for Task over the API (security/access.ts, sources cited there): a user sees and
 * edits the Tasks they own, and those owned by users below them in the role hierarchy; View All
 * Data sees everything but edits only what sharing allows; Modify All Data edits everything;
 * editing needs Edit Tasks; an API call needs API Enabled. An invisible Task is not there for the
 * user: queries omit it, GET answers 404 NOT_FOUND, a write fails INSUFFICIENT_ACCESS_OR_READONLY.
 */
import type { Connection } from 'jsforce';
import { connect, rejection } from './helpers';
import { parseJsonRecord } from './data/values';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { MINIMUM_ACCESS, STANDARD_USER } from './security/profiles';

describe('Task record access (sharing) over the API', () => {
  let sf: SalesforceEmulator;
  const id: Record<string, string> = {};
  const task: Record<string, string> = {};

  const user = (username: string, options: Record<string, unknown> = {}): string => {
    const record = sf.org.users.create({
      username: `${username}@sharing.test`,
      email: `${username}@sharing.test`,
      lastName: username,
      profile: STANDARD_USER,
      ...options,
    });
    id[username] = record.Id as string;
    return `${username}@sharing.test`;
  };
  const as = (username: string): Connection => connect(sf, `${username}@sharing.test`);
  const taskOwnedBy = (owner: string, subject: string): string => {
    const task = sf.org.schema.object('Task')!;
    const [saved] = sf.org.transaction(sf.org.adminUserId, (tx) =>
      tx.insert('Task', [parseJsonRecord(task, { Subject: subject, OwnerId: id[owner] })]),
    );
    return saved!.id!;
  };
  const subjects = async (conn: Connection): Promise<string[]> =>
    (await conn.query<{ Subject: string }>('SELECT Subject FROM Task ORDER BY Subject')).records.map(
      (r) => r.Subject,
    );

  beforeAll(async () => {
    sf = await startSalesforceEmulator();
    sf.org.users.createRole({ name: 'Manager' });
    sf.org.users.createRole({ name: 'Rep', parent: 'Manager' });
    user('manager', { role: 'Manager' });
    user('rep1', { role: 'Rep' });
    user('rep2', { role: 'Rep' });
    user('auditor', { systemPermissions: ['ViewAllData'] });
    user('superuser', { systemPermissions: ['ModifyAllData'] });
    user('noedit', { profile: MINIMUM_ACCESS, systemPermissions: ['ApiEnabled'] });
    user('noapi', { profile: MINIMUM_ACCESS });
    task.manager = taskOwnedBy('manager', 'a manager task');
    task.rep1 = taskOwnedBy('rep1', 'b rep1 task');
    task.rep2 = taskOwnedBy('rep2', 'c rep2 task');
    task.noedit = taskOwnedBy('noedit', 'd noedit task');
  });

  afterAll(async () => {
    await sf.close();
  });

  it('lets a user query only their own Tasks and those of users below them in the role hierarchy', async () => {
    expect(await subjects(as('rep1'))).toEqual(['b rep1 task']);
    // Same role: no access to a peer's Tasks.
    expect(await subjects(as('rep2'))).toEqual(['c rep2 task']);
    expect(await subjects(as('manager'))).toEqual(['a manager task', 'b rep1 task', 'c rep2 task']);
    // COUNT() and queryAll see the same rows.
    const count = await as('rep1').query('SELECT COUNT() FROM Task');
    expect(count.totalSize).toBe(1);
  });

  it('answers 404 NOT_FOUND for a Task the user cannot see, and leaves it out of a collection retrieve', async () => {
    const rep1 = as('rep1');
    const missing = await rejection(rep1.sobject('Task').retrieve(task.rep2!));
    expect(missing.errorCode).toBe('NOT_FOUND');
    const both = await rep1.request<(Record<string, unknown> | null)[]>({
      method: 'POST',
      url: '/services/data/v65.0/composite/sobjects/Task',
      body: JSON.stringify({ ids: [task.rep1, task.rep2], fields: ['Subject'] }),
      headers: { 'content-type': 'application/json' },
    });
    expect(both.map((r) => r?.Subject ?? null)).toEqual(['b rep1 task', null]);
  });

  it('refuses a write to a Task the user cannot edit with INSUFFICIENT_ACCESS_OR_READONLY', async () => {
    const rep1 = as('rep1');
    const denied = await rejection(rep1.sobject('Task').update({ Id: task.rep2!, Subject: 'taken over' }));
    expect(denied.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    const up = await rejection(rep1.sobject('Task').update({ Id: task.manager!, Subject: 'upward' }));
    expect(up.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    const [collection] = await rep1.sobject('Task').update([{ Id: task.rep2!, Subject: 'again' }]);
    expect(collection).toMatchObject({
      success: false,
      errors: [expect.objectContaining({ statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY' })],
    });
    const deleted = await rejection(rep1.sobject('Task').destroy(task.rep2!));
    expect(deleted.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    expect(sf.org.db.table('Task').get(task.rep2!)).toMatchObject({
      Subject: 'c rep2 task',
      IsDeleted: false,
    });
  });

  it("lets a manager edit a subordinate's Task, and an owner reassign their Task away (then lose it)", async () => {
    await as('manager').sobject('Task').update({ Id: task.rep1!, Status: 'In Progress' });
    expect(sf.org.db.table('Task').get(task.rep1!)).toMatchObject({ Status: 'In Progress' });
    const mine = taskOwnedBy('rep2', 'z handed over');
    await as('rep2').sobject('Task').update({ Id: mine, OwnerId: id.rep1! });
    expect((await rejection(as('rep2').sobject('Task').retrieve(mine))).errorCode).toBe('NOT_FOUND');
    expect(await as('rep1').sobject('Task').retrieve(mine)).toMatchObject({ Subject: 'z handed over' });
  });

  it('shows every Task with View All Data, edits every Task only with Modify All Data', async () => {
    const all = await subjects(as('auditor'));
    expect(all).toEqual(
      expect.arrayContaining(['a manager task', 'b rep1 task', 'c rep2 task', 'd noedit task']),
    );
    const denied = await rejection(
      as('auditor').sobject('Task').update({ Id: task.rep2!, Subject: 'audited' }),
    );
    expect(denied.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    await as('superuser').sobject('Task').update({ Id: task.rep2!, Priority: 'High' });
    expect(sf.org.db.table('Task').get(task.rep2!)).toMatchObject({ Priority: 'High' });
    // The System Administrator profile has both.
    expect(await subjects(connect(sf, sf.adminUsername))).toEqual(expect.arrayContaining(all));
  });

  it("needs Edit Tasks to create or edit even one's own Task, and API Enabled for any call", async () => {
    const noedit = as('noedit');
    // (Minimum Access has no field-level security on Subject: Id and Status only.)
    const own = await noedit.query<{ Id: string }>('SELECT Id, Status FROM Task');
    expect(own.records.map((r) => r.Id)).toEqual([task.noedit]);
    const create = await rejection(noedit.sobject('Task').create({ Status: 'Not Started' }));
    expect(create.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    const edit = await rejection(noedit.sobject('Task').update({ Id: task.noedit!, Status: 'Completed' }));
    expect(edit.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
    const noapi = await rejection(as('noapi').query('SELECT Id FROM Task'));
    expect(noapi.errorCode).toBe('API_CURRENTLY_DISABLED');
  });

  it('gives the integration user only what force-app grants: its own Tasks, not the others', async () => {
    await sf.org.deploySource();
    const integration = connect(sf, sf.integrationUsername);
    expect(await integration.query('SELECT Id FROM Task')).toMatchObject({ totalSize: 0 });
    expect((await rejection(integration.sobject('Task').retrieve(task.rep1!))).errorCode).toBe('NOT_FOUND');
    // What an admin adds on the integration user's profile (force-app does not ship it).
    sf.org.users.grantSystemPermission(sf.org.integrationUserId, 'ModifyAllData');
    expect((await integration.query('SELECT Id FROM Task')).totalSize).toBeGreaterThanOrEqual(4);
    sf.org.users.grantSystemPermission(sf.org.integrationUserId, 'ModifyAllData', false);
  });

  it('starts the integration user with the system permissions the setup grants it, when asked', async () => {
    const granted = await startSalesforceEmulator({
      integrationUserSystemPermissions: ['ViewAllData', 'ModifyAllData'],
    });
    try {
      const access = granted.org.users.access(granted.org.integrationUserId);
      expect([
        access.has('ViewAllData'),
        access.has('ModifyAllData'),
        access.has('CustomizeApplication'),
      ]).toEqual([true, true, false]);
      expect(sf.org.users.access(sf.org.integrationUserId).has('ModifyAllData')).toBe(false);
    } finally {
      await granted.close();
    }
  });
});
