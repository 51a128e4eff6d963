/**
 * Property-based proof of the sync core (fast-check):
 * 1. Custompms → Salesforce → Custompms is the identity on every value the maps can represent
 *    (and Salesforce → Custompms → Salesforce on every value Custompms can hold back).
 * 2. Any interleaving of user edits on both sides, with notifications delivered late, out of
 *    order and more than once, converges both sides to the same state; no notification is
 *    applied twice, and no echo of the proxy's own writes produces a write. (A blind Salesforce
 *    write can land on a record someone edited a moment before; the notification of that write
 *    then carries their edit too, which must sync. Such a notification is news, not an echo.)
 * 3. A conflict is reported exactly when the same field changed on both sides (to values that
 *    disagree), and the policy picks its winner.
 */
import fc from 'fast-check';
import {
  FLOWS,
  applyOverrides,
  applyWriteResult,
  mapRecord,
  planChange,
  type Change,
  type FlowDefinition,
  type FlowName,
  type Link,
  type RawRecord,
  type Scalar,
} from '../../../proxy/src/sync';
import {
  ALICE,
  BOB,
  CUSTOMER_A,
  CUSTOMER_B,
  DIVISION_A,
  DIVISION_B,
  INTEGRATION_USER,
  PROJECT_A,
  PROJECT_B,
  SF_TASK_ID,
  commit,
  context,
  custompmsChange,
  project,
  task,
} from './fixtures';

const ctx = context();

/** A both-ways field and the values each side may hold (all representable on the other side). */
interface Editable {
  readonly custompms: string;
  readonly salesforce: string;
  readonly custompmsValues: readonly Scalar[];
  readonly salesforceValues: readonly Scalar[];
}

const LONG_NAME = 'L'.repeat(300);
const SHARED: Record<string, Omit<Editable, 'custompms'>> = {
  description: {
    salesforce: 'Description',
    custompmsValues: [null, 'first', 'second'],
    salesforceValues: [null, 'first', 'third'],
  },
  priority: {
    salesforce: 'Priority',
    custompmsValues: ['low', 'normal', 'high'],
    salesforceValues: ['Low', 'Normal', 'High'],
  },
  due_date: {
    salesforce: 'ActivityDate',
    custompmsValues: [null, '2025-01-01', '2024-02-29'],
    salesforceValues: [null, '2025-01-01', '2025-12-31'],
  },
};

const EDITABLE: Record<'projects' | 'tasks', readonly Editable[]> = {
  projects: [
    {
      custompms: 'name',
      salesforce: 'Subject',
      custompmsValues: ['Alpha', 'Beta', LONG_NAME],
      salesforceValues: ['Alpha', 'Gamma'],
    },
    ...Object.entries(SHARED).map(([custompms, rest]) => ({ custompms, ...rest })),
    {
      custompms: 'status',
      salesforce: 'Status',
      custompmsValues: ['planned', 'active', 'on_hold', 'completed', 'cancelled'],
      salesforceValues: ['Not Started', 'In Progress', 'Waiting on someone else', 'Completed', 'Deferred'],
    },
    {
      custompms: 'owner_email',
      salesforce: 'OwnerId',
      custompmsValues: [null, ALICE.email, BOB.email, 'nobody@example.com'],
      salesforceValues: [INTEGRATION_USER, ALICE.id, BOB.id],
    },
    {
      custompms: 'customer_id',
      salesforce: 'Division',
      custompmsValues: [CUSTOMER_A, CUSTOMER_B],
      salesforceValues: [DIVISION_A, DIVISION_B],
    },
  ],
  tasks: [
    {
      custompms: 'title',
      salesforce: 'Subject',
      custompmsValues: ['Alpha', 'Beta', LONG_NAME],
      salesforceValues: ['Alpha', 'Gamma'],
    },
    ...Object.entries(SHARED).map(([custompms, rest]) => ({ custompms, ...rest })),
    {
      custompms: 'status',
      salesforce: 'Status',
      custompmsValues: ['todo', 'in_progress', 'blocked', 'done'],
      // `Deferred` comes back as `blocked`: the lossy direction is part of the test.
      salesforceValues: ['Not Started', 'In Progress', 'Waiting on someone else', 'Deferred', 'Completed'],
    },
    {
      custompms: 'assignee_email',
      salesforce: 'OwnerId',
      custompmsValues: [null, ALICE.email, BOB.email],
      salesforceValues: [INTEGRATION_USER, ALICE.id, BOB.id],
    },
    {
      custompms: 'project_id',
      salesforce: 'Custompms_Project_Id__c',
      custompmsValues: [PROJECT_A, PROJECT_B],
      salesforceValues: [PROJECT_A, PROJECT_B],
    },
  ],
};

function toSalesforce(flow: FlowName, record: RawRecord) {
  return mapRecord(flow, FLOWS[flow].fields, 'custompms', record, ctx);
}

function toCustompms(flow: FlowName, record: RawRecord) {
  return mapRecord(flow, FLOWS[flow].fields, 'salesforce', record, ctx);
}

/** Any real calendar date, built from parts so no time zone is involved. */
const calendarDate = fc
  .record({
    year: fc.integer({ min: 1700, max: 2999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
  })
  .filter(({ year, month, day }) => day <= new Date(Date.UTC(year, month, 0)).getUTCDate())
  .map(({ year, month, day }) => `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`);

const text = (max: number) => fc.string({ minLength: 1, maxLength: max, unit: 'binary' });
const optionalText = (max: number) => fc.option(text(max), { nil: null });

describe('property 1: round trips are the identity on representable values', () => {
  const projects = fc.record({
    id: fc.constant('prj_1'),
    name: text(255),
    description: optionalText(2000),
    status: fc.constantFrom('planned', 'active', 'on_hold', 'completed', 'cancelled'),
    priority: fc.constantFrom('low', 'normal', 'high', null),
    due_date: fc.option(calendarDate, { nil: null }),
    owner_email: fc.constantFrom(null, ALICE.email, BOB.email),
    customer_id: fc.constantFrom(CUSTOMER_A, CUSTOMER_B),
  });
  const tasks = fc.record({
    id: fc.constant('tsk_1'),
    title: text(255),
    description: optionalText(2000),
    status: fc.constantFrom('todo', 'in_progress', 'blocked', 'done', null),
    priority: fc.constantFrom('low', 'normal', 'high'),
    due_date: fc.option(calendarDate, { nil: null }),
    assignee_email: fc.constantFrom(null, ALICE.email, BOB.email),
    project_id: fc.constantFrom(PROJECT_A, PROJECT_B),
  });
  const customers = fc.record({ id: fc.constant('cus_1'), name: text(80), is_active: fc.boolean() });

  it.each([
    ['projects', projects],
    ['tasks', tasks],
    ['customers', customers],
  ] as const)('%s: Custompms → Salesforce → Custompms', (flow, records) => {
    fc.assert(
      fc.property(records as fc.Arbitrary<Record<string, Scalar>>, (record) => {
        const there = toSalesforce(flow, record);
        expect(there.problems).toEqual([]);
        expect(there.waits).toEqual([]);
        const back = toCustompms(flow, there.values);
        expect(back.problems).toEqual([]);
        const { id: _id, ...properties } = record;
        expect(back.values).toEqual(properties);
      }),
    );
  });

  it('tasks and projects: Salesforce → Custompms → Salesforce for every value Custompms holds back', () => {
    const statuses: Record<'projects' | 'tasks', string[]> = {
      projects: ['Not Started', 'In Progress', 'Waiting on someone else', 'Completed', 'Deferred'],
      tasks: ['Not Started', 'In Progress', 'Waiting on someone else', 'Completed'],
    };
    const sfRecords = fc.constantFrom('projects' as const, 'tasks' as const).chain((flow) =>
      fc.record({
        flow: fc.constant(flow),
        record: fc.record<Record<string, unknown>>({
          Subject: text(255),
          Description: optionalText(500),
          Status: fc.constantFrom(...statuses[flow]),
          Priority: fc.constantFrom('Low', 'Normal', 'High'),
          ActivityDate: fc.option(calendarDate, { nil: null }),
          OwnerId: fc.constantFrom(INTEGRATION_USER, ALICE.id, BOB.id),
          ...(flow === 'projects'
            ? { Division: fc.constantFrom(DIVISION_A, DIVISION_B) }
            : { Custompms_Project_Id__c: fc.constantFrom(PROJECT_A, PROJECT_B) }),
        }),
      }),
    );
    fc.assert(
      fc.property(sfRecords, ({ flow, record }) => {
        const back = toCustompms(flow, record);
        expect(back.problems).toEqual([]);
        const there = toSalesforce(flow, back.values);
        for (const [field, value] of Object.entries(record)) expect(there.values[field]).toEqual(value);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property 2: a simulated world. Custompms answers PATCH with If-Match (409 when the version
// moved on); Salesforce writes blindly (the Apex upsert path). Every record change emits a
// notification carrying the state at that moment; notifications are delivered in any order, any
// number of times. The proxy processes one notification at a time per link (as the job queue
// does), re-planning with the fetched record as counterpart when a PATCH gets 409.
// ---------------------------------------------------------------------------------------------

interface Notification {
  readonly side: 'custompms' | 'salesforce';
  readonly version: number | string;
  readonly state: RawRecord;
  /**
   * Emitted by a proxy write on a record holding nothing the proxy has not seen: a pure echo.
   * (A blind write onto a record with an unseen user edit emits news, not an echo.)
   */
  readonly echo: boolean;
}

type Command =
  | {
      readonly type: 'edit';
      readonly side: 'custompms' | 'salesforce';
      readonly edits: ReadonlyArray<[number, number]>;
    }
  | { readonly type: 'deliver'; readonly pick: number }
  | { readonly type: 'redeliver'; readonly pick: number };

function stamp(clock: number): string {
  return new Date(Date.UTC(2025, 0, 2) + clock * 1000).toISOString();
}

class World {
  clock = 0;
  custompms: Record<string, unknown>;
  salesforce: Record<string, unknown>;
  link: Link;
  pending: Notification[] = [];
  delivered: Notification[] = [];
  /** `side:version` → number of processings of that notification that wrote something. */
  readonly applied = new Map<string, number>();
  echoWrites = 0;
  refusals = 0;
  /** Salesforce holds a user edit the proxy has not processed a notification of yet. */
  salesforceUnseen = false;
  conflicts = 0;

  constructor(
    readonly flow: FlowDefinition,
    readonly salesforceVersionKnown: boolean,
  ) {
    const record = flow.name === 'projects' ? project() : task();
    const created = planChange({ flow, context: ctx, link: null, change: custompmsChange(record) });
    if (created.kind !== 'create') throw new Error(created.kind);
    const modstamp = stamp(this.tick());
    this.link = commit(flow.name, created, () => ({ id: SF_TASK_ID, version: modstamp }))!;
    this.custompms = { ...record };
    this.salesforce = { Id: SF_TASK_ID, SystemModstamp: modstamp, ...created.writes[0]!.fields };
  }

  tick(): number {
    this.clock += 1;
    return this.clock;
  }

  private changeCustompms(fields: Record<string, unknown>, echo: boolean): number {
    const version = (this.custompms.version as number) + 1;
    this.custompms = { ...this.custompms, ...fields, version, updated_at: stamp(this.tick()) };
    this.pending.push({ side: 'custompms', version, state: this.custompms, echo });
    return version;
  }

  private changeSalesforce(fields: Record<string, unknown>, echo: boolean): string {
    const modstamp = stamp(this.tick());
    this.salesforce = { ...this.salesforce, ...fields, SystemModstamp: modstamp };
    this.pending.push({ side: 'salesforce', version: modstamp, state: this.salesforce, echo });
    return modstamp;
  }

  run(command: Command): void {
    if (command.type === 'edit') {
      const fields: Record<string, unknown> = {};
      for (const [field, value] of command.edits) {
        const editable = EDITABLE[this.flow.name as 'projects' | 'tasks'][field]!;
        if (command.side === 'custompms') {
          fields[editable.custompms] = editable.custompmsValues[value % editable.custompmsValues.length];
        } else {
          fields[editable.salesforce] = editable.salesforceValues[value % editable.salesforceValues.length];
        }
      }
      if (command.side === 'custompms') this.changeCustompms(fields, false);
      else {
        this.changeSalesforce(fields, false);
        this.salesforceUnseen = true;
      }
    } else if (command.type === 'deliver' && this.pending.length > 0) {
      const [notification] = this.pending.splice(command.pick % this.pending.length, 1);
      this.process(notification!);
      this.delivered.push(notification!);
    } else if (command.type === 'redeliver' && this.delivered.length > 0) {
      this.process(this.delivered[command.pick % this.delivered.length]!);
    }
  }

  /** Delivers everything still pending (including the echoes that delivery produces). */
  drain(): void {
    for (let steps = 0; this.pending.length > 0; steps += 1) {
      if (steps > 500) throw new Error('the sync does not settle');
      this.run({ type: 'deliver', pick: 0 });
    }
  }

  private toChange(notification: Notification): Change {
    const state = notification.state;
    return {
      side: notification.side,
      operation: 'upsert',
      id: String(notification.side === 'custompms' ? state.id : state.Id),
      version: notification.version,
      modifiedAt: notification.side === 'custompms' ? (state.updated_at as string) : null,
      record: state,
    };
  }

  private process(notification: Notification): void {
    if (notification.side === 'salesforce' && notification.version === this.salesforce.SystemModstamp) {
      this.salesforceUnseen = false;
    }
    const change = this.toChange(notification);
    let counterpart: Change | undefined;
    let wrote = false;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const plan = planChange({ flow: this.flow, context: ctx, link: this.link, change, counterpart });
      if (plan.kind === 'invalid' || plan.kind === 'wait_for_dependency') {
        throw new Error(`unexpected ${plan.kind}: ${JSON.stringify(plan.problems)}`);
      }
      this.conflicts += plan.conflicts.length;
      let link = plan.link;
      let refused = false;
      for (const write of plan.writes) {
        if (write.action !== 'update') throw new Error(`unexpected ${write.action}`);
        if (write.side === 'custompms' && write.expectedVersion !== this.custompms.version) {
          // 409: someone edited Custompms meanwhile. Fetch it and plan again with it.
          counterpart = this.toChange({
            side: 'custompms',
            version: this.custompms.version as number,
            state: this.custompms,
            echo: false,
          });
          refused = true;
          this.refusals += 1;
          break;
        }
        wrote = true;
        // Conditional writes only land on what the proxy has seen; a blind write may not.
        const pure = write.side === 'custompms' || !this.salesforceUnseen;
        const version =
          write.side === 'custompms'
            ? this.changeCustompms(write.fields, pure)
            : this.changeSalesforce(write.fields, pure);
        const known = write.side === 'custompms' || this.salesforceVersionKnown;
        // Custompms PATCHes are conditional (If-Match); Salesforce upserts are blind.
        const result = known ? { version, conditional: write.side === 'custompms' } : {};
        link = applyWriteResult(this.flow, ctx, link!, write, result).link;
      }
      if (refused) continue;
      if (link !== null) this.link = link;
      break;
    }
    if (wrote) {
      const key = `${notification.side}:${notification.version}`;
      this.applied.set(key, (this.applied.get(key) ?? 0) + 1);
      if (notification.echo) this.echoWrites += 1;
    }
  }

  /** Fields on which the two records disagree (each compared through the maps, as the planner does). */
  disagreements(): string[] {
    const flow = this.flow.name;
    const there = toSalesforce(flow, this.custompms).values;
    const back = toCustompms(flow, this.salesforce).values;
    const mismatches = EDITABLE[flow as 'projects' | 'tasks']
      .filter(
        (editable) =>
          there[editable.salesforce] !== this.salesforce[editable.salesforce] &&
          back[editable.custompms] !== this.custompms[editable.custompms],
      )
      .map((editable) => editable.custompms);
    // The task's Division is derived from its project: it must match exactly.
    if (flow === 'tasks' && there.Division !== this.salesforce.Division) mismatches.push('Division');
    return mismatches;
  }
}

const commands = (flow: 'projects' | 'tasks'): fc.Arbitrary<Command[]> => {
  const fields = EDITABLE[flow].length;
  const edit = fc.record({
    type: fc.constant('edit' as const),
    side: fc.constantFrom('custompms' as const, 'salesforce' as const),
    edits: fc.array(fc.tuple(fc.integer({ min: 0, max: fields - 1 }), fc.nat(10)), {
      minLength: 1,
      maxLength: 3,
    }),
  });
  const deliver = fc.record({ type: fc.constant('deliver' as const), pick: fc.nat() });
  const redeliver = fc.record({ type: fc.constant('redeliver' as const), pick: fc.nat() });
  return fc.array(
    fc.oneof(
      { arbitrary: edit, weight: 2 },
      { arbitrary: deliver, weight: 3 },
      { arbitrary: redeliver, weight: 1 },
    ),
    {
      maxLength: 60,
    },
  );
};

describe('property 2: any interleaving converges, applies nothing twice, and echoes write nothing', () => {
  it.each(['projects', 'tasks'] as const)('%s, Salesforce write versions reported', (flowName) => {
    fc.assert(
      fc.property(commands(flowName), (script) => {
        const world = new World(FLOWS[flowName], true);
        for (const command of script) world.run(command);
        world.drain();
        expect(world.disagreements()).toEqual([]);
        expect([...world.applied.values()].every((count) => count === 1)).toBe(true);
        expect(world.echoWrites).toBe(0);
        // Redelivering everything after settling writes nothing either.
        const settled = { custompms: world.custompms, salesforce: world.salesforce };
        for (let index = 0; index < world.delivered.length; index += 1)
          world.run({ type: 'redeliver', pick: index });
        expect(world.custompms).toBe(settled.custompms);
        expect(world.salesforce).toBe(settled.salesforce);
        expect(world.pending).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it.each(['projects', 'tasks'] as const)(
    '%s, Salesforce write versions unknown (Apex results carry none): still converges, nothing applied twice',
    (flowName) => {
      fc.assert(
        fc.property(commands(flowName), (script) => {
          const world = new World(FLOWS[flowName], false);
          for (const command of script) world.run(command);
          world.drain();
          expect(world.disagreements()).toEqual([]);
          expect([...world.applied.values()].every((count) => count === 1)).toBe(true);
        }),
        { numRuns: 300 },
      );
    },
  );

  it.each(['custompms', 'salesforce'] as const)('converges under the %s policy too', (policy) => {
    const flow = applyOverrides(FLOWS, { flows: [{ flow: 'projects', conflictPolicy: policy }] }).definition
      .projects;
    fc.assert(
      fc.property(commands('projects'), (script) => {
        const world = new World(flow, true);
        for (const command of script) world.run(command);
        world.drain();
        expect(world.disagreements()).toEqual([]);
        expect(world.echoWrites).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('the simulation does exercise conflicts and 409s', () => {
    // Guards against a simulation too gentle to prove anything.
    let conflicts = 0;
    let refusals = 0;
    fc.assert(
      fc.property(commands('projects'), (script) => {
        const world = new World(FLOWS.projects, true);
        for (const command of script) world.run(command);
        world.drain();
        conflicts += world.conflicts;
        refusals += world.refusals;
      }),
      { numRuns: 200 },
    );
    expect(conflicts).toBeGreaterThan(0);
    expect(refusals).toBeGreaterThan(0);
  });
});

describe('property 3: a conflict is reported exactly when the same field changed on both sides', () => {
  const flows = ['projects', 'tasks'] as const;
  const scenario = fc.constantFrom(...flows).chain((flow) =>
    fc.record({
      flow: fc.constant(flow),
      policy: fc.constantFrom('latest' as const, 'custompms' as const, 'salesforce' as const),
      custompmsAt: fc.integer({ min: 10, max: 20 }),
      salesforceAt: fc.integer({ min: 10, max: 20 }),
      // Per editable field: an optional new value index on each side.
      edits: fc.array(fc.tuple(fc.option(fc.nat(10), { nil: null }), fc.option(fc.nat(10), { nil: null })), {
        minLength: EDITABLE[flow].length,
        maxLength: EDITABLE[flow].length,
      }),
    }),
  );

  it('holds for every combination of edits, times and policies', () => {
    fc.assert(
      fc.property(scenario, ({ flow, policy, custompmsAt, salesforceAt, edits }) => {
        const definition = applyOverrides(FLOWS, { flows: [{ flow, conflictPolicy: policy }] }).definition[
          flow
        ];
        const base = flow === 'projects' ? project() : task();
        const created = planChange({
          flow: definition,
          context: ctx,
          link: null,
          change: custompmsChange(base),
        });
        const link = commit(flow, created, () => ({ id: SF_TASK_ID, version: stamp(1) }))!;
        const custompms: Record<string, unknown> = { ...base, version: 2, updated_at: stamp(custompmsAt) };
        const salesforce: Record<string, unknown> = { Id: SF_TASK_ID, ...link.snapshot.salesforce };
        const expected: string[] = [];
        const oneSided: string[] = [];
        EDITABLE[flow].forEach((editable, index) => {
          const [cpPick, sfPick] = edits[index]!;
          const baseCp = link.snapshot.custompms[editable.custompms];
          const baseSf = link.snapshot.salesforce[editable.salesforce];
          const cpValue =
            cpPick === null ? baseCp : editable.custompmsValues[cpPick % editable.custompmsValues.length];
          const sfValue =
            sfPick === null ? baseSf : editable.salesforceValues[sfPick % editable.salesforceValues.length];
          custompms[editable.custompms] = cpValue;
          salesforce[editable.salesforce] = sfValue;
          const cpChanged = cpValue !== baseCp;
          const sfChanged = sfValue !== baseSf;
          const mappedCp = toSalesforce(flow, { [editable.custompms]: cpValue }).values[editable.salesforce];
          const mappedSf = toCustompms(flow, { [editable.salesforce]: sfValue }).values[editable.custompms];
          if (cpChanged && sfChanged && mappedCp !== sfValue && mappedSf !== cpValue)
            expected.push(editable.custompms);
          else if (cpChanged !== sfChanged) oneSided.push(editable.custompms);
        });
        const plan = planChange({
          flow: definition,
          context: ctx,
          link,
          change: {
            side: 'salesforce',
            operation: 'upsert',
            id: SF_TASK_ID,
            version: stamp(salesforceAt),
            record: salesforce,
          },
          counterpart: custompmsChange(custompms),
        });
        expect(plan.kind).not.toBe('invalid');
        const reported = plan.conflicts.map((conflict) => conflict.custompmsField).sort();
        expect(reported).toEqual(expected.sort());
        const winner = policy !== 'latest' ? policy : salesforceAt > custompmsAt ? 'salesforce' : 'custompms';
        for (const conflict of plan.conflicts) expect(conflict).toMatchObject({ winner, policy });
        // Nothing changed on one side only is ever reported as a conflict.
        for (const field of oneSided) expect(reported).not.toContain(field);
      }),
      { numRuns: 1000 },
    );
  });
});
