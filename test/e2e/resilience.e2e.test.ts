/**
 * End to end, when things go wrong: duplicated and reordered outbound messages, lost webhooks,
 * a task before its project, a concurrent edit on both sides, a restart mid-run, and hostile
 * input to every route of the running proxy.
 */
import { MAX_OUTBOUND_BODY_BYTES } from '../../proxy/src/http/outbound-messages';
import { enqueueCustompmsSync } from '../../proxy/src/jobs/enqueue';
import { enqueueJob } from '../../proxy/src/store/jobs';
import { listConflicts } from '../../proxy/src/store/problems';
import { outboundEnvelope } from '../support/outbound-envelope';
import {
  adminConnection,
  currentLinkedId,
  custompmsWrites,
  linkedId,
  quiet,
  startWorld,
  type World,
} from '../support/e2e';
import { eventually } from '../support/eventually';

jest.setTimeout(240_000);

/** A customer, a project and a task, synced to Salesforce; returns their Salesforce ids. */
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
  return { customer, project, task, taskId };
}

describe('Salesforce sends duplicates, out of order', () => {
  let world: World;
  beforeAll(async () => {
    // Every notification delivered twice, the queue shuffled, deliveries gathered for 300 ms.
    world = await startWorld({ outbound: { duplicateRate: 1, outOfOrder: true, dispatchIntervalMs: 300 } });
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('applies the latest edit once; older and repeated notifications change nothing', async () => {
    const { task, taskId } = await syncedTask(world, 'Reorder');
    const conn = adminConnection(world);
    world.cpms.controls.clearRequests();
    const deliveredBefore = world.sf.org.outbound.attempts.length;
    for (const subject of ['First', 'Second', 'Third']) {
      // Salesforce stamps to the second: a second apart on the org's clock, the three edits have
      // a knowable order.
      world.clock.advance(1_000);
      await conn.sobject('Task').update({ Id: taskId, Subject: subject });
      // Each edit is delivered (and acknowledged) before the next: notifications carry the
      // record's current values, so three distinct versions reach the proxy.
      await eventually(
        () =>
          world.sf.org.outbound.attempts.some(
            (attempt) => attempt.acked && attempt.envelope.includes(`<sf:Subject>${subject}</sf:Subject>`),
          ),
        `the org to deliver the notification of the edit to "${subject}"`,
      );
    }
    await eventually(() => world.cpms.controls.record('tasks', task.id)!.title === 'Third');
    await quiet(world);
    expect(world.cpms.controls.record('tasks', task.id)!.title).toBe('Third');
    // Six deliveries or more, three notifications stored, at most one Custompms write each.
    expect(world.sf.org.outbound.attempts.length - deliveredBefore).toBeGreaterThanOrEqual(6);
    const stored = await world.db.pool.query(
      "SELECT 1 FROM inbox_messages WHERE source = 'salesforce.outbound' AND payload::text LIKE $1",
      [`%${taskId}%`],
    );
    expect(stored.rowCount).toBeGreaterThanOrEqual(3);
    const patches = custompmsWrites(world.cpms).filter((entry) => entry.path === `/api/v1/tasks/${task.id}`);
    expect(patches.length).toBeGreaterThanOrEqual(1);
    expect(patches.length).toBeLessThanOrEqual(3);
  });

  it('drops a notification older than what was applied', async () => {
    const { task, taskId } = await syncedTask(world, 'Stale');
    const conn = adminConnection(world);
    const current = await conn.sobject('Task').retrieve(taskId);
    world.cpms.controls.clearRequests();
    const stale = new Date(new Date(String(current.SystemModstamp)).getTime() - 60_000).toISOString();
    const envelope = outboundEnvelope({
      organizationId: world.sf.orgId,
      notifications: [
        {
          id: '04l00000000STALEAA',
          fields: {
            Id: taskId,
            Custompms_Id__c: task.id,
            Custompms_Type__c: 'Task',
            Subject: 'An old value',
            Status: 'Not Started',
            SystemModstamp: stale,
            LastModifiedDate: stale,
            LastModifiedById: world.sf.org.adminUserId,
          },
        },
      ],
    });
    const response = await fetch(
      `${world.proxyUrl}/salesforce/v1/outbound-messages/${world.config.salesforce.outboundMessageToken!}`,
      {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
        body: envelope,
      },
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<Ack>true</Ack>');
    await eventually(async () => {
      const row = await world.db.pool.query(
        "SELECT processed_at FROM inbox_messages WHERE source = 'salesforce.outbound' AND dedupe_key = '04l00000000STALEAA'",
      );
      return row.rows[0]?.processed_at ? true : undefined;
    });
    await quiet(world);
    expect(world.cpms.controls.record('tasks', task.id)!.title).toBe('Stale task');
    expect(custompmsWrites(world.cpms)).toEqual([]);
  });
});

describe('Custompms loses webhooks', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });
  afterEach(() => {
    world.cpms.controls.clearFaults();
  });

  it('the updated_since poller picks up what no webhook announced', async () => {
    const { controls } = world.cpms;
    controls.setFaults({ webhooks: { lossRate: 1 } });
    const customer = controls.create('customers', { name: 'Unannounced', is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Quiet project',
      status: 'planned',
    });
    await quiet(world);
    // Both events were emitted and lost: nothing but the poller can tell the proxy.
    const outcomes = controls
      .events()
      .filter((event) => [customer.id, project.id].includes(event.data.id))
      .map((event) => controls.deliveryOutcomes(event.id));
    expect(outcomes).toEqual([['lost'], ['lost']]);
    expect(await currentLinkedId(world, 'projects', project.id)).toBeUndefined();
    // What the cron line does every few minutes.
    await enqueueJob(world.db.pool, 'poll_custompms', {}, {});
    const projectTaskId = await linkedId(world, 'projects', project.id);
    const divisionId = await linkedId(world, 'customers', customer.id);
    const row = await adminConnection(world).sobject('Task').retrieve(projectTaskId);
    expect(row).toMatchObject({
      Subject: 'Quiet project',
      Division: divisionId,
      Custompms_Id__c: project.id,
    });
  });

  it('a task that arrives before its project waits for it, then syncs with it', async () => {
    const { controls } = world.cpms;
    controls.setFaults({ webhooks: { lossRate: 1 } });
    const customer = controls.create('customers', { name: 'Late parent', is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Parent',
      status: 'planned',
    });
    const task = controls.create('tasks', { project_id: project.id, title: 'Child first', status: 'todo' });
    // Only the task is announced.
    await enqueueCustompmsSync(world.deps, 'task', task.id);
    const taskId = await linkedId(world, 'tasks', task.id);
    const divisionId = await linkedId(world, 'customers', customer.id);
    expect(await currentLinkedId(world, 'projects', project.id)).toBeDefined();
    const row = await adminConnection(world).sobject('Task').retrieve(taskId);
    expect(row).toMatchObject({
      Custompms_Project_Id__c: project.id,
      Division: divisionId,
      Subject: 'Child first',
    });
    const waiting = await world.db.pool.query('SELECT 1 FROM waiting_changes');
    expect(waiting.rowCount).toBe(0);
  });
});

describe('both sides edit the same field', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('is a conflict: the latest edit wins on both sides, and the conflict is recorded', async () => {
    const { task, taskId } = await syncedTask(world, 'Conflict');
    const { controls } = world.cpms;
    // The Custompms edit's webhook is lost, so the proxy learns of it only when it writes.
    controls.setFaults({ webhooks: { lossRate: 1 } });
    controls.edit('tasks', task.id, { title: 'Custompms says' });
    // A second later, on both emulators' clock (Salesforce stamps to the second).
    world.clock.advance(1_000);
    await adminConnection(world).sobject('Task').update({ Id: taskId, Subject: 'Salesforce says, later' });
    await eventually(() => controls.record('tasks', task.id)!.title === 'Salesforce says, later');
    controls.clearFaults();
    await quiet(world);
    const conflicts = (await listConflicts(world.db.pool)).filter(
      (conflict) => conflict.custompmsId === task.id,
    );
    expect(conflicts).toEqual([
      expect.objectContaining({
        flow: 'tasks',
        salesforceId: taskId,
        custompmsValue: 'Custompms says',
        salesforceValue: 'Salesforce says, later',
        winner: 'salesforce',
        policy: 'latest',
      }),
    ]);
    const row = await adminConnection(world).sobject('Task').retrieve(taskId);
    expect(row.Subject).toBe('Salesforce says, later');
  });
});

describe('a restart mid-run', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('loses nothing and duplicates nothing', async () => {
    const { project, task, taskId } = await syncedTask(world, 'Restart');
    const { controls } = world.cpms;
    const created = Array.from({ length: 12 }, (_, index) =>
      controls.create('tasks', { project_id: project.id, title: `Burst ${index}`, status: 'todo' }),
    );
    // Down while the burst is in flight: once the proxy has stored the burst's first webhook.
    const burstIds = created.map((record) => record.id);
    await eventually(
      async () =>
        (
          await world.db.pool.query(
            "SELECT 1 FROM inbox_messages WHERE source = 'custompms.webhook' AND payload->'data'->>'id' = ANY($1)",
            [burstIds],
          )
        ).rowCount! > 0,
      'the proxy to store a webhook of the burst',
    );
    await world.stopProxy();
    // A Salesforce user and a Custompms user keep working meanwhile; both deliveries hit the
    // stopped proxy at least once before it comes back.
    const attemptsBefore = world.sf.org.outbound.attempts.length;
    await adminConnection(world).sobject('Task').update({ Id: taskId, Status: 'Completed' });
    controls.edit('tasks', created[0]!.id, { title: 'Burst 0, edited while down' });
    const editEvent = controls
      .events()
      .findLast((event) => event.type === 'task.updated' && event.data.id === created[0]!.id)!;
    await eventually(
      () =>
        world.sf.org.outbound.attempts
          .slice(attemptsBefore)
          .some((attempt) => attempt.recordIds.includes(taskId) && attempt.error !== undefined),
      'the org to fail delivering the Task edit to the stopped proxy',
    );
    await eventually(
      () =>
        controls
          .deliveries()
          .some((attempt) => attempt.eventId === editEvent.id && attempt.error !== undefined),
      'Custompms to fail delivering the edit webhook to the stopped proxy',
    );
    await world.startProxy();
    // The pollers' cron would run within minutes; run it now.
    await enqueueJob(world.db.pool, 'poll_custompms', {}, {});

    for (const record of created) await linkedId(world, 'tasks', record.id);
    await eventually(() => controls.record('tasks', task.id)!.status === 'done');
    const conn = adminConnection(world);
    await eventually(async () => {
      const rows = await conn.query<{ Subject: string }>(
        `SELECT Subject FROM Task WHERE Custompms_Id__c = '${created[0]!.id}'`,
      );
      return rows.records[0]?.Subject === 'Burst 0, edited while down';
    });
    await quiet(world);
    const ids = created.map((record) => `'${record.id}'`).join(', ');
    const rows = await conn.query<{ Custompms_Id__c: string }>(
      `SELECT Custompms_Id__c FROM Task WHERE Custompms_Id__c IN (${ids})`,
    );
    expect(rows.records.map((row) => row.Custompms_Id__c).sort()).toEqual(
      created.map((record) => record.id).sort(),
    );
  });
});

describe('hostile input to the running proxy', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  async function stored(): Promise<number> {
    const rows = await world.db.pool.query<{ count: string }>('SELECT count(*) FROM inbox_messages');
    return Number(rows.rows[0]!.count);
  }

  it('refuses each attack with nothing stored, and keeps serving', async () => {
    const outboundUrl = `${world.proxyUrl}/salesforce/v1/outbound-messages/${world.config.salesforce.outboundMessageToken!}`;
    const goodNotification = {
      id: '04l00000000HOSTAAA',
      fields: { Id: '00T000000000001AAA', Custompms_Type__c: 'Task', Subject: 'x' },
    };
    const envelope = outboundEnvelope({ organizationId: world.sf.orgId, notifications: [goodNotification] });
    const xxe = envelope
      .replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
      )
      .replace('<sf:Subject>x</sf:Subject>', '<sf:Subject>&xxe;</sf:Subject>');
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>';
    const post = (url: string, body: string | Buffer, headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers, body }).then(async (response) => ({
        status: response.status,
        text: await response.text(),
      }));
    const xml = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };
    const before = await stored();

    const attacks = [
      { name: 'XXE', ...(await post(outboundUrl, xxe, xml)), expected: 400 },
      { name: 'billion laughs', ...(await post(outboundUrl, laughs, xml)), expected: 400 },
      {
        // Over the largest envelope Salesforce can send (about 17 MB, counted in bytes).
        name: 'oversized body',
        ...(await post(outboundUrl, Buffer.alloc(MAX_OUTBOUND_BODY_BYTES + 1, 'a'), xml)),
        expected: 413,
      },
      {
        name: 'another org',
        ...(await post(
          outboundUrl,
          outboundEnvelope({ organizationId: '00D000000000OTHERAA', notifications: [goodNotification] }),
          xml,
        )),
        expected: 403,
      },
      {
        name: 'bad path token',
        ...(await post(`${world.proxyUrl}/salesforce/v1/outbound-messages/not-the-token`, envelope, xml)),
        expected: 401,
      },
      {
        name: 'forged webhook signature',
        ...(await post(
          `${world.proxyUrl}/custompms/v1/webhooks`,
          JSON.stringify({ id: 'evt_forged', type: 'task.updated', data: { id: 'tsk_1' } }),
          {
            'content-type': 'application/json',
            'custompms-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`,
          },
        )),
        expected: 401,
      },
      {
        name: 'Apex API without the key',
        ...(await post(
          `${world.proxyUrl}/salesforce/v1/task-deletions`,
          JSON.stringify({
            events: [{ taskId: '00T000000000001AAA', operation: 'delete', eventUuid: 'e1' }],
          }),
          { 'content-type': 'application/json', authorization: 'Bearer wrong' },
        )),
        expected: 401,
      },
    ];
    expect(attacks.map(({ name, status }) => ({ name, status }))).toEqual(
      attacks.map(({ name, expected }) => ({ name, status: expected })),
    );
    // Nothing leaked back: the XXE answer does not echo a file.
    expect(attacks[0]!.text).not.toContain('root:');
    expect(await stored()).toBe(before);
    const health = await fetch(`${world.proxyUrl}/healthz`);
    expect(health.status).toBe(200);
    // And a genuine notification is still accepted.
    const genuine = await post(outboundUrl, envelope, xml);
    expect(genuine.status).toBe(200);
    expect(await stored()).toBe(before + 1);
  });
});
