/**
 * Deletes are applied only when confirmed, and never in bulk by surprise (#14): a Custompms 404
 * that is not Custompms saying "this record is gone" deletes nothing; a Task deletion posted for
 * a Task the configured org still has live (a refreshed sandbox posting production's Ids)
 * deletes nothing; more deletes than the brake allows pause and raise MASS_DELETE_PAUSED.
 */
import { enqueueCustompmsSync } from '../../proxy/src/jobs/enqueue';
import { pollDivisions, pollTasks } from '../../proxy/src/jobs/pollers';
import { applySalesforceTask } from '../../proxy/src/jobs/salesforce-changes';
import { putOutboxItem } from '../../proxy/src/store/batches';
import { insertInboxMessages } from '../../proxy/src/store/inbox';
import { parseJsonRecord } from '../emulators/salesforce/data/values';
import { adminConnection, linkedId, quiet, startWorld, type World } from '../support/e2e';
import { eventually } from '../support/eventually';
import { pendingWrite } from '../support/pending-write';

async function syncedTask(world: World, label: string) {
  const { controls } = world.cpms;
  const customer = controls.create('customers', { name: `${label} customer`, is_active: true });
  const project = controls.create('projects', {
    customer_id: customer.id,
    name: `${label} project`,
    status: 'active',
  });
  const task = controls.create('tasks', { project_id: project.id, title: `${label} task`, status: 'todo' });
  const taskId = await linkedId(world, 'tasks', task.id);
  await quiet(world);
  return { task, taskId };
}

async function taskLive(world: World, taskId: string): Promise<boolean> {
  const rows = await adminConnection(world).query<{ Id: string }>(
    `SELECT Id FROM Task WHERE Id = '${taskId}'`,
  );
  return rows.records.length === 1;
}

describe('deletes under doubt', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('a bare Custompms 404 is not a delete; Custompms confirming it is', async () => {
    const { task, taskId } = await syncedTask(world, 'Bare404');
    // A 404 that is not Custompms's answer for this record (a gateway, a wrong route).
    world.cpms.controls.setFaults({ rules: [{ route: 'GET /api/v1/tasks/:id', status: 404 }] });
    await enqueueCustompmsSync(world.deps, 'task', task.id);
    await eventually(
      async () =>
        (
          await world.db.pool.query(
            `SELECT 1 FROM graphile_worker.jobs WHERE key = $1 AND last_error IS NOT NULL
             UNION ALL SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM graphile_worker.jobs WHERE key = $1)`,
            [`cpms:task:${task.id}`],
          )
        ).rowCount! > 0,
      'the sync of the record to fail once',
    );
    await world.sf.org.settle();
    expect(await taskLive(world, taskId)).toBe(true);
    const job = await world.db.pool.query<{ last_error: string }>(
      'SELECT last_error FROM graphile_worker.jobs WHERE key = $1',
      [`cpms:task:${task.id}`],
    );
    expect(job.rows[0]?.last_error).toContain('without confirming a delete');
    world.cpms.controls.clearFaults();
    // Deleted for real: the 404 names the record, and the tombstone lists it.
    world.cpms.controls.remove('tasks', task.id);
    await eventually(async () => !(await taskLive(world, taskId)), 'the Task to be deleted in Salesforce');
  });

  it('a Task deletion the configured org does not confirm is not applied', async () => {
    const { task, taskId } = await syncedTask(world, 'Sandbox');
    // A refreshed sandbox's Apex posting production's Task Id: the org here has it live.
    const { insertedIds } = await insertInboxMessages(world.db.pool, [
      {
        source: 'salesforce.deletion',
        dedupeKey: `sandbox:${taskId}`,
        recordKey: `sf:${taskId}`,
        payload: { taskId, custompmsId: task.id, operation: 'delete' },
      },
    ]);
    await eventually(
      async () =>
        (
          await world.db.pool.query(
            'SELECT 1 FROM inbox_messages WHERE id = $1 AND processed_at IS NOT NULL',
            [insertedIds[0]],
          )
        ).rowCount === 1,
      'the deletion to be processed',
    );
    await quiet(world);
    expect(world.cpms.controls.record('tasks', task.id)).toBeDefined();
    const problems = await world.db.pool.query(
      "SELECT 1 FROM sync_problems WHERE code = 'SALESFORCE_DELETE_UNCONFIRMED' AND salesforce_id = $1",
      [taskId],
    );
    expect(problems.rowCount).toBe(1);
    // Deleted in the configured org: applied.
    await adminConnection(world).sobject('Task').destroy(taskId);
    await eventually(
      () => world.cpms.controls.record('tasks', task.id) === undefined,
      'the Custompms task to go',
    );
  });

  it('more deletes than the brake allows pause deletes and raise MASS_DELETE_PAUSED', async () => {
    const synced = [];
    for (let index = 0; index < 4; index++) synced.push(await syncedTask(world, `Mass ${index}`));
    const limit = world.deps.settings.massDeleteLimit;
    world.deps.settings.massDeleteLimit = 2;
    try {
      for (const { task } of synced) world.cpms.controls.remove('tasks', task.id);
      await eventually(
        async () =>
          (await world.db.pool.query("SELECT 1 FROM sync_problems WHERE code = 'MASS_DELETE_PAUSED'"))
            .rowCount === 1,
        'the mass-delete brake to engage',
      );
      let live = 0;
      for (const { taskId } of synced) if (await taskLive(world, taskId)) live++;
      expect(live).toBeGreaterThanOrEqual(1);
    } finally {
      world.deps.settings.massDeleteLimit = limit;
    }
  });
});

describe('a 25-hour proxy outage', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('two Task edits within one SystemModstamp second: the later one is not dropped', async () => {
    const { task, taskId } = await syncedTask(world, 'SameSecond');
    const admin = adminConnection(world);
    const stamp = async () =>
      (
        await admin.query<{ SystemModstamp: string }>(
          `SELECT SystemModstamp FROM Task WHERE Id = '${taskId}'`,
        )
      ).records[0]!.SystemModstamp;
    // The emulators' clock stands still: both edits fall in one second, stamped alike (to the second).
    world.clock.advance(1_000);
    world.clock.freeze();
    try {
      await admin.sobject('Task').update({ Id: taskId, Subject: 'First edit of the second' });
      await eventually(
        () => world.cpms.controls.record('tasks', task.id)!.title === 'First edit of the second',
        'the first edit to reach Custompms',
      );
      const first = await stamp();
      await admin.sobject('Task').update({ Id: taskId, Subject: 'Second edit of the second' });
      expect(await stamp()).toBe(first);
      await eventually(
        () => world.cpms.controls.record('tasks', task.id)!.title === 'Second edit of the second',
        'the second edit to reach Custompms',
      );
    } finally {
      world.clock.resume();
    }
  });

  it('a Salesforce edit is applied to Custompms without a write back to the Task', async () => {
    const { task, taskId } = await syncedTask(world, 'NoWriteBack');
    await adminConnection(world).sobject('Task').update({ Id: taskId, Subject: 'Edited in the org only' });
    await eventually(
      () => world.cpms.controls.record('tasks', task.id)!.title === 'Edited in the org only',
      'the edit to reach Custompms',
    );
    await quiet(world);
    // The Task's Division (derived from its project, not in the outbound message) is not written
    // back: the org user stays its last editor.
    expect(world.sf.org.db.findById(taskId)?.record.LastModifiedById).toBe(world.sf.org.adminUserId);
  });

  it("the Task poller leaves the proxy's own writes alone (their results record them)", async () => {
    const { task, taskId } = await syncedTask(world, 'OwnWrite');
    await pollTasks(world.deps);
    // A write of the proxy's whose results are not recorded yet (a batch in flight).
    world.clock.advance(1_000);
    const salesforce = await world.deps.salesforce();
    await salesforce.operations.update('Task', [
      { Id: taskId, Subject: 'Written by the proxy, results pending' },
    ]);
    await pollTasks(world.deps);
    await quiet(world);
    expect(world.cpms.controls.record('tasks', task.id)!.title).toBe('OwnWrite task');
  });

  it('loses no Salesforce edit: the Task poller reads what the org stopped redelivering', async () => {
    const { task, taskId } = await syncedTask(world, 'Outage');
    await pollTasks(world.deps);
    // The proxy is unreachable; a user edits the Task; Salesforce retries for 24 hours, then drops it.
    world.sf.org.faults.outboundUnreachable = true;
    world.clock.advance(1_000);
    await adminConnection(world).sobject('Task').update({ Id: taskId, Subject: 'Edited during the outage' });
    world.clock.advance(25 * 3600_000);
    await eventually(() => world.sf.org.outbound.dropped.length > 0, 'the org to give up the notification');
    world.sf.org.faults.outboundUnreachable = false;
    expect(world.cpms.controls.record('tasks', task.id)!.title).toBe('Outage task');
    await pollTasks(world.deps);
    await eventually(
      () => world.cpms.controls.record('tasks', task.id)!.title === 'Edited during the outage',
      'the edit to reach Custompms',
    );
    // Nothing changed since: the next poll is one query that finds no edit to apply.
    const writes = world.cpms.controls.requests().filter((entry) => entry.method !== 'GET').length;
    await pollTasks(world.deps);
    await quiet(world);
    expect(world.cpms.controls.requests().filter((entry) => entry.method !== 'GET').length).toBe(writes);
  });
});

describe('a change applied, then a Salesforce failure', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    world?.sf.org.faults.set([]);
    await world?.stop();
  });

  it('a Salesforce write failing after the Custompms write leaves that write recorded', async () => {
    const { task, taskId } = await syncedTask(world, 'StatusFails');
    // The Task shows an error from before: this sync writes its status back to Synced.
    await world.db.pool.query("UPDATE links SET salesforce_status = 'Error' WHERE salesforce_id = $1", [
      taskId,
    ]);
    // The user's edit is made while its message is held; then every Salesforce write (the status
    // write after the Custompms write) answers 503 until the test ends.
    world.sf.org.faults.outboundUnreachable = true;
    await adminConnection(world).sobject('Task').update({ Id: taskId, Subject: 'Edited while writes fail' });
    world.sf.org.faults.set([{ route: /^(PATCH|POST) /, unavailableRate: 1 }]);
    world.sf.org.faults.outboundUnreachable = false;
    world.clock.advance(60_000);
    await eventually(
      () => world.cpms.controls.record('tasks', task.id)!.title === 'Edited while writes fail',
      'the edit to reach Custompms',
    );
    // Recorded: a retry of the message would otherwise see our own write as someone else's edit
    // (and a conflict could undo the edit it carried).
    await eventually(async () => {
      const { rows } = await world.db.pool.query<{ version: number }>(
        "SELECT (link->'custompms'->>'version')::int AS version FROM links WHERE salesforce_id = $1",
        [taskId],
      );
      return rows[0]?.version === world.cpms.controls.record('tasks', task.id)!.version;
    }, 'the Custompms write to be recorded in the link');
  });
});

describe('a Custompms write whose answer never came back', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    world?.cpms.controls.setFaults({});
    await world?.stop();
  });

  it("is the sync's own write when met again, not an edit that conflicts with the user's next one", async () => {
    const { task, taskId } = await syncedTask(world, 'LostAnswer');
    // The first edit's PATCH is slow, then applied, and every answer to it is lost, as when the
    // process dies right after the write: that change fails and is retried later.
    world.cpms.controls.setFaults({
      rules: [
        {
          route: 'PATCH /api/v1/tasks/:id',
          status: 503,
          retryAfter: null,
          phase: 'after',
          delayMs: 1_500,
          times: 1,
        },
        { route: 'PATCH /api/v1/tasks/:id', status: 503, retryAfter: null, phase: 'after', times: 4 },
      ],
    });
    const admin = adminConnection(world);
    await admin.sobject('Task').update({ Id: taskId, Subject: 'First edit' });
    await eventually(() => world.cpms.controls.faultHits().length === 1, 'the first edit to reach Custompms');
    // While that write is on its way, the user edits again; the write lands after this edit.
    await admin.sobject('Task').update({ Id: taskId, Subject: 'Second edit' });
    world.clock.advance(2_000);
    // The first write is then met again, as a 409 to the second edit's PATCH or as its own webhook,
    // whichever comes first. Unrecognised, it looks like a Custompms edit newer than the second one:
    // a conflict the `latest` rule gives to it, or a plain Custompms change, either way written back
    // over the user's second edit.
    await eventually(
      () => world.cpms.controls.faultHits().length === 5,
      'every answer to the first write lost',
    );
    await quiet(world);
    expect(world.cpms.controls.record('tasks', task.id)!.title).toBe('Second edit');
    const [row] = (await admin.query<{ Subject: string }>(`SELECT Subject FROM Task WHERE Id = '${taskId}'`))
      .records;
    expect(row!.Subject).toBe('Second edit');
    const conflicts = await world.db.pool.query('SELECT 1 FROM conflicts WHERE custompms_id = $1', [task.id]);
    expect(conflicts.rowCount).toBe(0);
  });
});

describe('a Task edited before the result of its create is recorded', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('waits for the link instead of pairing the records on their times', async () => {
    const project = world.cpms.controls.create('projects', {
      customer_id: world.cpms.controls.create('customers', { name: 'Pending Co', is_active: true }).id,
      name: 'Pending create',
      status: 'active',
    });
    const taskId = await linkedId(world, 'projects', project.id);
    await quiet(world);
    // As if the create were still on its way: its outbox row is there, its link not yet.
    await world.db.pool.query("DELETE FROM links WHERE flow = 'projects' AND custompms_id = $1", [
      project.id,
    ]);
    await putOutboxItem(world.db.pool, {
      flow: 'projects',
      custompmsId: project.id,
      kind: 'task',
      record: { Custompms_Id__c: project.id, Subject: 'Pending create' },
      plan: pendingWrite('projects', project.id),
      custompmsVersion: 1,
    });
    world.cpms.controls.clearRequests();
    const stamp = new Date(world.clock.now()).toISOString();
    await expect(
      applySalesforceTask(world.deps, {
        Id: taskId,
        Subject: 'Edited in the same second',
        Custompms_Id__c: project.id,
        Custompms_Type__c: 'Project',
        SystemModstamp: stamp,
        LastModifiedDate: stamp,
      }),
    ).rejects.toMatchObject({ code: 'TASK_CREATE_PENDING' });
    // Nothing was read or written in Custompms: the retry meets the link once it is stored.
    expect(world.cpms.controls.requests()).toEqual([]);
  });
});

describe('the Division poller', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it("leaves the proxy's own Division writes alone (their results record them)", async () => {
    const customer = world.cpms.controls.create('customers', { name: 'Own write Co', is_active: true });
    const divisionId = await linkedId(world, 'customers', customer.id);
    await quiet(world);
    // A rename the proxy wrote whose result is not recorded yet (its writer died): read by the
    // poller, it would look like a user's rename and go back to Custompms over newer edits there.
    const { integrationUserId } = await world.deps.salesforce();
    const division = world.sf.org.schema.object('Division')!;
    world.sf.org.transaction(integrationUserId, (tx) =>
      tx.update('Division', [
        { id: divisionId, input: parseJsonRecord(division, { Name: 'Written by the proxy' }) },
      ]),
    );
    world.cpms.controls.edit('customers', customer.id, { name: 'Renamed in Custompms since' });
    world.cpms.controls.clearRequests();
    await pollDivisions(world.deps);
    expect(world.cpms.controls.requests().filter((entry) => entry.method !== 'GET')).toEqual([]);
    expect(world.cpms.controls.record('customers', customer.id)!.name).toBe('Renamed in Custompms since');
  });
});
