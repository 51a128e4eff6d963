/**
 * Mirrors force-app/main/default/classes/CustompmsPullJob.cls, line for line: for each batch id
 * from Custompms_Change__e, up to three Queueable transactions — FETCH (GET the batch, write its
 * Divisions, or its Tasks when it has no Divisions), WRITE_TASKS (upsert Tasks on
 * Custompms_Id__c), REPORT (POST the per-record results, then start the next batch id).
 */
import { CustompmsProxyClient, type ChangeBatch, type RecordResult } from './CustompmsProxyClient';
import { CustompmsProxyException } from './CustompmsProxyException';
import { CustompmsQueue } from './CustompmsQueue';
import { CustompmsRecordWriter, type Prepared } from './CustompmsRecordWriter';
import { ApexString, type Apex, type Queueable, type SObject } from './runtime';

export type Phase = 'FETCH' | 'WRITE_TASKS' | 'REPORT';

export class CustompmsPullJob implements Queueable {
  readonly apexClass = 'CustompmsPullJob';
  // Most phases one batch can need; sizes the chain's stack depth.
  private static readonly PHASES_PER_BATCH = 3;

  readonly batchIds: string[];
  readonly currentPhase: Phase;
  // Tasks built (and checked) in the FETCH transaction, upserted by the WRITE_TASKS job.
  pendingTasks: Prepared | null = null;
  readonly results: RecordResult[];

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
      const level = status === 404 || status === 410 ? 'INFO' : 'ERROR';
      apex.System.debug(level, 'Custompms batch ' + batchId + ' skipped: ' + e.message);
      this.startNextBatch(apex);
      return;
    }
    const collected: RecordResult[] = [];
    const tasks = CustompmsRecordWriter.prepareTasks(apex, batch.tasks);
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
    }
    this.startNextBatch(apex);
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
