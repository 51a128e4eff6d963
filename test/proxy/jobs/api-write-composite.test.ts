/**
 * The api write path writes a change batch in ONE Composite call (jobs/batches.ts `writeDirectly`,
 * write/salesforce.ts `writeBatchInOneCall`): its sObject Collections writes and the read-back of
 * the written Tasks' SystemModstamp, against the emulated org — one API call for the batch, the
 * links carrying each Task's SystemModstamp, per-record failures recorded as before, and a call
 * (or a subrequest) that fails as a whole handled as a failed Collections call was.
 */
import { loadConfig } from '../../../proxy/src/config';
import { flushOutbox, republishOverdue } from '../../../proxy/src/jobs/batches';
import { createSyncDeps, type SyncDeps } from '../../../proxy/src/jobs/deps';
import { refreshOrgMapping } from '../../../proxy/src/jobs/org-mapping';
import { putOutboxItem } from '../../../proxy/src/store/batches';
import { parseJsonRecord } from '../../emulators/salesforce/data/values';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import type { RequestLogEntry } from '../../emulators/salesforce/org';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';
import { pendingWrite } from '../../support/pending-write';

jest.setTimeout(60_000);

describe('api write path: one Composite call per change batch', () => {
  let db: TestDatabase;
  let sf: SalesforceEmulator;
  let deps: SyncDeps;
  let run = 0;

  beforeAll(async () => {
    sf = await startSalesforceEmulator({
      deployForceApp: true,
      integrationUserSystemPermissions: ['ViewAllData', 'ModifyAllData'],
    });
  });
  afterAll(async () => {
    await sf.close();
  });
  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
    deps = createSyncDeps(
      loadConfig({ ...sf.proxyEnv(), SALESFORCE_WRITE_PATH: 'api' }),
      db.pool,
      captureLogs('error').logger,
    );
    // Read once per process, then every few minutes (the org mapping, the users directory and
    // whether the org has divisions, all cached): not a batch's cost.
    await refreshOrgMapping(deps);
    const salesforce = await deps.salesforce();
    await salesforce.org.hasDivisions();
    await salesforce.org.listUsers();
  });
  afterEach(async () => {
    sf.org.faults.clear();
    deps.abortCalls(new Error('test over'));
    await db.drop();
  });

  const putTask = (id: string, subject = `Task ${id}`) =>
    putOutboxItem(db.pool, {
      flow: 'tasks',
      custompmsId: id,
      kind: 'task',
      record: {
        Subject: subject,
        Custompms_Id__c: id,
        Custompms_Sync_Status__c: 'Synced',
        Custompms_Sync_Error__c: null,
      },
      plan: pendingWrite('tasks', id, { Subject: subject }),
      custompmsVersion: 1,
    });

  const putDivision = (id: string, name: string) =>
    putOutboxItem(db.pool, {
      flow: 'customers',
      custompmsId: id,
      kind: 'division',
      record: { Name: name },
      plan: pendingWrite('customers', id, { Name: name }),
      custompmsVersion: 1,
    });

  /** What the org served and counted while `fn` ran. */
  async function measured(
    fn: () => Promise<unknown>,
  ): Promise<{ used: number; requests: RequestLogEntry[] }> {
    const used = sf.apiUsage().used;
    const logged = sf.org.requestLog.length;
    await fn();
    return {
      used: sf.apiUsage().used - used,
      requests: sf.org.requestLog.slice(logged).filter((entry) => entry.category !== 'oauth'),
    };
  }

  /**
   * Each link's Salesforce id and the SystemModstamp its write was recorded with: the version the
   * link knows its written fields (here Subject) by (sync/plan.ts `applyWriteResult`).
   */
  const stamps = async (ids: string[]) =>
    new Map(
      (
        await db.pool.query<{ custompms_id: string; salesforce_id: string; stamp: string | null }>(
          `SELECT custompms_id, salesforce_id, link->'salesforce'->'written'->>'Subject' AS stamp
           FROM links WHERE flow = 'tasks' AND custompms_id = ANY($1)`,
          [ids],
        )
      ).rows.map((row) => [row.custompms_id, { id: row.salesforce_id, stamp: row.stamp }]),
    );

  /** The org's live Tasks with these Custompms ids, as stored (SystemModstamp in ms). */
  const orgTasks = (ids: string[]) =>
    new Map(
      [...sf.org.db.table('Task').rows.values()]
        .filter((row) => row.IsDeleted !== true && ids.includes(row.Custompms_Id__c as string))
        .map((row) => [row.Custompms_Id__c as string, row]),
    );

  it('writes a batch of new Tasks with ONE API call; the links carry each Task’s SystemModstamp', async () => {
    const ids = Array.from({ length: 150 }, (_, n) => `tsk_one_${(run += 1)}_${n}`);
    for (const id of ids) await putTask(id);
    const { used, requests } = await measured(() => flushOutbox(deps));
    expect(used).toBe(1);
    expect(requests.map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toEqual([
      'POST /services/data/v65.0/composite 200',
    ]);
    const linked = await stamps(ids);
    const inOrg = orgTasks(ids);
    expect(linked.size).toBe(ids.length);
    expect(inOrg.size).toBe(ids.length);
    for (const id of ids) {
      const row = inOrg.get(id)!;
      expect(linked.get(id)).toEqual({
        id: row.Id,
        stamp: new Date(row.SystemModstamp as number).toISOString(),
      });
    }
  });

  it('a record refused for validation is recorded as a problem; the others are linked, still in one call', async () => {
    const ids = Array.from({ length: 5 }, (_, n) => `tsk_val_${(run += 1)}_${n}`);
    for (const [n, id] of ids.entries()) await putTask(id, n === 2 ? 'x'.repeat(256) : `Task ${id}`);
    const { used } = await measured(() => flushOutbox(deps));
    expect(used).toBe(1);
    const linked = await stamps(ids);
    expect([...linked.keys()].sort()).toEqual(ids.filter((_, n) => n !== 2).sort());
    const inOrg = orgTasks(ids);
    for (const [id, link] of linked)
      expect(link.stamp).toBe(new Date(inOrg.get(id)!.SystemModstamp as number).toISOString());
    const problems = await db.pool.query<{ custompms_id: string; code: string }>(
      "SELECT custompms_id, code FROM sync_problems WHERE kind = 'error'",
    );
    expect(problems.rows).toEqual([{ custompms_id: ids[2], code: 'STRING_TOO_LONG' }]);
    const batches = await db.pool.query<{ status: string }>('SELECT status FROM change_batches');
    expect(batches.rows).toEqual([{ status: 'completed' }]);
  });

  it('a session that expires on the Composite call is refreshed and the call sent again, as any call', async () => {
    const ids = [`tsk_ses_${(run += 1)}`];
    await putTask(ids[0]!);
    sf.org.faults.failNext('composite', 'sessionExpired');
    const { used, requests } = await measured(() => flushOutbox(deps));
    expect(requests.map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toEqual([
      'POST /services/data/v65.0/composite 401',
      'POST /services/data/v65.0/composite 200',
    ]);
    // The refused call was not counted.
    expect(used).toBe(1);
    expect((await stamps(ids)).get(ids[0]!)?.stamp).toBe(
      new Date(orgTasks(ids).get(ids[0]!)!.SystemModstamp as number).toISOString(),
    );
  });

  it('a write refused as a whole fails the batch without sending the call again; the sweep’s rewrite does not re-create what a user deleted meanwhile', async () => {
    const n = (run += 1);
    const [linkedId, newId] = [`tsk_upd_${n}`, `tsk_new_${n}`];
    // A linked Task (updated by its Id) and a new one (upserted on Custompms_Id__c).
    const [existing] = sf.org.transaction(sf.org.adminUserId, (tx) =>
      tx.insert('Task', [
        parseJsonRecord(sf.org.schema.object('Task')!, { Subject: 'before', Custompms_Id__c: linkedId }),
      ]),
    );
    const update = pendingWrite('tasks', linkedId, { Subject: 'after' });
    await putOutboxItem(db.pool, {
      flow: 'tasks',
      custompmsId: linkedId,
      kind: 'task',
      record: {
        Subject: 'after',
        Custompms_Id__c: linkedId,
        Custompms_Sync_Status__c: 'Synced',
        Custompms_Sync_Error__c: null,
      },
      plan: {
        ...update,
        link: { ...update.link, salesforceId: existing!.id! },
        write: { ...update.write, action: 'update', id: existing!.id! },
      },
      custompmsVersion: 1,
    });
    await putTask(newId);
    // The update's subrequest is refused (503, nothing applied); the upsert beside it is applied.
    sf.org.faults.failNext(/^PATCH \/composite\/sobjects$/, 'unavailable');
    const first = await measured(() =>
      expect(flushOutbox(deps)).rejects.toMatchObject({ errorCode: 'SERVER_UNAVAILABLE' }),
    );
    expect(first.requests.map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toEqual([
      'POST /services/data/v65.0/composite 200',
    ]);
    const created = orgTasks([newId]).get(newId)!;
    expect(created).toBeDefined();
    // A user deletes the new Task before the batch is written again.
    sf.org.transaction(sf.org.adminUserId, (tx) => tx.delete([created.Id as string]));
    expect(await republishOverdue(deps)).toBe(1);
    expect(orgTasks([linkedId]).get(linkedId)!.Subject).toBe('after');
    // Not upserted again (that would create it anew): its first result stands, and its deletion is synced.
    expect(orgTasks([newId]).size).toBe(0);
    expect((await stamps([newId])).get(newId)?.id).toBe(created.Id);
    const deletions = await db.pool.query<{ payload: { taskId: string } }>(
      "SELECT payload FROM inbox_messages WHERE source = 'salesforce.deletion'",
    );
    expect(deletions.rows.map((row) => row.payload.taskId)).toEqual([created.Id]);
  });

  it('a write refused as a whole beside a create fails the batch at once; the sweep writes it again without a second Division', async () => {
    const n = (run += 1);
    const name = `Customer composite ${n}`;
    await putDivision(`cus_${n}`, name);
    await putTask(`tsk_div_${n}`);
    sf.org.faults.failNext(/^PATCH \/composite\/sobjects\/Task\/Custompms_Id__c$/, 'unavailable');
    await expect(flushOutbox(deps)).rejects.toMatchObject({ errorCode: 'SERVER_UNAVAILABLE' });
    // Not sent again within the call: the Division create was applied.
    const divisions = () =>
      [...sf.org.db.table('Division').rows.values()].filter(
        (row) => row.Name === name && row.IsDeleted !== true,
      );
    expect(divisions()).toHaveLength(1);
    const batch = await db.pool.query<{ status: string }>('SELECT status FROM change_batches');
    expect(batch.rows).toEqual([{ status: 'published' }]);
    // Due now: the sweep writes it again; the Division is found by name and updated, not created twice.
    expect(await republishOverdue(deps)).toBe(1);
    expect(divisions()).toHaveLength(1);
    const links = await db.pool.query<{ custompms_id: string; salesforce_id: string }>(
      'SELECT custompms_id, salesforce_id FROM links ORDER BY flow',
    );
    expect(links.rows).toEqual([
      { custompms_id: `cus_${n}`, salesforce_id: divisions()[0]!.Id },
      { custompms_id: `tsk_div_${n}`, salesforce_id: expect.stringMatching(/^00T/) },
    ]);
  });
});
