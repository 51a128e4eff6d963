/**
 * Where a flow's decisions go. `BackfillSink` is what the run (run.ts) talks to; two kinds:
 * the stored run (stored-run.ts: PostgreSQL ledger, Salesforce writes, resumable) and the dry run
 * here, which keeps counts, failure reasons and what it would have linked in memory and writes
 * nothing anywhere.
 */
import type { Link, LinkedProject, SyncContext } from '../../sync';
import type { Decision } from './decide';
import { countPlannedWrite, settleDecisions, type DecisionRecorder } from './settle';
import type { CustompmsRow, FlowRun } from './state';
import type { FailureReason } from './types';

export interface BackfillSink {
  readonly dryRun: boolean;
  /** The stored run's id (`backfill_runs.id`); `null` for a dry run. */
  readonly runId: number | null;
  /**
   * Starts the flow: a stored run opens (or resumes) its run. Returns where listing starts
   * (`listed`: the listing was already finished before a crash) and whether it resumed.
   */
  open(state: FlowRun): Promise<{ resumed: boolean; cursor: string | null; listed: boolean }>;
  /** The context the planner sees (a dry run adds what earlier flows would have linked). */
  context(context: SyncContext): SyncContext;
  /** Runs the deciding and writing of a page (a stored Division page holds its records' sync locks). */
  lockPage(state: FlowRun, records: readonly CustompmsRow[], work: () => Promise<void>): Promise<void>;
  /**
   * Takes a page's decisions: writes and records them, or counts them. `seen`: the links and
   * in-flight changes the decisions were made from (a stored run checks them again under the
   * records' locks).
   */
  finishPage(
    state: FlowRun,
    context: SyncContext,
    records: readonly CustompmsRow[],
    decisions: Decision[],
    nextCursor: string | null,
    seen?: PageSeen,
  ): Promise<void>;
  /** While reading: writes what is pending once enough is (a stored run's Bulk job size). */
  flushIfFull(state: FlowRun): Promise<void>;
  /** After reading: writes everything pending, then closes the run. */
  finish(state: FlowRun): Promise<void>;
  /** Most frequent failure reasons of the flow. */
  reasons(state: FlowRun): Promise<FailureReason[]>;
  /** Waits for writes still in flight (a stored run's pipelined Bulk job); called when the flow stops. */
  settle?(): Promise<void>;
}

/** What a page was decided from: its records' links and those with a change in the outbox. */
export interface PageSeen {
  links: ReadonlyMap<string, Link>;
  busy: ReadonlySet<string>;
}

/** Customers and projects a dry run would have linked (projects with their customer). */
export interface PlannedLinks {
  customers: Set<string>;
  projects: Map<string, LinkedProject>;
}

/** Stands in for the Division a dry run would have created: never written anywhere. */
const PLANNED_DIVISION = '02d000000000000AAA';

/**
 * A dry run: nothing is written. A dry run writes no links, so later flows would see their
 * dependencies as missing: `planned` (shared by the flows of one run) keeps what earlier flows
 * would have linked or created, and later flows plan against that.
 */
export class DryRunSink implements BackfillSink {
  readonly dryRun = true;
  readonly runId = null;
  /** Failure reasons in memory (one entry per code). */
  private readonly failures = new Map<string, { count: number; example: string }>();
  private readonly recorder: DecisionRecorder = {
    saveLink: () => Promise.resolve(),
    planFindings: () => Promise.resolve(),
    failure: ({ code, message }) => {
      const entry = this.failures.get(code);
      if (entry) entry.count++;
      else this.failures.set(code, { count: 1, example: message });
      return Promise.resolve();
    },
  };

  constructor(private readonly planned: PlannedLinks) {}

  open(): Promise<{ resumed: boolean; cursor: string | null; listed: boolean }> {
    return Promise.resolve({ resumed: false, cursor: null, listed: false });
  }

  /** The context, plus the links a dry run would have made (looked up only when none exists). */
  context(context: SyncContext): SyncContext {
    const { planned } = this;
    return {
      ...context,
      divisionByCustomer: {
        get: (id) =>
          context.divisionByCustomer.get(id) ?? (planned.customers.has(id) ? PLANNED_DIVISION : undefined),
      },
      linkedProjects: { get: (id) => context.linkedProjects.get(id) ?? planned.projects.get(id) },
    };
  }

  lockPage(_state: FlowRun, _records: readonly CustompmsRow[], work: () => Promise<void>): Promise<void> {
    return work();
  }

  async finishPage(
    state: FlowRun,
    _context: SyncContext,
    records: readonly CustompmsRow[],
    decisions: Decision[],
  ): Promise<void> {
    this.remember(state, records, decisions);
    await settleDecisions(state, this.recorder, decisions);
    for (const decision of decisions) {
      if (decision.kind === 'write') countPlannedWrite(state, decision);
    }
  }

  flushIfFull(): Promise<void> {
    return Promise.resolve();
  }

  finish(): Promise<void> {
    return Promise.resolve();
  }

  reasons(): Promise<FailureReason[]> {
    return Promise.resolve(
      [...this.failures.entries()]
        .map(([code, entry]) => ({ code, count: entry.count, example: entry.example }))
        .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code))
        .slice(0, 10),
    );
  }

  /** Records what this page's decisions would link, for the flows after this one. */
  private remember(state: FlowRun, records: readonly CustompmsRow[], decisions: readonly Decision[]): void {
    for (const [index, decision] of decisions.entries()) {
      if (decision.kind !== 'write' && decision.kind !== 'linked' && decision.kind !== 'unchanged') continue;
      const record = records[index]!;
      if (state.flow.name === 'customers') this.planned.customers.add(record.id);
      if (state.flow.name === 'projects') {
        const customerId = typeof record.customer_id === 'string' ? record.customer_id : null;
        this.planned.projects.set(record.id, { customerId });
      }
    }
  }
}
