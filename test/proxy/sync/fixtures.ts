/**
 * Shared fixtures for the sync core's tests: a small world of users, customers, Divisions and
 * projects, and builders for changes and links.
 */
import {
  FLOWS,
  type Change,
  type FlowName,
  type Link,
  type LinkedProject,
  type RawRecord,
  type SyncContext,
  ownerDirectory,
  planChange,
  applyWriteResult,
  type Plan,
  type Write,
} from '../../../proxy/src/sync';

export const INTEGRATION_USER = '005000000000000AAA';
export const ALICE = { id: '005000000000001AAA', email: 'alice@example.com' };
export const BOB = { id: '005000000000002AAA', email: 'bob@example.com' };
/** Two active users share this email: an ambiguity. */
export const SHARED_EMAIL = 'team@example.com';
export const INACTIVE = { id: '005000000000005AAA', email: 'gone@example.com' };

export const owners = ownerDirectory(
  [
    ALICE,
    BOB,
    { id: '005000000000003AAA', email: SHARED_EMAIL },
    { id: '005000000000004AAA', email: SHARED_EMAIL },
    { ...INACTIVE, isActive: false },
  ].map((user) => ({ isActive: true, ...user })),
  INTEGRATION_USER,
);

export const CUSTOMER_A = 'cus_a';
export const CUSTOMER_B = 'cus_b';
export const DIVISION_A = '02d000000000001AAA';
export const DIVISION_B = '02d000000000002AAA';
/** A linked project of customer A, one of customer B, and one of a customer with no Division yet. */
export const PROJECT_A = 'prj_a';
export const PROJECT_B = 'prj_b';
export const PROJECT_NO_DIVISION = 'prj_c';
export const CUSTOMER_NO_DIVISION = 'cus_c';

export function context(overrides: Partial<SyncContext> = {}): SyncContext {
  const projects = new Map<string, LinkedProject>([
    [PROJECT_A, { customerId: CUSTOMER_A }],
    [PROJECT_B, { customerId: CUSTOMER_B }],
    [PROJECT_NO_DIVISION, { customerId: CUSTOMER_NO_DIVISION }],
  ]);
  return {
    divisionsEnabled: true,
    owners,
    divisionByCustomer: new Map([
      [CUSTOMER_A, DIVISION_A],
      [CUSTOMER_B, DIVISION_B],
    ]),
    customerByDivision: new Map([
      [DIVISION_A, CUSTOMER_A],
      [DIVISION_B, CUSTOMER_B],
    ]),
    linkedProjects: projects,
    ...overrides,
  };
}

export const SF_TASK_ID = '00T000000000001AAA';

export function project(overrides: Record<string, unknown> = {}): RawRecord {
  return {
    id: 'prj_1',
    version: 1,
    updated_at: '2025-01-01T10:00:00Z',
    customer_id: CUSTOMER_A,
    name: 'Website relaunch',
    description: 'Phase one',
    status: 'active',
    priority: 'normal',
    start_date: '2025-01-01',
    due_date: '2025-03-31',
    owner_email: ALICE.email,
    ...overrides,
  };
}

export function task(overrides: Record<string, unknown> = {}): RawRecord {
  return {
    id: 'tsk_1',
    version: 1,
    updated_at: '2025-01-01T10:00:00Z',
    project_id: PROJECT_A,
    title: 'Draft the sitemap',
    description: null,
    status: 'todo',
    priority: 'high',
    due_date: '2025-02-01',
    assignee_email: BOB.email,
    estimated_hours: 4,
    ...overrides,
  };
}

export function customer(overrides: Record<string, unknown> = {}): RawRecord {
  return { id: 'cus_1', version: 1, name: 'ACME', is_active: true, ...overrides };
}

export function custompmsChange(record: RawRecord, extra: Partial<Change> = {}): Change {
  return {
    side: 'custompms',
    operation: 'upsert',
    id: String(record.id),
    version: record.version as number,
    modifiedAt: (record.updated_at as string | undefined) ?? null,
    record,
    ...extra,
  };
}

export function salesforceChange(record: RawRecord, extra: Partial<Change> = {}): Change {
  return {
    side: 'salesforce',
    operation: 'upsert',
    id: String(record.Id),
    version: record.SystemModstamp as string,
    record,
    ...extra,
  };
}

/** Plans a change, performs its writes as if they succeeded, and returns the link to store. */
export function commit(
  flow: FlowName,
  plan: Plan,
  results: (write: Write) => { id?: string; version?: number | string; conditional?: boolean } = () => ({}),
): Link | null {
  let link = plan.link;
  if (link === null) return null;
  const ctx = context();
  const queue = [...plan.writes];
  while (queue.length > 0) {
    const write = queue.shift()!;
    // Creates cannot mix with unseen edits: their version is applied.
    const result = { conditional: write.action === 'create', ...results(write) };
    const applied = applyWriteResult(FLOWS[flow], ctx, link, write, result);
    link = applied.link;
    queue.push(...applied.followUps);
  }
  return link;
}

/** A linked project: created from Custompms, with Salesforce at the created values. */
export function linkedProject(record = project(), ctx = context()): Link {
  const created = planChange({
    flow: FLOWS.projects,
    context: ctx,
    link: null,
    change: custompmsChange(record),
  });
  if (created.kind !== 'create') throw new Error(`expected a create, got ${created.kind}`);
  return commit('projects', created, () => ({ id: SF_TASK_ID, version: '2025-01-01T10:00:01.000Z' }))!;
}
