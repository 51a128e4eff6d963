/**
 * Mirrors force-app/main/default/classes/CustompmsDeletionJob.cls, line for line: reports Task
 * deletes and undeletes to the proxy in one callout per job; retries a failure that may pass
 * after 1 and 10 minutes, up to MAX_ATTEMPTS; otherwise fails the job visibly.
 */
import { CustompmsProxyClient, TaskDeletion } from './CustompmsProxyClient';
import { CustompmsProxyException } from './CustompmsProxyException';
import { CustompmsQueue } from './CustompmsQueue';
import type { Apex, Queueable, SObject } from './runtime';

export class CustompmsDeletionJob implements Queueable {
  readonly apexClass = 'CustompmsDeletionJob';
  static readonly MAX_ATTEMPTS = 3;
  // Minutes before attempt 2 and attempt 3 (Queueable delays go up to 10 minutes).
  private static readonly RETRY_DELAYS = [1, 10];

  readonly deletions: TaskDeletion[];
  readonly attempt: number;

  constructor(deletions: TaskDeletion[], attempt: number) {
    this.deletions = deletions;
    this.attempt = attempt;
  }

  static enqueueFor(apex: Apex, events: SObject[]): void {
    const deletions: TaskDeletion[] = [];
    for (const event of events) {
      deletions.push(new TaskDeletion(event));
    }
    if (deletions.length > 0) {
      CustompmsQueue.enqueue(
        apex,
        new CustompmsDeletionJob(deletions, 1),
        CustompmsQueue.options(CustompmsDeletionJob.MAX_ATTEMPTS, null),
      );
    }
  }

  async execute(apex: Apex): Promise<void> {
    try {
      await new CustompmsProxyClient(apex).postTaskDeletions(this.deletions);
    } catch (e) {
      if (!(e instanceof CustompmsProxyException)) throw e;
      if (!e.isRetryable() || this.attempt >= CustompmsDeletionJob.MAX_ATTEMPTS) {
        throw e;
      }
      apex.System.debug(
        'WARN',
        'Task deletions not reported (attempt ' + this.attempt + '), retrying: ' + e.message,
      );
      CustompmsQueue.enqueue(
        apex,
        new CustompmsDeletionJob(this.deletions, this.attempt + 1),
        CustompmsQueue.options(null, CustompmsDeletionJob.RETRY_DELAYS[this.attempt - 1]!),
      );
    }
  }
}
