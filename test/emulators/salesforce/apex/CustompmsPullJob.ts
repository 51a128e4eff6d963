/**
 * Mirrors force-app/main/default/classes/CustompmsPullJob.cls, line for line: for each batch id
 * from Custompms_Change__e, up to three Queueable transactions — FETCH (GET the batch, write its
 * Divisions, or its Tasks when it has no Divisions), WRITE_TASKS (upsert Tasks on
 * Custompms_Id__c), REPORT (POST the per-record results, then start the next batch id). Each job
 * is also its own Transaction Finalizer: it reports the failures of its transaction (and an
 * unhandled exception, a heap or CPU limit included) to the proxy and keeps the chain going.
 */
import {
  CustompmsProxyClient,
  JobFailure,
  type ChangeBatch,
  type RecordResult,
} from './CustompmsProxyClient';
import { CustompmsProxyException } from './CustompmsProxyException';
import { CustompmsQueue } from './CustompmsQueue';
import { CustompmsRecordWriter, type Prepared } from './CustompmsRecordWriter';
import {
  ApexString,
  type Apex,
  type Finalizer,
  type FinalizerContext,
  type Queueable,
  type SObject,
} from './runtime';

export type Phase = 'FETCH' | 'WRITE_TASKS' | 'REPORT';

export class CustompmsPullJob implements Queueable, Finalizer {
  readonly apexClass = 'CustompmsPullJob';
  // Most phases one batch can need; sizes the chain's stack depth.
  private static readonly PHASES_PER_BATCH = 3;

  readonly batchIds: string[];
  readonly currentPhase: Phase;
  // Tasks built (and checked) in the FETCH transaction, upserted by the WRITE_TASKS job.
  pendingTasks: Prepared | null = null;
  readonly results: RecordResult[];
  // Failures of this transaction, reported by the finalizer once it has ended.
  readonly failures: JobFailure[] = [];

  constructor(batchIds: string[], phase: Phase = 'FETCH', results: RecordResult[] = []) {
    this.batchIds = batchIds;
    this.currentPhase = phase;
    this.results = results;
  }

  static enqueueFor(apex: Apex, events: SObject[]): void {
    const batchIds: string[] = [];
    const seen = new Set<string>();
    for (const event of events) {
      const batchId = event.Batch_Id__c as string | null | undefined;
      if (ApexString.isNotBlank(batchId) && !seen.has(batchId!) && seen.add(batchId!)) {
        batchIds.push(batchId!);
      }
    }
    const capacity = apex.Limits.getLimitQueueableJobs() - apex.Limits.getQueueableJobs();
    for (const chunk of CustompmsPullJob.partition(batchIds, capacity)) {
      CustompmsQueue.enqueue(
        apex,
        new CustompmsPullJob(chunk),
        CustompmsQueue.options(chunk.length * CustompmsPullJob.PHASES_PER_BATCH + 1, null),
      );
    }
  }

  static partition(ids: string[], capacity: number): string[][] {
    const groups: string[][] = [];
    const groupCount = Math.min(ids.length, Math.max(1, capacity));
    for (let i = 0; i < groupCount; i++) {
      groups.push([]);
    }
    for (let i = 0; i < ids.length; i++) {
      groups[Math.trunc((i * groupCount) / ids.length)]!.push(ids[i]!);
    }
    return groups;
  }

  async execute(apex: Apex): Promise<void> {
    CustompmsQueue.attachFinalizer(apex, this);
    switch (this.currentPhase) {
      case 'WRITE_TASKS':
        this.writeTasks(apex);
        break;
      case 'REPORT':
        await this.report(apex);
        break;
      default:
        await this.fetch(apex);
    }
  }

  private async fetch(apex: Apex): Promise<void> {
    const batchId = this.batchIds[0]!;
    let batch: ChangeBatch;
    try {
      batch = await new CustompmsProxyClient(apex).getChangeBatch(batchId);
    } catch (e) {
      if (!(e instanceof CustompmsProxyException)) throw e;
      const status = e.getStatusCode();
      const gone = status === 404 || status === 410;
      apex.System.debug(gone ? 'INFO' : 'ERROR', 'Custompms batch ' + batchId + ' skipped: ' + e.message);
      if (!gone) {
        this.failures.push(this.newFailure(batchId, status, 'Batch not fetched: ' + e.message));
      }
      this.startNextBatch(apex);
      return;
    }
    const collected: RecordResult[] = [];
    const tasks = CustompmsRecordWriter.prepareTasks(apex, batch.tasks);
    // Heap (emulator accounting): the built Tasks, next to the parsed batch still in scope.
    apex.Limits.hold('CustompmsPullJob.tasks', tasks.records);
    if (batch.divisions.length === 0) {
      collected.push(...CustompmsRecordWriter.upsertTasks(apex, tasks));
      this.chain(apex, 'REPORT', null, collected);
      return;
    }
    collected.push(
      ...CustompmsRecordWriter.saveDivisions(
        apex,
        CustompmsRecordWriter.prepareDivisions(apex, batch.divisions),
      ),
    );
    if (tasks.records.length === 0) {
      collected.push(...tasks.failures);
      this.chain(apex, 'REPORT', null, collected);
    } else {
      this.chain(apex, 'WRITE_TASKS', tasks, collected);
    }
  }

  private writeTasks(apex: Apex): void {
    // Heap (emulator accounting): the Tasks carried over from the FETCH transaction.
    apex.Limits.hold('CustompmsPullJob.pendingTasks', this.pendingTasks!.records);
    const collected: RecordResult[] = [...this.results];
    collected.push(...CustompmsRecordWriter.upsertTasks(apex, this.pendingTasks!));
    this.chain(apex, 'REPORT', null, collected);
  }

  private async report(apex: Apex): Promise<void> {
    const batchId = this.batchIds[0]!;
    try {
      await new CustompmsProxyClient(apex).postBatchResults(batchId, this.results);
    } catch (e) {
      if (!(e instanceof CustompmsProxyException)) throw e;
      // The proxy republishes a batch without results; the upserts then repeat harmlessly.
      apex.System.debug('ERROR', 'Results of Custompms batch ' + batchId + ' not reported: ' + e.message);
      this.failures.push(this.newFailure(batchId, e.getStatusCode(), 'Results not reported: ' + e.message));
    }
    this.startNextBatch(apex);
  }

  // Apex: execute(FinalizerContext context)
  async finalize(apex: Apex, context: FinalizerContext): Promise<void> {
    if (context.getResult() === 'UNHANDLED_EXCEPTION') {
      const error = context.getException();
      this.failures.push(
        this.newFailure(
          this.batchIds[0]!,
          null,
          'Unhandled ' + (error?.apexType ?? 'Exception') + ': ' + (error?.message ?? ''),
        ),
      );
      this.startNextBatch(apex);
    }
    if (this.failures.length === 0) {
      return;
    }
    for (const failure of this.failures) {
      failure.asyncApexJobId = context.getAsyncApexJobId();
    }
    try {
      await new CustompmsProxyClient(apex).postJobFailures(this.failures);
    } catch (e) {
      if (!(e instanceof CustompmsProxyException)) throw e;
      // The proxy is unreachable: the batch's deadline passes without results and the proxy raises its
      // own problem and republishes it, so nothing is lost; the log keeps the detail.
      apex.System.debug('ERROR', 'Custompms job failures not reported: ' + e.message);
    }
  }

  private newFailure(batchId: string, status: number | null, message: string): JobFailure {
    const failure = new JobFailure('CustompmsPullJob', batchId, message);
    failure.phase = this.currentPhase;
    failure.statusCode = status;
    return failure;
  }

  private startNextBatch(apex: Apex): void {
    if (this.batchIds.length > 1) {
      const rest = [...this.batchIds];
      rest.splice(0, 1);
      CustompmsQueue.enqueue(apex, new CustompmsPullJob(rest), null);
    }
  }

  private chain(apex: Apex, next: Phase, tasks: Prepared | null, collected: RecordResult[]): void {
    const job = new CustompmsPullJob(this.batchIds, next, collected);
    job.pendingTasks = tasks;
    CustompmsQueue.enqueue(apex, job, null);
  }
}
