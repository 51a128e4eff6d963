/**
 * The emulator's REST API, driven through real jsforce v3 as the proxy drives Salesforce:
 * CRUD, upsert by external id, describe, collections, query paging, updated/deleted, limits and
 * fault injection, with Salesforce's error codes.
 */
import type { Connection } from 'jsforce';
import { root, parseXml } from './xml';
import { connect, rejection, fullAccessUser } from './helpers';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { ShiftedClock } from './time';

type Row = Record<string, unknown>;

describe('Salesforce emulator REST API (jsforce)', () => {
  let emulator: SalesforceEmulator;
  let conn: Connection;
  const clock = new ShiftedClock();

  beforeAll(async () => {
    emulator = await startSalesforceEmulator({ clock, deployForceApp: true });
    conn = connect(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  afterEach(() => {
    emulator.org.faults.clear();
  });

  const lastStatus = (method: string, pathPart: string): number | undefined =>
    [...emulator.org.requestLog].reverse().find((r) => r.method === method && r.path.includes(pathPart))
      ?.status;

  it('creates, retrieves, updates and deletes a Task, keeping audit fields and IsClosed', async () => {
    const created = await conn
      .sobject('Task')
      .create({ Subject: 'Write spec', Custompms_Type__c: 'Task', ActivityDate: '2026-12-01' });
    expect(created.success).toBe(true);
    expect(created.id).toMatch(/^00T[A-Za-z0-9]{15}$/);
    const first = (await conn.sobject('Task').retrieve(created.id!)) as Row;
    expect(first).toMatchObject({
      Subject: 'Write spec',
      Status: 'Not Started',
      Priority: 'Normal',
      IsClosed: false,
      ActivityDate: '2026-12-01',
      OwnerId: emulator.org.users.byUsername(fullAccessUser(emulator))!.Id,
      LastModifiedById: emulator.org.users.byUsername(fullAccessUser(emulator))!.Id,
    });
    expect(first.SystemModstamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$/);

    clock.advance(2_000);
    const admin = connect(emulator, emulator.adminUsername);
    await admin.sobject('Task').update({ Id: created.id!, Status: 'Completed', Priority: 'High' });
    const second = (await conn.sobject('Task').retrieve(created.id!)) as Row;
    expect(second).toMatchObject({
      Status: 'Completed',
      IsClosed: true,
      IsHighPriority: true,
      LastModifiedById: emulator.org.adminUserId,
    });
    expect(Date.parse(String(second.SystemModstamp).replace('+0000', 'Z'))).toBeGreaterThan(
      Date.parse(String(first.SystemModstamp).replace('+0000', 'Z')),
    );
    expect(second.CompletedDateTime).not.toBeNull();

    await conn.sobject('Task').destroy(created.id!);
    expect(lastStatus('DELETE', created.id!)).toBe(204);
    const gone = await rejection(conn.sobject('Task').update({ Id: created.id!, Subject: 'again' }));
    expect(gone.errorCode).toBe('ENTITY_IS_DELETED');
    const missing = await rejection(conn.sobject('Task').retrieve(created.id!));
    expect(missing.errorCode).toBe('ENTITY_IS_DELETED');
    const deletedRows = await conn.query(`SELECT Id, IsDeleted FROM Task WHERE Id = '${created.id!}'`, {
      scanAll: true,
    });
    expect(deletedRows.records).toEqual([expect.objectContaining({ IsDeleted: true })]);
  });

  it('refuses invalid values with Salesforce error codes', async () => {
    const task = conn.sobject('Task');
    expect((await rejection(task.create({ Subject: 'x'.repeat(256) }))).errorCode).toBe('STRING_TOO_LONG');
    expect((await rejection(task.create({ Description: 'x'.repeat(32_001) }))).errorCode).toBe(
      'STRING_TOO_LONG',
    );
    await expect(task.create({ Description: 'x'.repeat(32_000) })).resolves.toMatchObject({ success: true });
    const status = await rejection(task.create({ Status: 'Done' }));
    expect(status).toMatchObject({ errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST' });
    expect(status.message).toBe('Status: bad value for restricted picklist field: Done');
    expect((await rejection(task.create({ Custompms_Type__c: 'Epic' }))).errorCode).toBe(
      'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
    );
    expect((await rejection(task.create({ IsClosed: true }))).errorCode).toBe(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
    );
    expect((await rejection(task.create({ Nope__c: 1 }))).errorCode).toBe('INVALID_FIELD');
    expect((await rejection(task.create({ ActivityDate: 'tomorrow' }))).errorCode).toBe('JSON_PARSER_ERROR');

    await task.create({ Custompms_Id__c: 'dup-1' });
    const duplicate = await rejection(task.create({ Custompms_Id__c: 'DUP-1' }));
    expect(duplicate.errorCode).toBe('DUPLICATE_VALUE');
    expect(duplicate.message).toMatch(
      /^duplicate value found: Custompms_Id__c duplicates value on record with id: 00T/,
    );
  });

  it('upserts on Custompms_Id__c (201 created, 200 updated) and answers 300 for several matches', async () => {
    const task = conn.sobject('Task');
    const created = await task.upsert({ Custompms_Id__c: 'cp-100', Subject: 'First' }, 'Custompms_Id__c');
    expect(created).toMatchObject({ success: true, created: true });
    expect(lastStatus('PATCH', '/Custompms_Id__c/cp-100')).toBe(201);
    const updated = await task.upsert({ Custompms_Id__c: 'cp-100', Subject: 'Second' }, 'Custompms_Id__c');
    expect(updated).toMatchObject({ success: true, created: false, id: created.id });
    expect(lastStatus('PATCH', '/Custompms_Id__c/cp-100')).toBe(200);
    expect(((await task.retrieve(created.id!)) as Row).Subject).toBe('Second');

    // A non-unique external id, added the way a deploy adds it, can match several Tasks.
    const [, content] = root(
      parseXml(
        '<CustomField xmlns="http://soap.sforce.com/2006/04/metadata"><fullName>Legacy_Key__c</fullName>' +
          '<externalId>true</externalId><unique>false</unique><length>20</length><label>Legacy</label><type>Text</type></CustomField>',
      ),
    );
    const [outcome] = emulator.org.applyMetadata([
      { type: 'CustomField', fullName: 'Activity.Legacy_Key__c', content },
    ]);
    expect(outcome).toMatchObject({ success: true, created: true });
    await task.create([{ Legacy_Key__c: 'L1' }, { Legacy_Key__c: 'L1' }]);
    const several = await rejection(task.upsert({ Legacy_Key__c: 'L1', Subject: 'which?' }, 'Legacy_Key__c'));
    expect(several.errorCode).toBe('MULTIPLE_CHOICES');
    expect(lastStatus('PATCH', '/Legacy_Key__c/L1')).toBe(300);
    expect(several.data).toEqual([
      expect.stringMatching(/^\/services\/data\/v65\.0\/sobjects\/Task\/00T/),
      expect.any(String),
    ]);
  });

  it('describes Task, Division, User and the platform events from the applied metadata', async () => {
    const task = await conn.describe('Task');
    const fieldOf = (name: string) => task.fields.find((f) => f.name === name)!;
    expect(fieldOf('Subject')).toMatchObject({ length: 255, type: 'combobox' });
    expect(fieldOf('Description')).toMatchObject({ length: 32000, type: 'textarea' });
    expect(fieldOf('Custompms_Id__c')).toMatchObject({
      length: 64,
      externalId: true,
      unique: true,
      type: 'string',
      custom: true,
    });
    expect(fieldOf('Status')).toMatchObject({ type: 'picklist', restrictedPicklist: true, nillable: false });
    expect(fieldOf('Status').picklistValues!.map((v) => v.value)).toEqual([
      'Not Started',
      'In Progress',
      'Completed',
      'Waiting on someone else',
      'Deferred',
    ]);
    expect(fieldOf('IsClosed')).toMatchObject({ createable: false, updateable: false });
    const divisions = await conn.query<{ Id: string }>('SELECT Id FROM Division');
    expect(
      fieldOf('Division')
        .picklistValues!.map((v) => v.value)
        .sort(),
    ).toEqual(divisions.records.map((r) => r.Id).sort());

    const division = await conn.describe('Division');
    expect(division).toMatchObject({ keyPrefix: '02d', deletable: false, createable: true });
    expect(division.fields.find((f) => f.name === 'Name')).toMatchObject({ length: 80, nillable: false });
    expect(division.fields.find((f) => f.name === 'IsActive')).toMatchObject({
      defaultedOnCreate: true,
      defaultValue: false,
    });

    const user = await conn.describe('User');
    expect(user.fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(['Email', 'Username', 'IsActive', 'DefaultDivision']),
    );

    const change = await conn.describe('Custompms_Change__e');
    expect(change).toMatchObject({ createable: true, queryable: false, updateable: false, deletable: false });
    expect(change.fields.find((f) => f.name === 'Batch_Id__c')).toMatchObject({
      length: 64,
      nillable: false,
    });
    expect(change.fields.find((f) => f.name === 'Record_Count__c')).toMatchObject({
      type: 'double',
      precision: 5,
      scale: 0,
    });
    const deletion = await conn.describe('Custompms_Task_Deletion__e');
    expect(deletion.fields.find((f) => f.name === 'Task_Id__c')).toMatchObject({
      length: 18,
      nillable: false,
    });
    const global = await conn.describeGlobal();
    expect(global.sobjects.map((o) => o.name)).toEqual(
      expect.arrayContaining(['Task', 'Division', 'User', 'Custompms_Change__e']),
    );
  });

  it('applies Division rules: IsActive defaults to false, Name is required and short, no delete', async () => {
    const created = await conn.sobject('Division').create({ Name: 'Acme' });
    expect(created.id).toMatch(/^02d/);
    expect(((await conn.sobject('Division').retrieve(created.id!)) as Row).IsActive).toBe(false);
    expect((await rejection(conn.sobject('Division').create({ IsActive: true }))).errorCode).toBe(
      'REQUIRED_FIELD_MISSING',
    );
    expect((await rejection(conn.sobject('Division').create({ Name: 'n'.repeat(81) }))).errorCode).toBe(
      'STRING_TOO_LONG',
    );
    const refused = await rejection(conn.sobject('Division').destroy(created.id!));
    expect(refused.errorCode).toBe('METHOD_NOT_ALLOWED');
    expect(lastStatus('DELETE', created.id!)).toBe(405);
    const viaCollection = await conn.sobject('Division').destroy([created.id!]);
    expect(viaCollection[0]).toMatchObject({
      success: false,
      errors: [expect.objectContaining({ statusCode: 'INVALID_TYPE_FOR_OPERATION' })],
    });
    await conn.sobject('Division').update({ Id: created.id!, IsActive: true });
    expect(((await conn.sobject('Division').retrieve(created.id!)) as Row).IsActive).toBe(true);
  });

  it('runs sObject Collections: results in request order, allOrNone, at most 200 records', async () => {
    const task = conn.sobject('Task');
    const mixed = await task.create([{ Subject: 'ok 1' }, { Status: 'Bogus' }, { Subject: 'ok 2' }]);
    expect(mixed.map((r) => r.success)).toEqual([true, false, true]);
    expect(mixed[1]).toMatchObject({
      errors: [
        expect.objectContaining({
          statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          fields: ['Status'],
        }),
      ],
    });

    const before = (await conn.query('SELECT COUNT() FROM Task')).totalSize;
    const atomic = await task.create([{ Subject: 'a' }, { Subject: 'x'.repeat(300) }], { allOrNone: true });
    expect(atomic.map((r) => r.success)).toEqual([false, false]);
    expect(atomic[0]).toMatchObject({
      errors: [expect.objectContaining({ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' })],
    });
    expect((await conn.query('SELECT COUNT() FROM Task')).totalSize).toBe(before);

    const ids = mixed.filter((r) => r.success).map((r) => r.id);
    const updated = await task.update(ids.map((Id, i) => ({ Id, Subject: `renamed ${i}` })));
    expect(updated.map((r) => r.id)).toEqual(ids);
    const upserted = await task.upsert(
      [
        { Custompms_Id__c: 'col-1', Subject: 'new' },
        { Custompms_Id__c: 'col-2', Subject: 'new' },
        { Custompms_Id__c: 'col-1', Subject: 'dup' },
      ],
      'Custompms_Id__c',
    );
    expect(upserted.map((r) => r.success)).toEqual([false, true, false]);
    expect(upserted[0]).toMatchObject({
      errors: [expect.objectContaining({ statusCode: 'DUPLICATE_EXTERNAL_ID' })],
    });

    const tooMany = await rejection(
      task.create(Array.from({ length: 201 }, (_, i) => ({ Subject: `t${i}` }))),
    );
    expect(tooMany.errorCode).toBe('EXCEEDED_ID_LIMIT');
    const removed = await task.destroy([...ids, '00T000000000000AAA']);
    expect(removed.map((r) => r.success)).toEqual([true, true, false]);
  });

  it('pages query results through nextRecordsUrl (2,000 per page by default)', async () => {
    const rows = Array.from({ length: 2_450 }, (_, i) => ({
      Subject: `page-${String(i).padStart(5, '0')}`,
      Custompms_Type__c: 'Project',
    }));
    for (let i = 0; i < rows.length; i += 200) await conn.sobject('Task').create(rows.slice(i, i + 200));
    const soql = "SELECT Id, Subject FROM Task WHERE Subject LIKE 'page-%' ORDER BY Subject DESC";
    const first = await conn.query<{ Subject: string }>(soql, { autoFetch: false });
    expect(first).toMatchObject({ totalSize: 2_450, done: false });
    expect(first.records).toHaveLength(2_000);
    expect(first.records[0]!.Subject).toBe('page-02449');
    // jsforce makes the URL absolute; the org sends the path.
    expect(new URL(first.nextRecordsUrl!).pathname).toMatch(
      /^\/services\/data\/v65\.0\/query\/01g[A-Za-z0-9]{15}-2000$/,
    );
    const second = await conn.queryMore<{ Subject: string }>(first.nextRecordsUrl!);
    expect(second).toMatchObject({ totalSize: 2_450, done: true });
    expect(second.records.map((r) => r.Subject)).toEqual(
      rows
        .map((r) => r.Subject)
        .sort()
        .reverse()
        .slice(2_000),
    );
    const all = await conn.query(soql, { autoFetch: true, maxFetch: 10_000 });
    expect(all.records).toHaveLength(2_450);
    const stale = await rejection(conn.queryMore(first.nextRecordsUrl!));
    expect(stale.errorCode).toBe('INVALID_QUERY_LOCATOR');
  });

  it('answers the SOQL subset: relationships, filters, order, limit; MALFORMED_QUERY on bad input', async () => {
    const admin = connect(emulator, emulator.adminUsername);
    await admin.sobject('Task').create([
      { Subject: 'soql A', Priority: 'High', ActivityDate: '2026-01-10' },
      { Subject: 'soql B', Priority: 'Low', ActivityDate: '2026-03-10' },
      { Subject: 'soql C', Priority: 'High' },
    ]);
    const result = await conn.query<Row>(
      "SELECT Subject, Owner.Email, Owner.Name FROM Task WHERE Subject LIKE 'soql%' AND (Priority = 'High' OR ActivityDate > 2026-02-01) ORDER BY ActivityDate DESC NULLS LAST LIMIT 2",
    );
    expect(result.records.map((r) => r.Subject)).toEqual(['soql B', 'soql A']);
    expect(result.records[0]).toMatchObject({
      attributes: { type: 'Task' },
      Owner: { attributes: { type: 'User' }, Email: 'admin@custompms.example', Name: 'Ada Admin' },
    });
    const byOwner = await conn.query(
      "SELECT Id FROM Task WHERE Owner.Email = 'ADMIN@custompms.example' AND Subject IN ('soql A', 'soql C') AND ActivityDate = null",
    );
    expect(byOwner.totalSize).toBe(1);

    const malformed = await rejection(
      conn.query("SELECT Id FROM Task WHERE Subject = 'a' AND Priority = 'High' OR IsClosed = true"),
    );
    expect(malformed.errorCode).toBe('MALFORMED_QUERY');
    expect(malformed.message).toContain('ERROR at Row:1:Column:');
    expect((await rejection(conn.query('SELECT Idd FROM Task'))).errorCode).toBe('INVALID_FIELD');
    expect((await rejection(conn.query('SELECT Id FROM Tasks'))).errorCode).toBe('INVALID_TYPE');
    expect(
      (await rejection(conn.query("SELECT Id FROM Task WHERE ActivityDate = '2026-01-01'"))).errorCode,
    ).toBe('INVALID_QUERY_FILTER_OPERATOR');
    expect((await rejection(conn.query('SELECT Id FROM Custompms_Change__e'))).errorCode).toBe(
      'INVALID_TYPE',
    );
  });

  it('lists updated and deleted records with latestDateCovered', async () => {
    const startIso = new Date(clock.now() - 60_000).toISOString();
    const created = await conn.sobject('Task').create([{ Subject: 'repl 1' }, { Subject: 'repl 2' }]);
    const [keep, drop] = created.map((r) => r.id!);
    await conn.sobject('Task').destroy(drop!);
    clock.advance(120_000);
    const endIso = new Date(clock.now()).toISOString();
    const updated = await conn.sobject('Task').updated(startIso, endIso);
    expect(updated.ids).toContain(keep);
    expect(updated.ids).not.toContain(drop);
    expect(updated.latestDateCovered).toMatch(/:00\.000\+0000$/);
    const deleted = await conn.sobject('Task').deleted(startIso, endIso);
    expect(deleted.deletedRecords).toContainEqual({
      id: drop,
      deletedDate: expect.stringMatching(/\.000\+0000$/),
    });
    expect(deleted.deletedRecords.map((r) => r.id)).not.toContain(keep);
    expect(deleted).toHaveProperty('earliestDateAvailable');
    const tooOld = await rejection(
      conn.sobject('Task').updated(new Date(clock.now() - 31 * 86_400_000).toISOString(), endIso),
    );
    expect(tooOld.errorCode).toBe('INVALID_REPLICATION_DATE');
  });

  it('counts API calls in Sforce-Limit-Info and refuses calls once the allowance is spent', async () => {
    const limited = await startSalesforceEmulator({
      deployForceApp: true,
      limits: { dailyApiRequests: 3, dailyBulkApiBatches: 10, hourlyPublishedPlatformEvents: 10 },
    });
    try {
      const c = connect(limited);
      await c.query('SELECT Id FROM Task');
      expect(c.limitInfo.apiUsage).toEqual({ used: 1, limit: 3 });
      const limits = await c.limits();
      expect(limits.DailyApiRequests).toEqual({ Max: 3, Remaining: 1 });
      await c.sobject('Task').create({ Subject: 'last one' });
      const refused = await rejection(c.query('SELECT Id FROM Task'));
      expect(refused.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
      expect(limited.apiUsage()).toMatchObject({
        used: 3,
        max: 3,
        byCategory: { query: 1, limits: 1, sobjects: 1 },
      });
    } finally {
      await limited.close();
    }
  });

  it('injects faults per route: 503, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED and latency', async () => {
    const faults = emulator.org.faults;
    faults.failNext('query', 'unavailable');
    expect((await rejection(conn.query('SELECT Id FROM Task LIMIT 1'))).errorCode).toBe('ERROR_HTTP_503');
    await expect(conn.query('SELECT Id FROM Task LIMIT 1')).resolves.toBeDefined();

    faults.failNext('composite', 'lockRow', 1);
    const results = await conn.sobject('Task').create([{ Subject: 'lock 1' }, { Subject: 'lock 2' }]);
    expect(results[0]).toMatchObject({
      success: false,
      errors: [expect.objectContaining({ statusCode: 'UNABLE_TO_LOCK_ROW' })],
    });
    expect(results[1]!.success).toBe(true);

    faults.failNext('sobjects', 'requestLimit');
    expect((await rejection(conn.sobject('Task').create({ Subject: 'x' }))).errorCode).toBe(
      'REQUEST_LIMIT_EXCEEDED',
    );

    faults.set([{ route: 'describe', latencyMs: 150 }]);
    const started = Date.now();
    await conn.describe('Division');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    faults.set([{ route: /^GET \/query/, unavailableRate: 1 }]);
    expect((await rejection(conn.query('SELECT Id FROM Task LIMIT 1'))).errorCode).toBe('ERROR_HTTP_503');
    await expect(conn.sobject('Task').create({ Subject: 'still fine' })).resolves.toMatchObject({
      success: true,
    });
  });

  it('publishes platform events through REST, reporting the enqueued publish', async () => {
    const result = await conn
      .sobject('Custompms_Change__e')
      .create({ Batch_Id__c: 'b_1', Record_Count__c: 3 });
    expect(result).toMatchObject({
      success: true,
      errors: [{ statusCode: 'OPERATION_ENQUEUED', message: expect.stringMatching(/^[0-9a-f-]{36}$/) }],
    });
    expect(result.id).toMatch(/^e0/);
    expect(emulator.org.published('Custompms_Change__e').map((e) => e.record.Batch_Id__c)).toContain('b_1');
    expect(
      (await rejection(conn.sobject('Custompms_Change__e').create({ Record_Count__c: 1 }))).errorCode,
    ).toBe('REQUIRED_FIELD_MISSING');
    const many = await conn
      .sobject('Custompms_Change__e')
      .create(Array.from({ length: 3 }, (_, i) => ({ Batch_Id__c: `b_m${i}` })));
    expect(many.every((r) => r.success)).toBe(true);
  });
});
