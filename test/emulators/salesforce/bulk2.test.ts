/**
 * Bulk API 2.0 ingest through jsforce's bulk2 client: insert, update, upsert and delete jobs, CSV
 * results (successful, failed with `sf__Error`, unprocessed), `#N/A` nulls, job failures, and the
 * API calls the job costs.
 */
import type { Connection } from 'jsforce';
import { eventually } from '../../support/eventually';
import { connect, rejection, fullAccessUser } from './helpers';
import { LATENCY_PROFILES } from './latency';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';

describe('Bulk API 2.0 ingest (jsforce bulk2)', () => {
  let emulator: SalesforceEmulator;
  let conn: Connection;
  const poll = { pollInterval: 15, pollTimeout: 20_000 };

  beforeAll(async () => {
    emulator = await startSalesforceEmulator({ bulkProcessingDelayMs: 30, deployForceApp: true });
    conn = connect(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('inserts 12,000 Tasks in two batches, reporting failed rows with sf__Error and counting API calls', async () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => ({
      Subject: `bulk ${i}`,
      Custompms_Id__c: `bk-${i}`,
      Custompms_Type__c: 'Task',
      Status: i === 7 ? 'Finished' : 'In Progress',
      ActivityDate: i === 8 ? '2026-02-30' : '2026-12-01',
    }));
    const before = emulator.apiUsage();
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Task',
      operation: 'insert',
      input: rows,
      ...poll,
    });
    expect(results.successfulResults).toHaveLength(11_998);
    expect(results.failedResults).toHaveLength(2);
    expect(results.unprocessedRecords).toHaveLength(0);
    const failed = Object.fromEntries(
      results.failedResults.map((r) => [(r as Record<string, unknown>).Custompms_Id__c, r.sf__Error]),
    );
    expect(failed['bk-7']).toBe(
      'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Status: bad value for restricted picklist field: Finished:Status --',
    );
    expect(failed['bk-8']).toBe(
      "INVALID_FIELD:Failed to deserialize field at col 5. Due to, '2026-02-30' is not a valid value for the type xsd:date:ActivityDate --",
    );
    expect(results.successfulResults[0]).toMatchObject({
      sf__Id: expect.stringMatching(/^00T/),
      sf__Created: 'true',
      Subject: 'bulk 0',
    });
    const after = emulator.apiUsage();
    expect(after.bulkBatches - before.bulkBatches).toBe(2);
    // create + upload + close + at least one poll + three result downloads, all counted.
    expect((after.byCategory.bulk2 ?? 0) - (before.byCategory.bulk2 ?? 0)).toBeGreaterThanOrEqual(7);
    expect((await conn.query("SELECT COUNT() FROM Task WHERE Subject LIKE 'bulk %'")).totalSize).toBe(11_998);
  });

  it('updates, upserts and deletes; empty values leave fields alone and #N/A clears them', async () => {
    const seeded = await conn.sobject('Task').create([
      { Subject: 'u1', Description: 'keep me', Custompms_Id__c: 'up-1' },
      { Subject: 'u2', Description: 'clear me', Custompms_Id__c: 'up-2' },
    ]);
    const [id1, id2] = seeded.map((r) => r.id!);
    const csv = `Id,Subject,Description\n${id1},u1 renamed,\n${id2},,#N/A\n`;
    const update = await conn.bulk2.loadAndWaitForResults({
      object: 'Task',
      operation: 'update',
      input: csv,
      ...poll,
    });
    expect(update.successfulResults.map((r) => r.sf__Id)).toEqual([id1, id2]);
    const rows = await conn.sobject('Task').retrieve([id1!, id2!]);
    expect(rows.map((r) => [r.Subject, r.Description])).toEqual([
      ['u1 renamed', 'keep me'],
      ['u2', null],
    ]);

    const upsert = await conn.bulk2.loadAndWaitForResults({
      object: 'Task',
      operation: 'upsert',
      externalIdFieldName: 'Custompms_Id__c',
      input: [
        { Custompms_Id__c: 'up-1', Subject: 'u1 upserted' },
        { Custompms_Id__c: 'up-3', Subject: 'u3 new' },
      ],
      ...poll,
    });
    expect(
      upsert.successfulResults.map((r) => [(r as Record<string, unknown>).Custompms_Id__c, r.sf__Created]),
    ).toEqual([
      ['up-1', 'false'],
      ['up-3', 'true'],
    ]);

    const del = await conn.bulk2.loadAndWaitForResults({
      object: 'Task',
      operation: 'delete',
      input: [{ Id: id1 }, { Id: id1 }],
      ...poll,
    });
    expect(del.successfulResults.map((r) => r.sf__Id)).toEqual([id1]);
    expect(del.failedResults[0]).toMatchObject({
      sf__Id: id1,
      sf__Error: 'ENTITY_IS_DELETED:entity is deleted: --',
    });
  });

  it('writes result CSVs with quoted headers, and fails a job whose header names an unknown field', async () => {
    const job = conn.bulk2.createJob({ object: 'Division', operation: 'insert' });
    await job.open();
    await job.uploadData('Name,IsActive\nNorth,true\nSouth,false\n');
    await job.close();
    await job.poll(15, 10_000);
    const raw = await job.getSuccessfulResults(true);
    expect(raw.split('\n')[0]).toBe('"sf__Id","sf__Created","Name","IsActive"');
    expect(raw).toMatch(/\n"02d[A-Za-z0-9]{15}","true","North","true"\n/);
    const info = await job.check();
    expect(info).toMatchObject({
      state: 'JobComplete',
      numberRecordsProcessed: 2,
      numberRecordsFailed: 0,
      object: 'Division',
    });

    const bad = conn.bulk2.createJob({ object: 'Task', operation: 'insert' });
    await bad.open();
    await bad.uploadData('Subject,Bogus__c\nx,y\n');
    await bad.close();
    const error = await rejection(bad.poll(15, 10_000));
    expect(error.message).toContain('InvalidBatch : Field name not found : Bogus__c');
    const unprocessed = await bad.getUnprocessedRecords(true);
    expect(unprocessed).toBe('"Subject","Bogus__c"\n"x","y"\n');
  });

  it('fires the outbound-message Flow for rows loaded by a user without the bypass', async () => {
    const admin = connect(emulator, fullAccessUser(emulator));
    const queued = emulator.org.outbound.queue.length + emulator.org.outbound.attempts.length;
    await admin.bulk2.loadAndWaitForResults({
      object: 'Task',
      operation: 'insert',
      input: [
        { Subject: 'bulk synced', Custompms_Type__c: 'Task' },
        { Subject: 'bulk local', Custompms_Type__c: '' },
      ],
      ...poll,
    });
    const notifications = emulator.org.outbound.queue.length + emulator.org.outbound.attempts.length - queued;
    expect(notifications).toBeGreaterThanOrEqual(1);
    const queuedIds = new Set([
      ...emulator.org.outbound.queue.map((n) => n.recordId),
      ...emulator.org.outbound.attempts.flatMap((a) => a.recordIds),
    ]);
    const local = await conn.query<{ Id: string }>("SELECT Id FROM Task WHERE Subject = 'bulk local'");
    expect(queuedIds.has(local.records[0]!.Id)).toBe(false);
  });
});

describe('Bulk API 2.0 ingest timing (latency profile)', () => {
  let emulator: SalesforceEmulator;
  let conn: Connection;
  const rate = 4_000;

  beforeAll(async () => {
    emulator = await startSalesforceEmulator({
      deployForceApp: true,
      latency: { ...LATENCY_PROFILES.zero, name: 'bulk-only', bulk: { queueMs: 50, recordsPerSecond: rate } },
    });
    conn = connect(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  /** Closes jobs of `sizes` records at once; the ms from close to each one's JobComplete. */
  async function load(prefix: string, sizes: number[]): Promise<number[]> {
    const jobs = await Promise.all(
      sizes.map(async (size, j) => {
        const job = conn.bulk2.createJob({ object: 'Task', operation: 'insert' });
        await job.open();
        const rows = Array.from({ length: size }, (_, i) => `${prefix} ${j}-${i},Task`);
        await job.uploadData(`Subject,Custompms_Type__c\n${rows.join('\n')}\n`);
        return job;
      }),
    );
    const started = performance.now();
    await Promise.all(jobs.map((job) => job.close()));
    return Promise.all(
      jobs.map(async (job) => {
        await job.poll(10, 20_000);
        return performance.now() - started;
      }),
    );
  }

  it('shares one ingest rate between the jobs processed at once: two jobs take as long as one twice the size', async () => {
    const [alone] = await load('timing alone', [2_000]);
    // 50 ms queued, then 2,000 records at 4,000/s.
    expect(alone).toBeGreaterThanOrEqual(50 + 500 - 20);
    const both = await load('timing shared', [2_000, 2_000]);
    // Each at half the rate: neither is done before 4,000 records' worth of time.
    for (const ms of both) expect(ms).toBeGreaterThanOrEqual(50 + 1_000 - 20);
  });

  it('shows jobs InProgress while their records are processed; aborted ones leave their share', async () => {
    const jobs = await Promise.all(
      [0, 1, 2].map(async (j) => {
        const job = conn.bulk2.createJob({ object: 'Task', operation: 'insert' });
        await job.open();
        const rows = Array.from({ length: 4_000 }, (_, i) => `timing abort ${j}-${i},Task`);
        await job.uploadData(`Subject,Custompms_Type__c\n${rows.join('\n')}\n`);
        await job.close();
        return job;
      }),
    );
    // Past their queue time, all three are processed at once (12,000 records take ~3 s).
    await eventually(
      async () =>
        (await Promise.all(jobs.map((job) => job.check()))).every((info) => info.state === 'InProgress'),
      'all three jobs InProgress at once',
    );
    for (const job of jobs) await job.abort();
    // Alone: 50 ms + 250 ms; beside three jobs still holding their shares it would take 1,050 ms.
    const [after] = await load('timing after abort', [1_000]);
    expect(after).toBeLessThan(800);
    for (const job of jobs) expect((await job.check()).state).toBe('Aborted');
    expect((await conn.query("SELECT COUNT() FROM Task WHERE Subject LIKE 'timing abort %'")).totalSize).toBe(
      0,
    );
  });
});
