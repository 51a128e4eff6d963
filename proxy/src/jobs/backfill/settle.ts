/**
 * Counting (and, through a recorder, storing) what a page decided that needs no Salesforce
 * write: unchanged and newly paired records, skips, failures, and the findings of planned writes.
 * The stored run records into PostgreSQL; the dry run into memory (sink.ts).
 */
import type { Link, Plan } from '../../sync';
import { SYNCED } from '../task-status';
import { describeWrite, type Decision, type WriteDecision } from './decide';
import { example, type FlowRun } from './state';

/** Where settled decisions are recorded. */
export interface DecisionRecorder {
  saveLink(link: Link, salesforceStatus?: string): Promise<void>;
  /** A planned write's conflicts and warnings (its errors are failures, recorded apart). */
  planFindings(plan: Plan, ids: { custompmsId: string | null; salesforceId: string | null }): Promise<void>;
  failure(failure: {
    custompmsId: string;
    salesforceId: string | null;
    code: string;
    message: string;
  }): Promise<void>;
  /** Stores what the recorder held back to store in sets (called once all decisions are settled). */
  flush?(): Promise<void>;
}

/** Counts and records what needs no Salesforce write. */
export async function settleDecisions(
  state: FlowRun,
  recorder: DecisionRecorder,
  decisions: readonly Decision[],
): Promise<void> {
  const { flow } = state;
  for (const decision of decisions) {
    switch (decision.kind) {
      case 'unchanged':
        state.counters.unchanged++;
        if (decision.link) await recorder.saveLink(decision.link);
        break;
      case 'linked':
        state.counters.linked++;
        example(state, {
          outcome: 'link',
          custompmsId: decision.id,
          salesforceId: decision.link.salesforceId,
          detail: 'paired with the existing record',
        });
        await recorder.saveLink(decision.link, flow.salesforceObject === 'Task' ? SYNCED : undefined);
        break;
      case 'skipped':
        state.counters.skipped++;
        example(state, {
          outcome: 'skip',
          custompmsId: decision.id,
          salesforceId: null,
          detail: decision.reason,
        });
        break;
      case 'failed': {
        const { id: custompmsId, salesforceId, code, message } = decision;
        state.counters.failed++;
        example(state, { outcome: 'fail', custompmsId, salesforceId, detail: `${code}: ${message}` });
        await recorder.failure({ custompmsId, salesforceId, code, message });
        break;
      }
      case 'write': {
        const { link } = decision.plan;
        await recorder.planFindings(decision.plan, {
          custompmsId: link?.custompmsId ?? null,
          salesforceId: link?.salesforceId ?? null,
        });
        break;
      }
    }
  }
  await recorder.flush?.();
}

/** Counts a write a dry run would make (a stored run counts it once its result is recorded). */
export function countPlannedWrite(state: FlowRun, decision: WriteDecision): void {
  const create = decision.salesforce?.action === 'create';
  if (decision.pairs) state.counters.linked++;
  if (create) state.counters.created++;
  else state.counters.updated++;
  example(state, {
    outcome: create ? 'create' : decision.pairs ? 'link' : 'update',
    custompmsId: decision.id,
    salesforceId: decision.plan.link.salesforceId,
    detail: describeWrite(decision.salesforce),
  });
}
