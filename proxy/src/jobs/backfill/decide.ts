/**
 * Deciding one Custompms record: the same planner as the incremental sync, with the existing
 * Salesforce record (if any) as the plan's counterpart, turned into a backfill decision. Also the
 * two steps that follow a `write` decision: its Custompms writes (made at once, they are rare)
 * and its Salesforce write as a pending item.
 */
import {
  applyWriteResult,
  planChange,
  type Change,
  type FlowDefinition,
  type Link,
  type Plan,
  type RawRecord,
  type SyncContext,
  type Write,
} from '../../sync';
import type { BackfillItem } from '../../store/backfill';
import { custompmsChange } from '../custompms-changes';
import { salesforceChange } from '../salesforce-changes';
import { writeCustompms } from '../write/custompms';
import { salesforceRecord } from '../write/salesforce';
import type { CustompmsRow, FlowRun } from './state';

export type Decision =
  | { kind: 'unchanged'; id: string; link: Link | null }
  | { kind: 'linked'; id: string; link: Link }
  | { kind: 'skipped'; id: string; reason: string }
  | { kind: 'failed'; id: string; salesforceId: string | null; code: string; message: string }
  | WriteDecision;

export interface WriteDecision {
  kind: 'write';
  id: string;
  /** No link existed before: the write also pairs the records. */
  pairs: boolean;
  plan: Plan & { link: Link };
  salesforce: Write | undefined;
  custompms: Write[];
}

/** The Salesforce record matched to a Custompms record, or why matching failed. */
export type Counterpart = { record: RawRecord } | { failure: { code: string; message: string } };

/** The planner's verdict for one record, as a backfill decision. */
export function decide(
  flow: FlowDefinition,
  context: SyncContext,
  record: CustompmsRow,
  link: Link | null,
  counterpart: Counterpart | undefined,
  busy: boolean,
): Decision {
  const id = record.id;
  if (busy) return { kind: 'skipped', id, reason: 'a change of this record is being written by the sync' };
  if (counterpart && 'failure' in counterpart) {
    return { kind: 'failed', id, salesforceId: null, ...counterpart.failure };
  }
  const change: Change = custompmsChange(record);
  const other = counterpart ? salesforceChange(counterpart.record) : null;
  const plan = planChange({ flow, context, link, change, counterpart: other });
  const salesforceId = plan.link?.salesforceId ?? link?.salesforceId ?? null;
  switch (plan.kind) {
    case 'skip':
      if (!link && plan.link) return { kind: 'linked', id, link: plan.link };
      return { kind: 'unchanged', id, link: plan.link };
    case 'invalid': {
      const errors = plan.problems.filter((problem) => problem.severity === 'error');
      return {
        kind: 'failed',
        id,
        salesforceId,
        code: errors[0]?.code ?? 'invalid',
        message: (errors.length > 0 ? errors : plan.problems).map((problem) => problem.message).join('; '),
      };
    }
    case 'wait_for_dependency': {
      const missing = plan.missing
        .map((dependency) =>
          dependency.kind === 'project'
            ? `project ${dependency.projectId}`
            : dependency.kind === 'customer_division'
              ? `customer ${dependency.customerId}`
              : JSON.stringify(dependency),
        )
        .join(', ');
      return {
        kind: 'failed',
        id,
        salesforceId,
        code: 'dependency_not_linked',
        message: `${missing} is not linked to Salesforce yet (backfill that flow first, or fix its failure)`,
      };
    }
    case 'create':
    case 'update': {
      if (!plan.link) return { kind: 'unchanged', id, link: null };
      const salesforceWrites = plan.writes.filter((write) => write.side === 'salesforce');
      return {
        kind: 'write',
        id,
        pairs: link === null && plan.kind === 'update',
        plan: plan as Plan & { link: Link },
        salesforce: salesforceWrites[0],
        custompms: plan.writes.filter((write) => write.side === 'custompms'),
      };
    }
    default:
      return { kind: 'skipped', id, reason: `the planner chose ${plan.kind}` };
  }
}

/** Performs a decision's Custompms writes (If-Match); the decision then holds only its Salesforce write. */
export async function writeCustompmsDecision(
  state: FlowRun,
  context: SyncContext,
  decision: WriteDecision,
): Promise<Decision> {
  const { deps, flow } = state;
  let link = decision.plan.link;
  try {
    for (const write of decision.custompms) {
      const result = await writeCustompms(deps, flow, write, link);
      link = applyWriteResult(flow, context, link, write, { ...result, conditional: true }).link;
    }
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'CUSTOMPMS_WRITE_FAILED';
    return {
      kind: 'failed',
      id: decision.id,
      salesforceId: link.salesforceId,
      code,
      message: `Custompms update failed: ${(error as Error).message}`,
    };
  }
  const written = { ...decision, plan: { ...decision.plan, link }, custompms: [] };
  if (!decision.salesforce)
    return decision.pairs ? { kind: 'linked', id: decision.id, link } : { ...written };
  return written;
}

/** The write to Salesforce as a pending item (fields as the outbox would carry them, and the Id). */
export function pendingItem(flow: FlowDefinition, decision: WriteDecision): Omit<BackfillItem, 'bulkJobId'> {
  const write = decision.salesforce!;
  return {
    custompmsId: decision.id,
    action: write.action === 'create' ? 'create' : 'update',
    record: salesforceRecord(flow, write, decision.id, { taskId: true }),
    plan: { link: decision.plan.link, write, source: decision.plan.source, pairs: decision.pairs },
  };
}

export function describeWrite(write: Write | undefined): string {
  if (!write) return 'Custompms updated';
  const fields = Object.keys(write.fields).join(', ');
  return write.action === 'create' ? `create with ${fields}` : `update ${fields}`;
}
