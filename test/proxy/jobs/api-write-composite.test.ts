/**
 * The api write path writes a change batch in ONE Composite call (jobs/batches.ts `writeDirectly`,
 * write/salesforce.ts `writeBatchInOneCall`): its sObject Collections writes and the read-back of
 * the written Tasks' SystemModstamp, against the emulated org — one API call for the batch, the
 * links carrying each Task's SystemModstamp, per-record failures recorded as before, a subrequest
 * refused as a whole failing only its own records, and a rewrite after a dead writer deleting a
 * Task it created for a record deleted since.
 */
import { loadConfig } from '../../../proxy/src/config';
import { flushOutbox, republishOverdue } from '../../../proxy/src/jobs/batches';
import { createSyncDeps, type SyncDeps } from '../../../proxy/src/jobs/deps';
import { refreshOrgMapping } from '../../../proxy/src/jobs/org-mapping';
import { markBatchPublished, putOutboxItem, takeBatch } from '../../../proxy/src/store/batches';
import { saveLink } from '../../../proxy/src/store/links';
import { withTransaction } from '../../../proxy/src/store/transaction';
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

  /** Makes the writes held back after a transient refusal due now (their backoff elapsed). */
  const backoffElapsed = () =>
    db.pool.query('UPDATE outbox SET not_before = now() WHERE not_before IS NOT NULL');

  it('a write refused as a whole fails only its own records, written again later; the call’s other writes are recorded', async () => {
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
    const first = await measured(() => flushOutbox(deps));
    expect(first.requests.map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toEqual([
      'POST /services/data/v65.0/composite 200',
    ]);
    // The batch is complete: the new Task is linked with its stamp; the refused update waits.
    const batches = await db.pool.query<{ status: string }>('SELECT status FROM change_batches');
    expect(batches.rows).toEqual([{ status: 'completed' }]);
    const created = orgTasks([newId]).get(newId)!;
    expect((await stamps([newId])).get(newId)).toEqual({
      id: created.Id,
      stamp: new Date(created.SystemModstamp as number).toISOString(),
    });
    expect(orgTasks([linkedId]).get(linkedId)!.Subject).toBe('before');
    const waiting = await db.pool.query<{ custompms_id: string; attempts: number }>(
      'SELECT custompms_id, attempts FROM outbox WHERE batch_id IS NULL',
    );
    expect(waiting.rows).toEqual([{ custompms_id: linkedId, attempts: 1 }]);
    const problems = await db.pool.query('SELECT 1 FROM sync_problems');
    expect(problems.rowCount).toBe(0);
    // Written again once its backoff has passed, in a call of its own: the new Task is not upserted again.
    await backoffElapsed();
    const second = await measured(() => flushOutbox(deps));
    expect(second.used).toBe(1);
    expect(orgTasks([linkedId]).get(linkedId)!.Subject).toBe('after');
    expect(orgTasks([newId]).get(newId)!.SystemModstamp).toBe(created.SystemModstamp);
  });

  it('a Task upsert refused beside a Division create: the Division is linked at once, the Task written later, one Division', async () => {
    const n = (run += 1);
    const name = `Customer composite ${n}`;
    await putDivision(`cus_${n}`, name);
    await putTask(`tsk_div_${n}`);
    sf.org.faults.failNext(/^PATCH \/composite\/sobjects\/Task\/Custompms_Id__c$/, 'unavailable');
    // One call: a first attempt does not look for Divisions an earlier one created.
    expect((await measured(() => flushOutbox(deps))).used).toBe(1);
    const divisions = () =>
      [...sf.org.db.table('Division').rows.values()].filter(
        (row) => row.Name === name && row.IsDeleted !== true,
      );
    expect(divisions()).toHaveLength(1);
    const links = () =>
      db.pool.query<{ custompms_id: string; salesforce_id: string }>(
        'SELECT custompms_id, salesforce_id FROM links ORDER BY flow',
      );
    expect((await links()).rows).toEqual([{ custompms_id: `cus_${n}`, salesforce_id: divisions()[0]!.Id }]);
    expect(orgTasks([`tsk_div_${n}`]).size).toBe(0);
    await backoffElapsed();
    await flushOutbox(deps);
    expect(divisions()).toHaveLength(1);
    expect((await links()).rows).toEqual([
      { custompms_id: `cus_${n}`, salesforce_id: divisions()[0]!.Id },
      { custompms_id: `tsk_div_${n}`, salesforce_id: orgTasks([`tsk_div_${n}`]).get(`tsk_div_${n}`)!.Id },
    ]);
  });

  it('a Task an earlier attempt created for a record deleted since is deleted when the batch is written again', async () => {
    const id = `tsk_orphan_${(run += 1)}`;
    await putTask(id);
    // The first attempt's writes reach the org, but its writer dies before recording them.
    const batch = (await withTransaction(db.pool, (client) => takeBatch(client, 200)))!;
    await markBatchPublished(db.pool, batch.id, new Date(Date.now() - 1_000), 'process-dead');
    const salesforce = await deps.salesforce();
    await salesforce.operations.upsert('Task', 'Custompms_Id__c', [{ ...batch.items[0]!.record }]);
    expect(orgTasks([id]).size).toBe(1);
    // Meanwhile the record is deleted in Custompms: its link, which never learnt the Task, says so.
    const { link } = pendingWrite('tasks', id);
    await saveLink(db.pool, { ...link, custompms: { ...link.custompms, version: 2, deleted: true } });
    expect(await republishOverdue(deps)).toBe(1);
    expect(orgTasks([id]).size).toBe(0);
    const batches = await db.pool.query<{ status: string }>('SELECT status FROM change_batches');
    expect(batches.rows).toEqual([{ status: 'completed' }]);
  });
});
