/**
 * Mirrors force-app/main/default/classes/CustompmsQueue.cls, line for line: the one place the
 * jobs enqueue work. (Its test seam — a recording subclass installed by Apex tests — has no use
 * here; production code always reaches System.enqueueJob, which is what runs.)
 */
import type { Apex, AsyncOptions, Finalizer, Queueable } from './runtime';

export class CustompmsQueue {
  static enqueue(apex: Apex, job: Queueable, options: AsyncOptions | null): string {
    return CustompmsQueue.submit(apex, job, options);
  }

  static attachFinalizer(apex: Apex, finalizer: Finalizer): void {
    CustompmsQueue.attach(apex, finalizer);
  }

  static options(maxStackDepth: number | null, delayMinutes: number | null): AsyncOptions {
    const options: AsyncOptions = {};
    if (maxStackDepth != null) {
      options.MaximumQueueableStackDepth = maxStackDepth;
    }
    if (delayMinutes != null) {
      options.MinimumQueueableDelayInMinutes = delayMinutes;
    }
    return options;
  }

  private static submit(apex: Apex, job: Queueable, options: AsyncOptions | null): string {
    return options == null ? apex.System.enqueueJob(job) : apex.System.enqueueJob(job, options);
  }

  private static attach(apex: Apex, finalizer: Finalizer): void {
    apex.System.attachFinalizer(finalizer);
  }
}
