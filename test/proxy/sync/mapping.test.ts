/**
 * Every row of MAPPING.md, in both directions, plus the rules that apply to every mapping.
 */
import { FLOWS, applyOverrides, mapRecord, type FlowName, type Problem } from '../../../proxy/src/sync';
import {
  ALICE,
  BOB,
  CUSTOMER_A,
  CUSTOMER_NO_DIVISION,
  DIVISION_A,
  DIVISION_B,
  INACTIVE,
  INTEGRATION_USER,
  PROJECT_A,
  PROJECT_B,
  PROJECT_NO_DIVISION,
  SHARED_EMAIL,
  context,
} from './fixtures';

type Row = [flow: FlowName, property: string, custompms: unknown, field: string, salesforce: unknown];

/** Rows that sync both ways: each must map Custompms → Salesforce and back. */
const BOTH_WAYS: Row[] = [
  ['customers', 'name', 'ACME', 'Name', 'ACME'],
  ['customers', 'is_active', true, 'IsActive', true],
  ['customers', 'is_active', false, 'IsActive', false],
  ['projects', 'name', 'Website relaunch', 'Subject', 'Website relaunch'],
  ['projects', 'description', 'Line one\nLine two', 'Description', 'Line one\nLine two'],
  ['projects', 'status', 'planned', 'Status', 'Not Started'],
  ['projects', 'status', 'active', 'Status', 'In Progress'],
  ['projects', 'status', 'on_hold', 'Status', 'Waiting on someone else'],
  ['projects', 'status', 'completed', 'Status', 'Completed'],
  ['projects', 'status', 'cancelled', 'Status', 'Deferred'],
  ['projects', 'priority', 'low', 'Priority', 'Low'],
  ['projects', 'priority', 'normal', 'Priority', 'Normal'],
  ['projects', 'priority', 'high', 'Priority', 'High'],
  ['projects', 'due_date', '2025-03-31', 'ActivityDate', '2025-03-31'],
  ['projects', 'owner_email', ALICE.email, 'OwnerId', ALICE.id],
  ['projects', 'customer_id', CUSTOMER_A, 'Division', DIVISION_A],
  ['tasks', 'title', 'Draft the sitemap', 'Subject', 'Draft the sitemap'],
  ['tasks', 'description', 'Notes', 'Description', 'Notes'],
  ['tasks', 'status', 'todo', 'Status', 'Not Started'],
  ['tasks', 'status', 'in_progress', 'Status', 'In Progress'],
  ['tasks', 'status', 'blocked', 'Status', 'Waiting on someone else'],
  ['tasks', 'status', 'done', 'Status', 'Completed'],
  ['tasks', 'priority', 'low', 'Priority', 'Low'],
  ['tasks', 'priority', 'normal', 'Priority', 'Normal'],
  ['tasks', 'priority', 'high', 'Priority', 'High'],
  ['tasks', 'due_date', '2024-02-29', 'ActivityDate', '2024-02-29'],
  ['tasks', 'assignee_email', BOB.email, 'OwnerId', BOB.id],
  ['tasks', 'project_id', PROJECT_A, 'Custompms_Project_Id__c', PROJECT_A],
];

/** Rows that only go to Salesforce. */
const TO_SALESFORCE: Row[] = [
  ['projects', 'id', 'prj_1', 'Custompms_Id__c', 'prj_1'],
  ['projects', '(constant)', undefined, 'Custompms_Type__c', 'Project'],
  ['tasks', 'id', 'tsk_1', 'Custompms_Id__c', 'tsk_1'],
  ['tasks', '(constant)', undefined, 'Custompms_Type__c', 'Task'],
  ['tasks', 'project_id', PROJECT_A, 'Division', DIVISION_A],
  ['tasks', 'project_id', PROJECT_B, 'Division', DIVISION_B],
];

/** Rows that only come back to Custompms (the non-bijective part of the task status map). */
const TO_CUSTOMPMS: Row[] = [['tasks', 'status', 'blocked', 'Status', 'Deferred']];

function toSalesforce(flow: FlowName, record: Record<string, unknown>, ctx = context()) {
  return mapRecord(flow, FLOWS[flow].fields, 'custompms', record, ctx);
}

function toCustompms(flow: FlowName, record: Record<string, unknown>, ctx = context()) {
  return mapRecord(flow, FLOWS[flow].fields, 'salesforce', record, ctx);
}

function codes(problems: readonly Problem[]): string[] {
  return problems.map((problem) => `${problem.field}:${problem.code}`);
}

describe('MAPPING.md rows, Custompms → Salesforce', () => {
  it.each([...BOTH_WAYS, ...TO_SALESFORCE])('%s: %s %j → %s %j', (flow, property, value, field, expected) => {
    const mapped = toSalesforce(flow, property.startsWith('(') ? {} : { [property]: value });
    expect(mapped.values[field]).toEqual(expected);
    expect(mapped.waits).toEqual([]);
  });
});

describe('MAPPING.md rows, Salesforce → Custompms', () => {
  it.each([...BOTH_WAYS, ...TO_CUSTOMPMS])('%s: %s %j ← %s %j', (flow, property, expected, field, value) => {
    const mapped = toCustompms(flow, { [field]: value });
    expect(mapped.values[property]).toEqual(expected);
    expect(mapped.waits).toEqual([]);
  });

  it.each(TO_SALESFORCE)('%s: %s is not written back from %s', (flow, property, _value, field, value) => {
    const mapped = toCustompms(flow, { [field]: value });
    if (!property.startsWith('(')) {
      // project_id does come back, but from Custompms_Project_Id__c, never from Division.
      expect(mapped.values[property]).not.toEqual(value);
    }
    expect(Object.keys(mapped.values)).not.toContain('id');
  });
});

describe('the definition itself', () => {
  it('has the flows, objects, type markers and policies of DESIGN.md', () => {
    expect(Object.keys(FLOWS).sort()).toEqual(['customers', 'projects', 'tasks']);
    expect(FLOWS.customers).toMatchObject({
      salesforceObject: 'Division',
      salesforceType: null,
      deletePolicy: 'deactivate',
      conflictPolicy: 'latest',
      createFromSalesforce: false,
    });
    expect(FLOWS.projects).toMatchObject({
      salesforceObject: 'Task',
      salesforceType: 'Project',
      deletePolicy: 'delete',
    });
    expect(FLOWS.tasks).toMatchObject({
      salesforceObject: 'Task',
      salesforceType: 'Task',
      deletePolicy: 'delete',
    });
  });

  it('has unique row keys prefixed by their flow, and Salesforce lengths from describe', () => {
    for (const flow of Object.values(FLOWS)) {
      const keys = flow.fields.map((field) => field.key);
      expect(new Set(keys).size).toBe(keys.length);
      for (const key of keys) expect(key.startsWith(`${flow.name}.`)).toBe(true);
    }
    const length = (flow: FlowName, field: string) =>
      FLOWS[flow].fields.find((row) => row.salesforce === field)?.maxLength;
    expect(length('customers', 'Name')).toBe(80);
    expect(length('projects', 'Subject')).toBe(255);
    expect(length('tasks', 'Description')).toBe(32000);
    expect(length('tasks', 'Custompms_Id__c')).toBe(64);
  });

  it('is frozen: nobody can change the shipped defaults by accident', () => {
    expect(Object.isFrozen(FLOWS.projects.fields[0])).toBe(true);
    expect(() => {
      (FLOWS.projects.fields as unknown as unknown[]).push({});
    }).toThrow(TypeError);
  });
});

describe('rules for every mapping', () => {
  it('truncates long text to the Salesforce length and reports it', () => {
    const mapped = toSalesforce('customers', { name: 'x'.repeat(100), is_active: true });
    expect(mapped.values.Name).toBe('x'.repeat(80));
    expect(codes(mapped.problems)).toEqual(['customers.name:truncated']);
    expect(mapped.problems[0]!.severity).toBe('warning');
  });

  it('never splits a surrogate pair when truncating', () => {
    const subject = 'a'.repeat(254) + '😀';
    const mapped = toSalesforce('projects', { name: subject });
    expect(mapped.values.Subject).toBe('a'.repeat(254));
  });

  it('an empty value clears the Salesforce field', () => {
    for (const empty of [null, '', undefined]) {
      const mapped = toSalesforce('projects', {
        name: 'n',
        description: empty,
        due_date: empty,
        status: empty,
      });
      expect(mapped.values).toMatchObject({ Description: null, ActivityDate: null, Status: null });
    }
  });

  it('an empty Subject or Name is an error, not a cleared field', () => {
    expect(codes(toSalesforce('projects', { name: '' }).problems)).toContain('projects.name:required');
    expect(codes(toSalesforce('customers', { name: null }).problems)).toContain('customers.name:required');
    expect(toSalesforce('tasks', { title: null }).values).not.toHaveProperty('Subject');
  });

  it('reports a picklist value with no map entry and does not write it', () => {
    const back = toCustompms('tasks', { Status: 'Escalated', Subject: 's' });
    expect(back.values).not.toHaveProperty('status');
    expect(back.problems).toContainEqual(
      expect.objectContaining({
        code: 'unmapped_value',
        field: 'tasks.status',
        value: 'Escalated',
        severity: 'warning',
      }),
    );
    const forth = toSalesforce('projects', { name: 'n', priority: 'urgent' });
    expect(forth.values).not.toHaveProperty('Priority');
    expect(codes(forth.problems)).toContain('projects.priority:unmapped_value');
  });

  it('does not mistake inherited object keys for map entries', () => {
    expect(toSalesforce('tasks', { title: 't', status: 'constructor' }).values).not.toHaveProperty('Status');
  });

  it('keeps calendar dates as they are and refuses anything else', () => {
    expect(toSalesforce('tasks', { title: 't', due_date: '2025-12-31' }).values.ActivityDate).toBe(
      '2025-12-31',
    );
    for (const bad of ['2025-02-30', '2025-12-31T23:00:00Z', '31.12.2025', 20251231]) {
      const mapped = toSalesforce('tasks', { title: 't', due_date: bad });
      expect(mapped.values).not.toHaveProperty('ActivityDate');
      expect(codes(mapped.problems)).toContain('tasks.due_date:invalid_value');
    }
  });

  it('reads SOAP booleans', () => {
    expect(toCustompms('customers', { Name: 'n', IsActive: 'false' }).values.is_active).toBe(false);
    expect(codes(toCustompms('customers', { Name: 'n', IsActive: 'yes' }).problems)).toContain(
      'customers.is_active:invalid_value',
    );
  });

  describe('owners', () => {
    it('resolves the email case-insensitively to the active user', () => {
      expect(toSalesforce('projects', { name: 'n', owner_email: 'ALICE@example.com' }).values.OwnerId).toBe(
        ALICE.id,
      );
    });

    it('falls back to the integration user, and says so, when no active user matches', () => {
      for (const email of ['nobody@example.com', INACTIVE.email]) {
        const mapped = toSalesforce('projects', { name: 'n', owner_email: email });
        expect(mapped.values.OwnerId).toBe(INTEGRATION_USER);
        expect(codes(mapped.problems)).toEqual(['projects.owner:owner_not_found']);
      }
    });

    it('an email shared by several active users is an error and is not written', () => {
      const mapped = toSalesforce('tasks', { title: 't', assignee_email: SHARED_EMAIL });
      expect(mapped.values).not.toHaveProperty('OwnerId');
      expect(mapped.problems).toContainEqual(
        expect.objectContaining({ code: 'owner_ambiguous', severity: 'error' }),
      );
    });

    it('no owner ⇄ the integration user', () => {
      expect(toSalesforce('projects', { name: 'n', owner_email: null }).values.OwnerId).toBe(
        INTEGRATION_USER,
      );
      expect(
        toCustompms('projects', { Subject: 's', OwnerId: INTEGRATION_USER }).values.owner_email,
      ).toBeNull();
    });

    it('a 15-character OwnerId is the same user', () => {
      expect(
        toCustompms('projects', { Subject: 's', OwnerId: ALICE.id.slice(0, 15) }).values.owner_email,
      ).toBe(ALICE.email);
    });

    it('an owner that is not a known user (a queue) is reported, not written', () => {
      const mapped = toCustompms('projects', { Subject: 's', OwnerId: '00G000000000001AAA' });
      expect(mapped.values).not.toHaveProperty('owner_email');
      expect(codes(mapped.problems)).toContain('projects.owner:owner_unknown');
    });
  });

  describe('Divisions and projects', () => {
    it('waits for a customer with no linked Division', () => {
      expect(toSalesforce('projects', { name: 'n', customer_id: CUSTOMER_NO_DIVISION }).waits).toEqual([
        { kind: 'customer_division', customerId: CUSTOMER_NO_DIVISION },
      ]);
      expect(toSalesforce('tasks', { title: 't', project_id: PROJECT_NO_DIVISION }).waits).toEqual([
        { kind: 'customer_division', customerId: CUSTOMER_NO_DIVISION },
      ]);
    });

    it('waits for a Division with no linked customer', () => {
      const division = '02d000000000009AAA';
      expect(toCustompms('projects', { Subject: 's', Division: division }).waits).toEqual([
        { kind: 'division_customer', divisionId: division },
      ]);
    });

    it('waits for a project that is not linked, both ways', () => {
      const waits = [{ kind: 'project', projectId: 'prj_new' }];
      expect(toSalesforce('tasks', { title: 't', project_id: 'prj_new' }).waits).toEqual(
        expect.arrayContaining(waits),
      );
      expect(toCustompms('tasks', { Subject: 's', Custompms_Project_Id__c: 'prj_new' }).waits).toEqual(waits);
    });

    it('maps no Division at all in an org without divisions', () => {
      const ctx = context({ divisionsEnabled: false });
      const project = toSalesforce('projects', { name: 'n', customer_id: CUSTOMER_NO_DIVISION }, ctx);
      expect(project.values).not.toHaveProperty('Division');
      expect(project.waits).toEqual([]);
      expect(toSalesforce('tasks', { title: 't', project_id: PROJECT_A }, ctx).values).not.toHaveProperty(
        'Division',
      );
      expect(toCustompms('projects', { Subject: 's', Division: DIVISION_A }, ctx).values).not.toHaveProperty(
        'customer_id',
      );
    });

    it('Custompms requires a customer and a project', () => {
      expect(codes(toCustompms('projects', { Subject: 's', Division: null }).problems)).toContain(
        'projects.customer:required',
      );
      expect(codes(toCustompms('tasks', { Subject: 's', Custompms_Project_Id__c: null }).problems)).toContain(
        'tasks.project:required',
      );
    });

    it('refuses an id longer than the external id field instead of cutting it', () => {
      const mapped = toSalesforce('tasks', { id: 'x'.repeat(65), title: 't', project_id: PROJECT_A });
      expect(mapped.values).not.toHaveProperty('Custompms_Id__c');
      expect(codes(mapped.problems)).toContain('tasks.id:invalid_value');
    });
  });
});

describe('applyOverrides', () => {
  const apply = (
    fields: Parameters<typeof applyOverrides>[1]['fields'],
    flows?: Parameters<typeof applyOverrides>[1]['flows'],
  ) => applyOverrides(FLOWS, { fields, flows });
  const row = (definition: ReturnType<typeof apply>['definition'], key: string) =>
    Object.values(definition)
      .flatMap((flow) => flow.fields)
      .find((field) => field.key === key);

  it('changes a Salesforce field, a value map and disables a row, without touching the defaults', () => {
    const { definition, problems } = apply([
      { flow: 'projects', key: 'projects.description', salesforce: 'Long_Description__c' },
      {
        flow: 'tasks',
        key: 'tasks.status',
        toCustompms: {
          ...FLOWS.tasks.fields.find((f) => f.key === 'tasks.status')!.toCustompms,
          Escalated: 'blocked',
        },
      },
      { flow: 'tasks', key: 'tasks.priority', enabled: false },
    ]);
    expect(problems).toEqual([]);
    expect(row(definition, 'projects.description')?.salesforce).toBe('Long_Description__c');
    expect(row(definition, 'tasks.status')?.toCustompms?.Escalated).toBe('blocked');
    expect(row(definition, 'tasks.priority')?.enabled).toBe(false);
    expect(row(FLOWS, 'projects.description')?.salesforce).toBe('Description');
    // The new map is used by the mapper.
    const mapped = mapRecord(
      'tasks',
      definition.tasks.fields,
      'salesforce',
      { Status: 'Escalated', Priority: 'High' },
      context(),
    );
    expect(mapped.values.status).toBe('blocked');
    expect(mapped.values).not.toHaveProperty('priority');
  });

  it('adds a plain row', () => {
    const { definition, problems } = apply([
      {
        flow: 'projects',
        key: 'projects.start_date',
        custompms: 'start_date',
        salesforce: 'Start_Date__c',
        kind: 'date',
      },
    ]);
    expect(problems).toEqual([]);
    const mapped = mapRecord(
      'projects',
      definition.projects.fields,
      'custompms',
      { name: 'n', start_date: '2025-01-02' },
      context(),
    );
    expect(mapped.values.Start_Date__c).toBe('2025-01-02');
  });

  it.each([
    [{ flow: 'nope', key: 'nope.x', enabled: false }, 'unknown flow'],
    [{ flow: 'tasks', key: 'projects.name', enabled: false }, 'start with'],
    [{ flow: 'tasks', key: 'tasks.id', salesforce: 'Other__c' }, 'locked'],
    [{ flow: 'tasks', key: 'tasks.type', enabled: false }, 'locked'],
    [{ flow: 'tasks', key: 'tasks.title', enabled: false }, 'required'],
    [{ flow: 'tasks', key: 'tasks.status', direction: 'sideways' }, 'unknown direction'],
    [
      { flow: 'tasks', key: 'tasks.status', toCustompms: { Escalated: 'urgent' } },
      'not Custompms values: urgent',
    ],
    [{ flow: 'tasks', key: 'tasks.status', toSalesforce: { todo: '' } }, 'non-empty'],
    [
      { flow: 'tasks', key: 'tasks.description', salesforce: 'Subject' },
      'two rows would write Salesforce field Subject',
    ],
    [{ flow: 'tasks', key: 'tasks.owner', salesforce: 'Owner__c' }, 'fixed by the product'],
    [{ flow: 'tasks', key: 'tasks.division', direction: 'both' }, 'derived'],
    [
      { flow: 'tasks', key: 'tasks.x', custompms: 'estimated_hours', salesforce: 'Hours__c', kind: 'owner' },
      'plain kind',
    ],
    [
      {
        flow: 'tasks',
        key: 'tasks.x',
        custompms: 'estimated_hours',
        salesforce: 'bad field!',
        kind: 'number',
      },
      'invalid Salesforce field',
    ],
    [{ flow: 'tasks', key: 'tasks.description', maxLength: 0 }, 'maxLength'],
    [{ flow: 'tasks', key: 'tasks.description', toSalesforce: { a: 'b' } }, 'picklist rows only'],
  ])('rejects %j (%s) and applies the rest', (override, reason) => {
    const { definition, problems } = apply([
      override,
      { flow: 'customers', key: 'customers.is_active', enabled: false },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'bad_override', severity: 'error' });
    expect(problems[0]!.message).toContain(reason);
    expect(row(definition, 'customers.is_active')?.enabled).toBe(false);
  });

  it('changes flow settings within what the object allows', () => {
    const { definition, problems } = apply(undefined, [
      { flow: 'tasks', conflictPolicy: 'salesforce', deletePolicy: 'unlink' },
      { flow: 'customers', createFromSalesforce: true },
      { flow: 'customers', deletePolicy: 'delete' },
      { flow: 'projects', conflictPolicy: 'newest' },
    ]);
    expect(definition.tasks).toMatchObject({ conflictPolicy: 'salesforce', deletePolicy: 'unlink' });
    expect(definition.customers).toMatchObject({ createFromSalesforce: true, deletePolicy: 'deactivate' });
    expect(definition.projects.conflictPolicy).toBe('latest');
    expect(problems.map((problem) => problem.message)).toEqual([
      'delete policy delete does not apply to Division',
      'unknown conflict policy newest',
    ]);
  });
});
