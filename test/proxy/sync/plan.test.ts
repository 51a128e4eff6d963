/**
 * The decision function, case by case: creates, echoes, ordering, merges and conflicts,
 * dependencies, deletes and write results.
 */
import {
  FLOWS,
  applyOverrides,
  applyWriteResult,
  isOwnCustompmsWrite,
  planChange,
  withLaterSides,
  type Change,
  type FlowDefinition,
  type Link,
  type Plan,
  type SyncContext,
} from '../../../proxy/src/sync';
import {
  ALICE,
  BOB,
  CUSTOMER_B,
  CUSTOMER_NO_DIVISION,
  DIVISION_A,
  DIVISION_B,
  INTEGRATION_USER,
  PROJECT_A,
  SF_TASK_ID,
  SHARED_EMAIL,
  commit,
  context,
  custompmsChange,
  customer,
  linkedProject,
  project,
  salesforceChange,
  task,
} from './fixtures';

const T1 = '2025-01-01T10:00:01.000Z';
const T2 = '2025-01-02T09:00:00.000Z';
const T3 = '2025-01-03T09:00:00.000Z';

function run(
  flow: FlowDefinition,
  link: Link | null,
  change: Change,
  extra: { context?: SyncContext; counterpart?: Change } = {},
): Plan {
  return planChange({
    flow,
    context: extra.context ?? context(),
    link,
    change,
    counterpart: extra.counterpart,
  });
}

/** What Salesforce holds for a link: its snapshot, as an outbound message would carry it. */
function salesforceRecord(link: Link, modstamp: string, overrides: Record<string, unknown> = {}) {
  return { Id: link.salesforceId, SystemModstamp: modstamp, ...link.snapshot.salesforce, ...overrides };
}

function expectKind<K extends Plan['kind']>(plan: Plan, kind: K): asserts plan is Plan & { kind: K } {
  expect(plan.kind).toBe(kind);
}

describe('creates', () => {
  it('creates a Salesforce Task from a Custompms project with every mapped field', () => {
    const plan = run(FLOWS.projects, null, custompmsChange(project()));
    expectKind(plan, 'create');
    expect(plan.target).toBe('salesforce');
    expect(plan.writes).toEqual([
      {
        side: 'salesforce',
        action: 'create',
        id: null,
        expectedVersion: null,
        fields: {
          Custompms_Id__c: 'prj_1',
          Custompms_Type__c: 'Project',
          Subject: 'Website relaunch',
          Description: 'Phase one',
          Status: 'In Progress',
          Priority: 'Normal',
          ActivityDate: '2025-03-31',
          OwnerId: ALICE.id,
          Division: DIVISION_A,
        },
      },
    ]);
    expect(plan.link).toMatchObject({
      flow: 'projects',
      custompmsId: 'prj_1',
      salesforceId: null,
      status: 'active',
      custompms: { version: 1, modifiedAt: '2025-01-01T10:00:00.000Z', deleted: false },
      salesforce: { version: null, deleted: false },
    });
  });

  it('creates a Division from a customer', () => {
    const plan = run(FLOWS.customers, null, custompmsChange(customer()));
    expectKind(plan, 'create');
    expect(plan.writes[0]!.fields).toEqual({ Name: 'ACME', IsActive: true });
  });

  it('refuses to create a record with a required field missing', () => {
    const plan = run(FLOWS.tasks, null, custompmsChange(task({ title: '' })));
    expectKind(plan, 'invalid');
    expect(plan.problems).toContainEqual(expect.objectContaining({ code: 'required', field: 'tasks.title' }));
    expect(plan.writes).toEqual([]);
  });

  it('waits for the customer’s Division before creating a project', () => {
    const plan = run(FLOWS.projects, null, custompmsChange(project({ customer_id: CUSTOMER_NO_DIVISION })));
    expectKind(plan, 'wait_for_dependency');
    expect(plan.missing).toEqual([{ kind: 'customer_division', customerId: CUSTOMER_NO_DIVISION }]);
    expect(plan.link).toBeNull();
  });

  it('waits for the project link before creating a task, from either side', () => {
    const fromCustompms = run(FLOWS.tasks, null, custompmsChange(task({ project_id: 'prj_new' })));
    expectKind(fromCustompms, 'wait_for_dependency');
    expect(fromCustompms.missing).toEqual([{ kind: 'project', projectId: 'prj_new' }]);
    const fromSalesforce = run(
      FLOWS.tasks,
      null,
      salesforceChange({
        Id: '00T000000000009AAA',
        SystemModstamp: T1,
        Custompms_Type__c: 'Task',
        Subject: 'Call back',
        Custompms_Project_Id__c: 'prj_new',
      }),
    );
    expectKind(fromSalesforce, 'wait_for_dependency');
    expect(fromSalesforce.missing).toEqual([{ kind: 'project', projectId: 'prj_new' }]);
  });

  it('creates a Custompms task from a Salesforce Task, then writes the new id back', () => {
    const sfTask = {
      Id: '00T000000000009',
      SystemModstamp: '2025-01-05T08:00:00.000+0000',
      Custompms_Type__c: 'Task',
      Custompms_Id__c: null,
      Subject: 'Call back',
      Status: 'Deferred',
      Priority: 'Low',
      ActivityDate: '2025-02-03',
      OwnerId: BOB.id,
      Custompms_Project_Id__c: PROJECT_A,
    };
    const plan = run(FLOWS.tasks, null, salesforceChange(sfTask));
    expectKind(plan, 'create');
    expect(plan.writes[0]).toEqual({
      side: 'custompms',
      action: 'create',
      id: null,
      expectedVersion: null,
      fields: {
        title: 'Call back',
        status: 'blocked',
        priority: 'low',
        due_date: '2025-02-03',
        assignee_email: BOB.email,
        project_id: PROJECT_A,
      },
    });
    // The 15-character Id and the +0000 modstamp are stored canonically.
    expect(plan.link).toMatchObject({
      salesforceId: '00T000000000009EAA',
      salesforce: { version: '2025-01-05T08:00:00.000Z' },
    });

    const created = applyWriteResult(FLOWS.tasks, context(), plan.link!, plan.writes[0]!, {
      id: 'tsk_9',
      version: 1,
      conditional: true,
    });
    expect(created.link).toMatchObject({ custompmsId: 'tsk_9', custompms: { version: 1 } });
    expect(created.followUps).toEqual([
      {
        side: 'salesforce',
        action: 'update',
        id: '00T000000000009EAA',
        fields: { Custompms_Id__c: 'tsk_9', Division: DIVISION_A },
        expectedVersion: '2025-01-05T08:00:00.000Z',
      },
    ]);

    // The outbound message of that write-back is an echo.
    const echo = run(
      FLOWS.tasks,
      created.link,
      salesforceChange({
        ...sfTask,
        Custompms_Id__c: 'tsk_9',
        Division: DIVISION_A,
        SystemModstamp: '2025-01-05T08:00:05.000Z',
      }),
    );
    expectKind(echo, 'skip');
    expect(echo.reason).toBe('echo');
  });

  it('ignores new Divisions unless createCustomersFromDivisions is on', () => {
    const division = { Id: '02d000000000007AAA', SystemModstamp: T1, Name: 'North', IsActive: true };
    const ignored = run(FLOWS.customers, null, salesforceChange(division));
    expectKind(ignored, 'skip');
    expect(ignored.reason).toBe('ignored');
    const on = applyOverrides(FLOWS, {
      flows: [{ flow: 'customers', createFromSalesforce: true }],
    }).definition;
    const created = run(on.customers, null, salesforceChange(division));
    expectKind(created, 'create');
    expect(created.writes[0]!.fields).toEqual({ name: 'North', is_active: true });
  });

  it('refuses a Salesforce record naming an unlinked Custompms id, and links it given the counterpart', () => {
    const sfTask = salesforceChange({
      Id: SF_TASK_ID,
      SystemModstamp: T2,
      Custompms_Type__c: 'Project',
      Custompms_Id__c: 'prj_1',
      Subject: 'Website relaunch (SF)',
      Status: 'In Progress',
      Priority: 'Normal',
      ActivityDate: '2025-03-31',
      OwnerId: ALICE.id,
      Division: DIVISION_A,
      Description: 'Phase one',
    });
    const refused = run(FLOWS.projects, null, sfTask);
    expectKind(refused, 'invalid');
    expect(refused.problems[0]).toMatchObject({ code: 'unlinked_record', value: 'prj_1' });

    const linked = run(FLOWS.projects, null, sfTask, { counterpart: custompmsChange(project()) });
    expectKind(linked, 'update');
    // Only the one disagreeing field is a conflict; under `latest` the later Salesforce edit wins.
    expect(linked.conflicts).toEqual([
      expect.objectContaining({ field: 'projects.name', winner: 'salesforce', base: null }),
    ]);
    expect(linked.writes).toEqual([
      {
        side: 'custompms',
        action: 'update',
        id: 'prj_1',
        fields: { name: 'Website relaunch (SF)' },
        expectedVersion: 1,
      },
    ]);
    expect(linked.link).toMatchObject({ custompmsId: 'prj_1', salesforceId: SF_TASK_ID });
  });
});

describe('echo, order and duplicates', () => {
  const link = linkedProject();

  it('the Salesforce echo of our create writes nothing and advances the version', () => {
    const plan = run(FLOWS.projects, link, salesforceChange(salesforceRecord(link, T2)));
    expectKind(plan, 'skip');
    expect(plan.reason).toBe('echo');
    expect(plan.writes).toEqual([]);
    expect(plan.link?.salesforce.version).toBe(T2);
  });

  it('the same version again is a duplicate, an older one stale, unless replayed', () => {
    const duplicate = run(FLOWS.projects, link, custompmsChange(project()));
    expectKind(duplicate, 'skip');
    expect(duplicate.reason).toBe('duplicate');
    const older = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, '2024-12-31T00:00:00.000Z')),
    );
    expectKind(older, 'skip');
    expect(older.reason).toBe('stale');
    const replay = run(FLOWS.projects, link, custompmsChange(project(), { replay: true }));
    expectKind(replay, 'skip');
    expect(replay.reason).toBe('echo');
  });

  it('compares Salesforce modstamps as instants whatever their offset notation', () => {
    const plan = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, '2025-01-01T10:00:01.000+0000')),
    );
    expectKind(plan, 'skip');
    expect(plan.reason).toBe('duplicate');
  });

  it('a Salesforce change at the applied stamp with other values asks for a re-read, not a drop', () => {
    // Two edits within one second share a SystemModstamp; their messages may come in either order.
    const applied = link.salesforce.version as string;
    const sameSecond = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, applied, { Subject: 'edited twice in one second' })),
    );
    expectKind(sameSecond, 'skip');
    expect(sameSecond.reason).toBe('reread');
    expect(sameSecond.writes).toEqual([]);
    const reread = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, applied, { Subject: 'edited twice in one second' }), {
        replay: true,
      }),
    );
    expectKind(reread, 'update');
    expect(reread.writes).toEqual([
      expect.objectContaining({ side: 'custompms', fields: { name: 'edited twice in one second' } }),
    ]);
  });

  it('a truncated value stays an echo: each side is compared with what it holds', () => {
    const long = 'L'.repeat(300);
    const created = run(FLOWS.projects, null, custompmsChange(project({ name: long })));
    expectKind(created, 'create');
    expect(created.problems).toEqual([
      expect.objectContaining({ code: 'truncated', field: 'projects.name' }),
    ]);
    const stored = commit('projects', created, () => ({ id: SF_TASK_ID, version: T1 }))!;
    const echo = run(FLOWS.projects, stored, salesforceChange(salesforceRecord(stored, T2)));
    expect(echo).toMatchObject({ kind: 'skip', reason: 'echo' });
    const next = run(
      FLOWS.projects,
      echo.link,
      custompmsChange(project({ name: long, version: 2, description: 'New' })),
    );
    expectKind(next, 'update');
    expect(next.writes).toEqual([
      {
        side: 'salesforce',
        action: 'update',
        id: SF_TASK_ID,
        fields: { Description: 'New' },
        expectedVersion: T2,
      },
    ]);
    expect(next.problems).toEqual([]);
  });
});

describe('updates', () => {
  const link = linkedProject();

  it('writes only the changed fields, with the target version to check', () => {
    const plan = run(
      FLOWS.projects,
      link,
      custompmsChange(project({ version: 2, name: 'Relaunch', priority: 'high' })),
    );
    expectKind(plan, 'update');
    expect(plan.writes).toEqual([
      {
        side: 'salesforce',
        action: 'update',
        id: SF_TASK_ID,
        fields: { Subject: 'Relaunch', Priority: 'High' },
        expectedVersion: T1,
      },
    ]);
    expect(plan.link?.snapshot.custompms).toMatchObject({ name: 'Relaunch', priority: 'high' });
    expect(plan.link?.snapshot.salesforce).toMatchObject({ Subject: 'Relaunch', Priority: 'High' });
    expect(plan.link?.custompms.version).toBe(2);
  });

  it('carries a Salesforce edit to Custompms with If-Match on the known version', () => {
    const plan = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, T2, { Status: 'Completed', ActivityDate: null })),
    );
    expectKind(plan, 'update');
    expect(plan.writes).toEqual([
      {
        side: 'custompms',
        action: 'update',
        id: 'prj_1',
        fields: { status: 'completed', due_date: null },
        expectedVersion: 1,
      },
    ]);
  });

  it('never clears a field the outbound message could not carry (hidden from its send-as user)', () => {
    const visible: Record<string, unknown> = salesforceRecord(link, T2, { Subject: 'Renamed' });
    delete visible.Description;
    const hidden = run(FLOWS.projects, link, {
      ...salesforceChange(visible),
      unknownWhenAbsent: ['Description'],
    });
    expectKind(hidden, 'update');
    expect(hidden.writes[0]!.fields).toEqual({ name: 'Renamed' });
    expect(hidden.link?.snapshot.salesforce.Description).toBe(link.snapshot.salesforce.Description);
    // Without the hint an absent field is an empty one (the message leaves nulls out).
    const cleared = run(FLOWS.projects, link, salesforceChange(visible));
    expectKind(cleared, 'update');
    expect(cleared.writes[0]!.fields).toEqual({ name: 'Renamed', description: null });
  });

  it('writes nothing when an edit already agrees after mapping (Deferred is blocked)', () => {
    const linked = commit(
      'tasks',
      run(FLOWS.tasks, null, custompmsChange(task({ status: 'blocked' }))),
      () => ({ id: SF_TASK_ID, version: T1 }),
    )!;
    const plan = run(
      FLOWS.tasks,
      linked,
      salesforceChange(salesforceRecord(linked, T2, { Status: 'Deferred' })),
    );
    expectKind(plan, 'skip');
    expect(plan.reason).toBe('no_change');
    expect(plan.link?.snapshot.salesforce.Status).toBe('Deferred');
    const again = run(FLOWS.tasks, plan.link, salesforceChange(salesforceRecord(plan.link!, T3)));
    expect(again).toMatchObject({ kind: 'skip', reason: 'echo' });
  });

  it('reports an unmapped status, keeps the last synced value, and syncs it once the map has it', () => {
    const change = salesforceChange(salesforceRecord(link, T2, { Status: 'Escalated', Subject: 'Renamed' }));
    const plan = run(FLOWS.projects, link, change);
    expectKind(plan, 'update');
    expect(plan.writes[0]!.fields).toEqual({ name: 'Renamed' });
    expect(plan.problems).toEqual([expect.objectContaining({ code: 'unmapped_value', value: 'Escalated' })]);
    // The snapshot keeps the old value, so the status is still a pending change later.
    expect(plan.link?.snapshot.salesforce.Status).toBe('In Progress');

    const fixed = applyOverrides(FLOWS, {
      fields: [
        {
          flow: 'projects',
          key: 'projects.status',
          toCustompms: {
            ...FLOWS.projects.fields.find((f) => f.key === 'projects.status')!.toCustompms,
            Escalated: 'on_hold',
          },
        },
      ],
    }).definition;
    const replayed = run(fixed.projects, plan.link, { ...change, replay: true });
    expectKind(replayed, 'update');
    expect(replayed.writes[0]!.fields).toEqual({ status: 'on_hold' });
  });

  it('keeps going when one field cannot be written, and says why', () => {
    const plan = run(
      FLOWS.projects,
      link,
      custompmsChange(project({ version: 2, owner_email: SHARED_EMAIL, description: 'More' })),
    );
    expectKind(plan, 'update');
    expect(plan.writes[0]!.fields).toEqual({ Description: 'More' });
    expect(plan.problems).toEqual([expect.objectContaining({ code: 'owner_ambiguous', severity: 'error' })]);
  });

  it('an owner with no active user goes to the integration user, reported', () => {
    const plan = run(
      FLOWS.projects,
      link,
      custompmsChange(project({ version: 2, owner_email: 'new@example.com' })),
    );
    expectKind(plan, 'update');
    expect(plan.writes[0]!.fields).toEqual({ OwnerId: INTEGRATION_USER });
    expect(plan.problems).toEqual([expect.objectContaining({ code: 'owner_not_found' })]);
  });

  it('waits when the new customer has no Division yet', () => {
    const plan = run(
      FLOWS.projects,
      link,
      custompmsChange(project({ version: 2, customer_id: CUSTOMER_NO_DIVISION })),
    );
    expectKind(plan, 'wait_for_dependency');
    expect(plan.missing).toEqual([{ kind: 'customer_division', customerId: CUSTOMER_NO_DIVISION }]);
  });

  it('re-derives a task’s Division when its project moved to another customer', () => {
    const linked = commit('tasks', run(FLOWS.tasks, null, custompmsChange(task())), () => ({
      id: SF_TASK_ID,
      version: T1,
    }))!;
    expect(linked.snapshot.salesforce.Division).toBe(DIVISION_A);
    const moved = context({ linkedProjects: new Map([[PROJECT_A, { customerId: CUSTOMER_B }]]) });
    const plan = run(FLOWS.tasks, linked, custompmsChange(task(), { replay: true }), { context: moved });
    expectKind(plan, 'update');
    expect(plan.writes[0]!.fields).toEqual({ Division: DIVISION_B });
  });

  it('puts back a product marker a user cleared in Salesforce', () => {
    const plan = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, T2, { Custompms_Id__c: null })),
    );
    expectKind(plan, 'update');
    expect(plan.writes).toEqual([
      expect.objectContaining({ side: 'salesforce', fields: { Custompms_Id__c: 'prj_1' } }),
    ]);
  });

  it('refuses a record of another flow and a change for another record', () => {
    const wrongType = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, T2, { Custompms_Type__c: 'Task' })),
    );
    expectKind(wrongType, 'invalid');
    expect(wrongType.problems[0]!.code).toBe('flow_mismatch');
    const wrongId = run(FLOWS.projects, link, custompmsChange(project({ id: 'prj_2', version: 2 })));
    expectKind(wrongId, 'invalid');
    expect(wrongId.problems[0]!.code).toBe('bad_change');
  });

  it.each([
    [{ version: undefined }, 'version'],
    [{ version: 'seven' }, 'version'],
    [{ record: null }, 'current state'],
    [{ id: '' }, 'id'],
  ])('refuses a malformed change %j', (extra, message) => {
    const plan = run(FLOWS.projects, link, custompmsChange(project({ version: 2 }), extra));
    expectKind(plan, 'invalid');
    expect(plan.problems[0]!.message).toContain(message);
  });
});

describe('conflicts', () => {
  const link = linkedProject();
  const edited = (name: string, at: string) => custompmsChange(project({ version: 2, name, updated_at: at }));
  const sfEdited = (subject: string, at: string) =>
    salesforceChange(salesforceRecord(link, at, { Subject: subject }));

  it('resolves a field changed on both sides by the latest edit, and records it', () => {
    const plan = run(FLOWS.projects, link, sfEdited('From Salesforce', T3), {
      counterpart: edited('From Custompms', T2),
    });
    expectKind(plan, 'update');
    expect(plan.conflicts).toEqual([
      {
        field: 'projects.name',
        custompmsField: 'name',
        salesforceField: 'Subject',
        custompmsValue: 'From Custompms',
        salesforceValue: 'From Salesforce',
        base: { custompms: 'Website relaunch', salesforce: 'Website relaunch' },
        winner: 'salesforce',
        policy: 'latest',
      },
    ]);
    expect(plan.writes).toEqual([
      {
        side: 'custompms',
        action: 'update',
        id: 'prj_1',
        fields: { name: 'From Salesforce' },
        expectedVersion: 2,
      },
    ]);
    const earlier = run(FLOWS.projects, link, sfEdited('From Salesforce', T2), {
      counterpart: edited('From Custompms', T3),
    });
    expect(earlier.conflicts[0]!.winner).toBe('custompms');
    expect(earlier.writes[0]).toMatchObject({ side: 'salesforce', fields: { Subject: 'From Custompms' } });
  });

  it.each(['custompms', 'salesforce'] as const)('a fixed policy (%s) wins whatever the times', (policy) => {
    const flow = applyOverrides(FLOWS, { flows: [{ flow: 'projects', conflictPolicy: policy }] }).definition
      .projects;
    for (const [sfAt, cpAt] of [
      [T2, T3],
      [T3, T2],
    ]) {
      const plan = run(flow, link, sfEdited('S', sfAt!), { counterpart: edited('C', cpAt!) });
      expect(plan.conflicts).toEqual([expect.objectContaining({ winner: policy, policy })]);
    }
  });

  it('edits of different fields on both sides both go through, to both sides', () => {
    const plan = run(FLOWS.projects, link, sfEdited('From Salesforce', T3), {
      counterpart: custompmsChange(project({ version: 2, description: 'From Custompms' })),
    });
    expectKind(plan, 'update');
    expect(plan.conflicts).toEqual([]);
    expect(plan.writes).toEqual([
      {
        side: 'custompms',
        action: 'update',
        id: 'prj_1',
        fields: { name: 'From Salesforce' },
        expectedVersion: 2,
      },
      {
        side: 'salesforce',
        action: 'update',
        id: SF_TASK_ID,
        fields: { Description: 'From Custompms' },
        expectedVersion: T3,
      },
    ]);
  });

  it('the same edit on both sides is no conflict', () => {
    const plan = run(FLOWS.projects, link, sfEdited('Same', T3), { counterpart: edited('Same', T2) });
    expectKind(plan, 'skip');
    expect(plan.reason).toBe('no_change');
    expect(plan.conflicts).toEqual([]);
  });

  it('a stale counterpart is left out', () => {
    const plan = run(FLOWS.projects, link, sfEdited('S', T3), {
      counterpart: custompmsChange(project({ name: 'C' })),
    });
    expect(plan.conflicts).toEqual([]);
    expect(plan.writes).toEqual([expect.objectContaining({ side: 'custompms', fields: { name: 'S' } })]);
  });
});

describe('deletes', () => {
  const link = linkedProject();
  const cpDelete = custompmsChange(project(), { operation: 'delete', version: null, record: null });
  const sfDelete: Change = { side: 'salesforce', operation: 'delete', id: SF_TASK_ID };

  it('a deleted project deletes its Task; the Task’s delete event then changes nothing', () => {
    const plan = run(FLOWS.projects, link, cpDelete);
    expectKind(plan, 'delete');
    expect(plan.writes).toEqual([
      { side: 'salesforce', action: 'delete', id: SF_TASK_ID, fields: {}, expectedVersion: T1 },
    ]);
    expect(plan.link).toMatchObject({ custompms: { deleted: true }, salesforce: { deleted: true } });
    // Salesforce's delete event for our delete: the side is already marked deleted.
    const echo = run(FLOWS.projects, plan.link, sfDelete);
    expect(echo).toMatchObject({ kind: 'skip', reason: 'duplicate', writes: [] });
    expect(run(FLOWS.projects, plan.link, cpDelete)).toMatchObject({ kind: 'skip', reason: 'duplicate' });
  });

  it('a deleted Salesforce Task deletes the Custompms task', () => {
    const plan = run(FLOWS.projects, link, sfDelete);
    expectKind(plan, 'delete');
    expect(plan.writes).toEqual([
      { side: 'custompms', action: 'delete', id: 'prj_1', fields: {}, expectedVersion: 1 },
    ]);
  });

  it('a late state of a deleted record is stale', () => {
    const deleted = run(FLOWS.projects, link, sfDelete).link!;
    const late = run(
      FLOWS.projects,
      deleted,
      salesforceChange(salesforceRecord(link, T3, { Subject: 'late' })),
    );
    expect(late).toMatchObject({ kind: 'skip', reason: 'stale' });
  });

  it('a deleted customer deactivates its Division', () => {
    const division = commit('customers', run(FLOWS.customers, null, custompmsChange(customer())), () => ({
      id: DIVISION_A,
      version: T1,
    }))!;
    const plan = run(
      FLOWS.customers,
      division,
      custompmsChange(customer(), { operation: 'delete', record: null }),
    );
    expectKind(plan, 'deactivate');
    expect(plan.writes).toEqual([
      {
        side: 'salesforce',
        action: 'update',
        id: DIVISION_A,
        fields: { IsActive: false },
        expectedVersion: T1,
      },
    ]);
    // The poller then sees the inactive Division: an echo.
    const polled = run(
      FLOWS.customers,
      plan.link,
      salesforceChange({ Id: DIVISION_A, SystemModstamp: T2, Name: 'ACME', IsActive: false }),
    );
    expect(polled).toMatchObject({ kind: 'skip' });
    expect(polled.writes).toEqual([]);
  });

  it('a deactivated Division deactivates the customer (a field change, not a delete)', () => {
    const division = commit('customers', run(FLOWS.customers, null, custompmsChange(customer())), () => ({
      id: DIVISION_A,
      version: T1,
    }))!;
    const plan = run(
      FLOWS.customers,
      division,
      salesforceChange({ Id: DIVISION_A, SystemModstamp: T2, Name: 'ACME', IsActive: false }),
    );
    expectKind(plan, 'update');
    expect(plan.writes[0]).toMatchObject({ side: 'custompms', fields: { is_active: false } });
  });

  it('policy unlink keeps the Task and clears its Custompms markers', () => {
    const flow = applyOverrides(FLOWS, { flows: [{ flow: 'projects', deletePolicy: 'unlink' }] }).definition
      .projects;
    const plan = run(flow, link, cpDelete);
    expectKind(plan, 'unlink');
    expect(plan.writes).toEqual([
      {
        side: 'salesforce',
        action: 'update',
        id: SF_TASK_ID,
        fields: { Custompms_Id__c: null, Custompms_Type__c: null },
        expectedVersion: T1,
      },
    ]);
    expect(plan.link?.status).toBe('unlinked');
    const later = run(flow, plan.link, salesforceChange(salesforceRecord(link, T3, { Subject: 'x' })));
    expect(later).toMatchObject({ kind: 'skip', reason: 'ignored' });
  });

  it('policy ignore keeps both and ignores the survivor’s later changes', () => {
    const flow = applyOverrides(FLOWS, { flows: [{ flow: 'projects', deletePolicy: 'ignore' }] }).definition
      .projects;
    const plan = run(flow, link, sfDelete);
    expect(plan).toMatchObject({ kind: 'skip', reason: 'ignored', writes: [] });
    const later = run(flow, plan.link, custompmsChange(project({ version: 2, name: 'x' })));
    expect(later).toMatchObject({ kind: 'skip', reason: 'ignored', writes: [] });
  });

  it('an undeleted Task whose project was deleted meanwhile restores the project as a new record', () => {
    const deleted = run(FLOWS.projects, link, sfDelete);
    const stored = commit('projects', deleted)!;
    const plan = run(
      FLOWS.projects,
      stored,
      salesforceChange(salesforceRecord(link, T3), { operation: 'undelete' }),
    );
    expectKind(plan, 'create');
    expect(plan.writes[0]).toMatchObject({
      side: 'custompms',
      action: 'create',
      fields: { name: 'Website relaunch' },
    });
  });

  it('a delete with no link is ignored', () => {
    expect(run(FLOWS.projects, null, sfDelete)).toMatchObject({ kind: 'skip', reason: 'ignored' });
  });
});

describe('applyWriteResult', () => {
  const link = linkedProject();

  it('after a blind write, an older notification is read for everything but the written fields', () => {
    const update = run(FLOWS.projects, link, custompmsChange(project({ version: 2, name: 'Renamed' })));
    expectKind(update, 'update');
    // The Salesforce upsert is blind: its modstamp is remembered for Subject only.
    const written = applyWriteResult(FLOWS.projects, context(), update.link!, update.writes[0]!, {
      version: T3,
    }).link;
    expect(written.salesforce).toMatchObject({ version: T1, written: { Subject: T3 } });
    // A user's edit from just before our write: its Subject predates ours, its Status is news.
    const before = run(
      FLOWS.projects,
      written,
      salesforceChange(salesforceRecord(link, T2, { Subject: 'Website relaunch', Status: 'Completed' })),
    );
    expectKind(before, 'update');
    expect(before.writes).toEqual([
      expect.objectContaining({ side: 'custompms', fields: { status: 'completed' } }),
    ]);
    expect(before.link?.salesforce.written).toEqual({ Subject: T3 });
    // The notification of our write itself is read too (it could carry someone else's edit), and is an echo here.
    const echo = run(FLOWS.projects, before.link, salesforceChange(salesforceRecord(before.link!, T3)));
    expect(echo).toMatchObject({ kind: 'skip', reason: 'echo' });
    expect(echo.link?.salesforce.written).toBeUndefined();
  });

  it("a notification in the same second as a blind write, with the field's old value, is read again", () => {
    const update = run(FLOWS.projects, link, custompmsChange(project({ version: 2, name: 'Renamed' })));
    expectKind(update, 'update');
    const written = applyWriteResult(FLOWS.projects, context(), update.link!, update.writes[0]!, {
      version: T3,
    }).link;
    // Sent before our write landed, in the same SystemModstamp second: Subject is the old one.
    const racing = salesforceChange(
      salesforceRecord(link, T3, { Subject: 'Website relaunch', Status: 'Completed' }),
    );
    expect(run(FLOWS.projects, written, racing)).toMatchObject({ kind: 'skip', reason: 'reread' });
    // The record read again is current: planned with replay, a differing value is an edit.
    const reread = salesforceChange(
      salesforceRecord(link, T3, { Subject: 'Renamed again', Status: 'Completed' }),
    );
    const replayed = run(FLOWS.projects, written, { ...reread, replay: true });
    expectKind(replayed, 'update');
    expect(replayed.writes).toEqual([
      expect.objectContaining({ side: 'custompms', fields: { name: 'Renamed again', status: 'completed' } }),
    ]);
  });

  it('marks a conditional write applied, so its notification is a duplicate', () => {
    const update = run(
      FLOWS.projects,
      link,
      salesforceChange(salesforceRecord(link, T2, { Subject: 'From SF' })),
    );
    expectKind(update, 'update');
    const applied = applyWriteResult(FLOWS.projects, context(), update.link!, update.writes[0]!, {
      version: 2,
      conditional: true,
    }).link;
    const notification = run(
      FLOWS.projects,
      applied,
      custompmsChange(project({ version: 2, name: 'From SF' })),
    );
    expect(notification).toMatchObject({ kind: 'skip', reason: 'duplicate' });
  });

  it('never moves a version backwards and reads the stored record into the snapshot', () => {
    const write = {
      side: 'custompms' as const,
      action: 'update' as const,
      id: 'prj_1',
      fields: {},
      expectedVersion: 1,
    };
    const older = applyWriteResult(
      FLOWS.projects,
      context(),
      { ...link, custompms: { ...link.custompms, version: 5 } },
      write,
      {
        version: 3,
      },
    );
    expect(older.link.custompms.version).toBe(5);
    const stored = applyWriteResult(FLOWS.projects, context(), link, write, {
      version: 6,
      conditional: true,
      record: project({ name: 'Normalised by Custompms', version: 6 }),
    });
    expect(stored.link.custompms.version).toBe(6);
    expect(stored.link.snapshot.custompms.name).toBe('Normalised by Custompms');
    expect(stored.followUps).toEqual([]);
  });
});

describe('isOwnCustompmsWrite', () => {
  const write = {
    side: 'custompms' as const,
    action: 'update' as const,
    id: 'prj_1',
    fields: { name: 'From SF', status: 'completed' },
    expectedVersion: 1,
  };

  it('recognises the next version holding the written values as the write', () => {
    expect(
      isOwnCustompmsWrite(
        FLOWS.projects,
        write,
        project({ version: 2, name: 'From SF', status: 'completed' }),
      ),
    ).toBe(true);
  });

  it('a later version, other values or another kind of write are not it', () => {
    const written = { name: 'From SF', status: 'completed' };
    expect(isOwnCustompmsWrite(FLOWS.projects, write, project({ version: 3, ...written }))).toBe(false);
    expect(
      isOwnCustompmsWrite(FLOWS.projects, write, project({ version: 2, ...written, name: 'Other' })),
    ).toBe(false);
    expect(
      isOwnCustompmsWrite(
        FLOWS.projects,
        { ...write, expectedVersion: null },
        project({ version: 2, ...written }),
      ),
    ).toBe(false);
    expect(
      isOwnCustompmsWrite(
        FLOWS.projects,
        { ...write, action: 'create' },
        project({ version: 2, ...written }),
      ),
    ).toBe(false);
  });
});

describe('withLaterSides: a Salesforce result recorded after the link moved on', () => {
  const base = linkedProject();

  /** A Custompms edit planned on `base`, its blind Salesforce write answered at `writtenAt`. */
  function foldedWrite(writtenAt: string): Link {
    const update = run(
      FLOWS.projects,
      base,
      custompmsChange(project({ version: 2, name: 'From Custompms' })),
    );
    expectKind(update, 'update');
    return applyWriteResult(FLOWS.projects, context(), update.link!, update.writes[0]!, {
      version: writtenAt,
    }).link;
  }

  /** Meanwhile a user's Salesforce edit (at T2) was applied to Custompms (version 3). */
  function movedOn(): Link {
    const edit = run(
      FLOWS.projects,
      base,
      salesforceChange(salesforceRecord(base, T2, { Subject: 'From SF' })),
    );
    expectKind(edit, 'update');
    return applyWriteResult(FLOWS.projects, context(), edit.link!, edit.writes[0]!, {
      version: 3,
      conditional: true,
    }).link;
  }

  it('is the planned link when nothing moved', () => {
    const folded = foldedWrite(T3);
    expect(withLaterSides(base, folded)).toBe(folded);
    expect(withLaterSides(undefined, folded)).toBe(folded);
  });

  it('keeps the later state of each side: an older result does not take the link back', () => {
    const current = movedOn();
    const merged = withLaterSides(current, foldedWrite(T1));
    expect(merged.custompms.version).toBe(3);
    expect(merged.salesforce.version).toBe(T2);
    expect(merged.snapshot.salesforce.Subject).toBe('From SF');
    // The user's next Salesforce edit is a plain update, not a conflict with the sync's own write.
    const next = run(
      FLOWS.projects,
      merged,
      salesforceChange(salesforceRecord(merged, T3, { Subject: 'Again' })),
    );
    expectKind(next, 'update');
    expect(next.conflicts).toEqual([]);
    expect(next.writes).toEqual([
      expect.objectContaining({ side: 'custompms', fields: { name: 'Again' }, expectedVersion: 3 }),
    ]);
  });

  it('a result written after the kept state records what Salesforce now holds for its fields', () => {
    const current = movedOn();
    const merged = withLaterSides(current, foldedWrite(T3));
    expect(merged.custompms.version).toBe(3);
    expect(merged.salesforce).toMatchObject({ version: T2, written: { Subject: T3 } });
    expect(merged.snapshot.salesforce.Subject).toBe('From Custompms');
  });
});
