/**
 * The Apex side of CONTRACT.md, run by the emulator's transliterations of the force-app classes:
 * Custompms_Change__e → CustompmsPullJob (GET the batch with the Named Credential's bearer header,
 * Divisions then Tasks in separate transactions, POST per-record results); Task delete/undelete →
 * Custompms_Task_Deletion__e → CustompmsDeletionJob → POST /task-deletions. The fake proxy here is
 * a plain HTTP server recording what the org sends.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from 'jsforce';
import {
  connect,
  startReceiver,
  waitFor,
  type ReceivedRequest,
  type Receiver,
  fullAccessUser,
} from './helpers';
import { DEFAULT_FORCE_APP } from './org';
import { STANDARD_USER } from './security/profiles';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';

const API_KEY = 'k'.repeat(40);

describe('Apex side of the contract (transliterated force-app classes)', () => {
  let emulator: SalesforceEmulator;
  let proxy: Receiver;
  let conn: Connection;
  let batches: Record<string, { status: number; body?: unknown }>;

  beforeAll(async () => {
    proxy = await startReceiver();
    emulator = await startSalesforceEmulator({
      deployForceApp: true,
      apex: { msPerDelayMinute: 20, jobStartDelayMs: 0, triggers: 'deployed' },
    });
    emulator.org.setProxy({ url: proxy.url, apiKey: API_KEY });
    conn = connect(emulator);
  });

  afterAll(async () => {
    await emulator.close();
    await proxy.close();
  });

  beforeEach(() => {
    proxy.requests.length = 0;
    batches = {};
    proxy.handler = (request, res) => {
      const batch = /^\/salesforce\/v1\/change-batches\/([^/]+)$/.exec(request.url);
      if (request.method === 'GET' && batch) {
        const answer = batches[decodeURIComponent(batch[1]!)] ?? { status: 404 };
        res
          .writeHead(answer.status, { 'content-type': 'application/json' })
          .end(answer.body ? JSON.stringify(answer.body) : '');
        return;
      }
      res.writeHead(request.url.endsWith('/results') ? 204 : 202).end();
    };
  });

  const posts = (suffix: string): ReceivedRequest[] =>
    proxy.requests.filter((r) => r.method === 'POST' && r.url.endsWith(suffix));

  it('pulls a batch: GET with the bearer key, Divisions then Tasks in their own transactions, results POSTed', async () => {
    batches.b_1 = {
      status: 200,
      body: {
        batchId: 'b_1',
        divisions: [{ key: 'cust-1', record: { Name: 'Acme Corp', IsActive: true } }],
        tasks: [
          {
            key: 'proj-1',
            record: {
              Custompms_Type__c: 'Project',
              Subject: 'Launch',
              Status: 'In Progress',
              ActivityDate: '2026-12-24',
            },
          },
          { key: 'task-9', record: { Custompms_Type__c: 'Task', Subject: 'Bad status', Status: 'Nope' } },
          { key: 'task-10', record: { Custompms_Type__c: 'Task', Unknown__c: 'x' } },
        ],
      },
    };
    const jobsBefore = emulator.org.apex.jobs.length;
    const [published] = await conn
      .sobject('Custompms_Change__e')
      .create([{ Batch_Id__c: 'b_1', Record_Count__c: 4 }]);
    expect(published!.success).toBe(true);
    await emulator.org.settle();

    const get = proxy.requests.find((r) => r.method === 'GET');
    expect(get).toMatchObject({ url: '/salesforce/v1/change-batches/b_1' });
    expect(get!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(get!.headers.accept).toBe('application/json');

    const jobs = emulator.org.apex.jobs.slice(jobsBefore);
    expect(jobs.map((j) => [j.ApexClassName, j.Status, j.StackDepth])).toEqual([
      ['CustompmsPullJob', 'Completed', 1],
      ['CustompmsPullJob', 'Completed', 2],
      ['CustompmsPullJob', 'Completed', 3],
    ]);
    expect(jobs[0]!.MaximumStackDepth).toBe(4);

    const [report] = posts('/change-batches/b_1/results');
    expect(report!.headers['content-type']).toBe('application/json');
    const { results } = JSON.parse(report!.body) as { results: Record<string, unknown>[] };
    const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
    expect(byKey['cust-1']).toMatchObject({
      kind: 'division',
      success: true,
      created: true,
      salesforceId: expect.stringMatching(/^02d/),
    });
    expect(byKey['proj-1']).toMatchObject({
      kind: 'task',
      success: true,
      created: true,
      salesforceId: expect.stringMatching(/^00T/),
    });
    expect(byKey['task-9']).toMatchObject({
      success: false,
      errors: [
        {
          statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          message: expect.any(String),
          fields: ['Status'],
        },
      ],
    });
    expect(byKey['task-10']).toMatchObject({
      success: false,
      errors: [{ statusCode: 'INVALID_FIELD', fields: ['Unknown__c'] }],
    });
    expect(byKey['task-10']).not.toHaveProperty('salesforceId');
    // A written Task reports its SystemModstamp (as Apex serialises a Datetime); a failure and a
    // Division report none (null, left out of the JSON).
    for (const key of ['cust-1', 'task-9', 'task-10']) {
      expect(byKey[key]).not.toHaveProperty('systemModstamp');
    }

    const task = await conn.sobject('Task').retrieve(String(byKey['proj-1']!.salesforceId));
    expect(task).toMatchObject({
      Custompms_Id__c: 'proj-1',
      Subject: 'Launch',
      ActivityDate: '2026-12-24',
      LastModifiedById: emulator.org.integrationUserId,
    });
    expect(byKey['proj-1']!.systemModstamp).toBe(new Date(String(task.SystemModstamp)).toISOString());
    expect(byKey['proj-1']!.systemModstamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    const division = await conn.sobject('Division').retrieve(String(byKey['cust-1']!.salesforceId));
    expect(division).toMatchObject({ Name: 'Acme Corp', IsActive: true });
    // Written by the integration user (subscriber config), so the Flow sends no outbound message.
    expect(emulator.org.outbound.queue.filter((n) => n.recordId === task.Id)).toHaveLength(0);
  });

  it('updates on a second pull, skips batches the proxy no longer has, and spreads several batches over jobs', async () => {
    batches.b_2 = {
      status: 200,
      body: { batchId: 'b_2', divisions: [], tasks: [{ key: 'proj-1', record: { Subject: 'Launch v2' } }] },
    };
    batches.b_gone = { status: 410, body: { title: 'Gone', detail: 'superseded by b_3' } };
    batches.b_3 = {
      status: 200,
      body: {
        batchId: 'b_3',
        tasks: [{ key: 'proj-3', record: { Custompms_Type__c: 'Project', Subject: 'Third' } }],
      },
    };
    const jobsBefore = emulator.org.apex.jobs.length;
    await conn
      .sobject('Custompms_Change__e')
      .create([
        { Batch_Id__c: 'b_2' },
        { Batch_Id__c: 'b_gone' },
        { Batch_Id__c: 'b_3' },
        { Batch_Id__c: 'b_2' },
      ]);
    await emulator.org.settle();

    const b2 = JSON.parse(posts('/change-batches/b_2/results')[0]!.body) as {
      results: Record<string, unknown>[];
    };
    expect(b2.results).toEqual([expect.objectContaining({ key: 'proj-1', success: true, created: false })]);
    expect(posts('/change-batches/b_gone/results')).toHaveLength(0);
    expect(posts('/change-batches/b_3/results')).toHaveLength(1);
    const gets = proxy.requests.filter((r) => r.method === 'GET').map((r) => r.url);
    expect(gets.sort()).toEqual([
      '/salesforce/v1/change-batches/b_2',
      '/salesforce/v1/change-batches/b_3',
      '/salesforce/v1/change-batches/b_gone',
    ]);
    // Duplicate batch ids are fetched once; a batch without Divisions needs two transactions.
    const jobs = emulator.org.apex.jobs.slice(jobsBefore);
    expect(jobs.filter((j) => j.StackDepth === 1)).toHaveLength(3);
    expect(jobs.every((j) => j.Status === 'Completed')).toBe(true);
    expect(
      emulator.org.apex.debug.some((d) => d.level === 'INFO' && d.message.includes('b_gone skipped')),
    ).toBe(true);
    const renamed = await conn.query<{ Subject: string }>(
      "SELECT Subject FROM Task WHERE Custompms_Id__c = 'proj-1'",
    );
    expect(renamed.records[0]!.Subject).toBe('Launch v2');
  });

  it('reports the SystemModstamp of a Task the integration user cannot see: read in system mode, as it was written', async () => {
    const username = 'private-owner@emulator.test';
    const owner = emulator.org.users.create({
      username,
      email: username,
      lastName: 'Owner',
      profile: STANDARD_USER,
    });
    const created = await connect(emulator, fullAccessUser(emulator)).sobject('Task').create({
      Subject: 'Private',
      Custompms_Type__c: 'Task',
      Custompms_Id__c: 'private-1',
      OwnerId: owner.Id,
    });
    const before = emulator.org.db.findById(created.id!)!;
    expect(
      emulator.org.users.access(emulator.org.integrationUserId).canSee(before.object, before.record),
    ).toBe(false);
    batches.b_private = {
      status: 200,
      body: {
        batchId: 'b_private',
        tasks: [{ key: 'private-1', record: { Subject: 'Renamed in Custompms' } }],
      },
    };
    await conn.sobject('Custompms_Change__e').create([{ Batch_Id__c: 'b_private' }]);
    await emulator.org.settle();

    const saved = emulator.org.db.findById(created.id!)!.record;
    expect(saved.Subject).toBe('Renamed in Custompms');
    const { results } = JSON.parse(posts('/change-batches/b_private/results')[0]!.body) as {
      results: Record<string, unknown>[];
    };
    expect(results).toEqual([
      {
        kind: 'task',
        key: 'private-1',
        success: true,
        salesforceId: created.id,
        created: false,
        systemModstamp: new Date(saved.SystemModstamp as number).toISOString(),
        errors: [],
      },
    ]);
  });

  it('reports a Task delete and undelete by a user without the bypass, once per event', async () => {
    const admin = connect(emulator, fullAccessUser(emulator));
    const synced = await admin
      .sobject('Task')
      .create({ Subject: 'to delete', Custompms_Type__c: 'Task', Custompms_Id__c: 'del-1' });
    const unsynced = await admin.sobject('Task').create({ Subject: 'local only' });
    await admin.sobject('Task').destroy([synced.id!, unsynced.id!]);
    await emulator.org.settle();
    const [deleted] = posts('/task-deletions');
    expect(deleted!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    const body = JSON.parse(deleted!.body) as { events: Record<string, unknown>[] };
    expect(body.events).toEqual([
      {
        taskId: synced.id,
        custompmsId: 'del-1',
        operation: 'delete',
        eventUuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    ]);

    emulator.org.transaction(emulator.adminUsername, (tx) => tx.undelete([synced.id!]));
    await emulator.org.settle();
    const undeleted = JSON.parse(posts('/task-deletions')[1]!.body) as { events: Record<string, unknown>[] };
    expect(undeleted.events).toEqual([expect.objectContaining({ taskId: synced.id, operation: 'undelete' })]);
    expect(undeleted.events[0]!.eventUuid).not.toBe(body.events[0]!.eventUuid);

    // Deletes by a user with the bypass (as the integration user has it) are not echoed.
    const published = emulator.org.published('Custompms_Task_Deletion__e').length;
    await connect(emulator, fullAccessUser(emulator, { bypass: true }))
      .sobject('Task')
      .destroy(synced.id!);
    await emulator.org.settle();
    expect(emulator.org.published('Custompms_Task_Deletion__e')).toHaveLength(published);
    expect(posts('/task-deletions')).toHaveLength(2);
  });

  it('retries a deletion report after a 503 with a delay, and fails the job on a 400', async () => {
    let calls = 0;
    proxy.handler = (_request, res) => {
      calls += 1;
      res.writeHead(calls === 1 ? 503 : 202).end();
    };
    const admin = connect(emulator, fullAccessUser(emulator));
    const a = await admin.sobject('Task').create({ Subject: 'retry me', Custompms_Type__c: 'Project' });
    const jobsBefore = emulator.org.apex.jobs.length;
    await admin.sobject('Task').destroy(a.id!);
    await waitFor(() => calls >= 2);
    await emulator.org.settle();
    const jobs = emulator.org.apex.jobs.slice(jobsBefore);
    expect(jobs.map((j) => [j.ApexClassName, j.Status])).toEqual([
      ['CustompmsDeletionJob', 'Completed'],
      ['CustompmsDeletionJob', 'Completed'],
    ]);
    expect(jobs[1]!.CreatedDate - jobs[0]!.CreatedDate).toBeGreaterThanOrEqual(0);

    proxy.handler = (_request, res) => {
      res
        .writeHead(400, { 'content-type': 'application/problem+json' })
        .end(JSON.stringify({ title: 'Bad Request', detail: 'events[0].operation invalid' }));
    };
    const b = await admin.sobject('Task').create({ Subject: 'refused', Custompms_Type__c: 'Project' });
    const before = emulator.org.apex.jobs.length;
    await admin.sobject('Task').destroy(b.id!);
    await emulator.org.settle();
    const failed = emulator.org.apex.jobs.slice(before);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ Status: 'Failed' });
    expect(failed[0]!.ExtendedStatus).toBe(
      'CustompmsProxyException: POST /salesforce/v1/task-deletions answered 400: events[0].operation invalid',
    );
  });

  it('refuses the callout when the running user has no access to the External Credential principal', async () => {
    emulator.org.users.assignPermissionSet(emulator.org.integrationUserId, 'Custompms_Integration', false);
    try {
      batches.b_noaccess = { status: 200, body: { batchId: 'b_noaccess', tasks: [] } };
      await conn.sobject('Custompms_Change__e').create({ Batch_Id__c: 'b_noaccess' });
      await emulator.org.settle();
      expect(proxy.requests).toHaveLength(0);
      expect(
        emulator.org.apex.debug.some((d) => d.message.includes("We couldn't access the credential(s)")),
      ).toBe(true);
    } finally {
      emulator.org.users.assignPermissionSet(emulator.org.integrationUserId, 'Custompms_Integration', true);
    }
  });

  it('keeps each transliteration beside its Apex class: same class, every Apex method present', () => {
    const classesDir = path.join(DEFAULT_FORCE_APP, 'classes');
    const apexClasses = readdirSync(classesDir)
      .filter((f) => f.endsWith('.cls') && !f.endsWith('_Tests.cls'))
      .map((f) => f.replace(/\.cls$/, ''))
      .filter((name) => !['CustompmsHttpMock', 'CustompmsTestFactory'].includes(name));
    expect(apexClasses.length).toBeGreaterThanOrEqual(7);
    for (const name of apexClasses) {
      const ts = readFileSync(path.join(__dirname, 'apex', `${name}.ts`), 'utf8');
      expect(ts).toContain(`Mirrors force-app/main/default/classes/${name}.cls`);
      const apex = readFileSync(path.join(classesDir, `${name}.cls`), 'utf8');
      const methods = [
        ...apex.matchAll(
          /^\s*(?:@\w+\s+)*(?:public|private|protected|global)\s+(?:static\s+)?(?:virtual\s+|override\s+)?[\w<>,.\s]+?\s+(\w+)\s*\(/gm,
        ),
      ]
        .map((m) => m[1]!)
        .filter((m) => m !== name);
      for (const method of new Set(methods)) {
        expect({ name, method, present: new RegExp(`\\b${method}\\s*[(<]`).test(ts) }).toEqual({
          name,
          method,
          present: true,
        });
      }
    }
  });
});
