/**
 * One flow's state while the backfill runs it, shared by the steps in this folder, and the two
 * small helpers every step uses to report (progress events, report examples).
 */
import type { FlowDefinition, RawRecord } from '../../sync';
import type { BackfillCounters } from '../../store/backfill';
import type { SyncDeps, SalesforceServices } from '../deps';
import type { BackfillSink } from './sink';
import type { BackfillExample, BackfillOptions, BackfillProgress } from './types';

/** pageSize: the Custompms contract's largest page (fewer round trips and page transactions). */
export const DEFAULTS = { pageSize: 500, bulkThreshold: 2_000, bulkJobSize: 10_000, examples: 5 };

/** A Custompms record as listed. */
export type CustompmsRow = RawRecord & { id: string; version: number; updated_at: string };

/** One flow's state while it runs. */
export interface FlowRun {
  deps: SyncDeps;
  flow: FlowDefinition;
  options: BackfillOptions;
  salesforce: SalesforceServices;
  /** Where decisions go: the stored run, or the dry run's memory. */
  sink: BackfillSink;
  counters: BackfillCounters;
  read: number;
  /** Writes decided and not yet confirmed (a stored run's pending items). */
  pending: number;
  more: boolean;
  examples: BackfillExample[];
  bulkJobs: string[];
}

export function progress(state: FlowRun, phase: BackfillProgress['phase']): void {
  state.options.onProgress?.({
    flow: state.flow.name,
    phase,
    read: state.read,
    pending: state.pending,
    counters: { ...state.counters },
    more: state.more,
  });
}

export function example(state: FlowRun, entry: BackfillExample): void {
  if (state.examples.length < (state.options.examples ?? DEFAULTS.examples)) state.examples.push(entry);
}
