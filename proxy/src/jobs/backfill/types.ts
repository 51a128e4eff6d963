/** The backfill's public shapes: its options, progress events and report. */
import type { FlowName } from '../../sync';
import type { BackfillCounters } from '../../store/backfill';

export interface BackfillOptions {
  flows: readonly FlowName[];
  /** Read both sides and report what would happen; write nothing anywhere. */
  dryRun?: boolean;
  /** Custompms page size (1–500). Default 500, the Custompms contract's largest page. */
  pageSize?: number;
  /** A set of pending writes this large or larger goes through Bulk API 2.0. Default 2,000. */
  bulkThreshold?: number;
  /**
   * Pending writes that trigger a Bulk job while reading once the org holds two of the run's jobs
   * (half of it while it holds fewer, a quarter for the run's first job: stored-run.ts
   * `nextBulkJobSize`). Default 10,000.
   */
  bulkJobSize?: number;
  bulkPoll?: { intervalMs?: number; maxIntervalMs?: number; timeoutMs?: number };
  /** Examples kept per flow for the report. Default 5. */
  examples?: number;
  onProgress?: (progress: BackfillProgress) => void;
  /** Called once a Bulk job is closed (submitted) and recorded as such, before its results are read. */
  afterBulkSubmit?: (jobId: string) => Promise<void> | void;
}

export interface BackfillProgress {
  flow: FlowName;
  phase: 'reading' | 'writing' | 'done';
  /** Custompms records read so far in this flow (this invocation). */
  read: number;
  /** Writes decided and not yet confirmed. */
  pending: number;
  counters: BackfillCounters;
  /** More Custompms pages follow. */
  more: boolean;
}

export interface BackfillExample {
  outcome: 'link' | 'create' | 'update' | 'fail' | 'skip';
  custompmsId: string;
  salesforceId: string | null;
  detail: string;
}

/** A failure reason: its code, how often it occurred, one message. */
export interface FailureReason {
  code: string;
  count: number;
  example: string;
}

export interface FlowReport {
  flow: FlowName;
  dryRun: boolean;
  /** The stored run (`backfill_runs.id`); `null` for a dry run. */
  runId: number | null;
  resumed: boolean;
  read: number;
  counters: BackfillCounters;
  /** Most frequent failure reasons (code, count, one message). */
  reasons: FailureReason[];
  examples: BackfillExample[];
  bulkJobs: string[];
  /** Why a flow did nothing at all (e.g. the org has no divisions). */
  note?: string;
}

export interface BackfillReport {
  dryRun: boolean;
  flows: FlowReport[];
  /** Records that failed, all flows. */
  failed: number;
}

export class BackfillLockedError extends Error {
  readonly code = 'BACKFILL_LOCKED';
  constructor() {
    super('another backfill is running against this database; wait for it to finish');
    this.name = 'BackfillLockedError';
  }
}
