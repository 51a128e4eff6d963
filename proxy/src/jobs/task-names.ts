/**
 * Every graphile-worker task name, in one place: the task list (tasks.ts), the enqueue helpers
 * (enqueue.ts), the pollers' crontab, dead-letter replay and problem tags all use these. The SQL
 * triggers of migrations 0002 and 0011 name their tasks themselves (migrations are append-only);
 * test/proxy/jobs/task-names.test.ts checks that they name this registry's tasks.
 */
export const TASK = {
  /** Stored inbox messages into the sync, a batch at a time (enqueued by the inbox's SQL trigger, 0011). */
  processInboxMessages: 'process_inbox_messages',
  /** One stored inbox message: jobs enqueued by the trigger before migration 0011. */
  processInboxMessage: 'process_inbox_message',
  /** (Re)syncs one Custompms record from its current state. */
  syncCustompmsRecord: 'sync_custompms_record',
  /** (Re)syncs a list of Custompms records, each on its own (a batch job: changes released together). */
  syncCustompmsRecords: 'sync_custompms_records',
  /** Cuts the outbox into change batches and sends them. */
  flushOutbox: 'flush_outbox',
  republishOverdueBatches: 'republish_overdue_batches',
  pollCustompms: 'poll_custompms',
  pollDivisions: 'poll_divisions',
  pollDeletedTasks: 'poll_deleted_tasks',
  /** Task edits on SystemModstamp: what an outbound message never delivered (outage > 24 h). */
  pollTasks: 'poll_tasks',
  /** Purges what the retention period no longer needs (inbox, batches, conflicts, problems). */
  purgeExpired: 'purge_expired',
} as const;

export type TaskName = (typeof TASK)[keyof typeof TASK];

/**
 * Tasks always enqueued with a job key. graphile-worker's `add_job`, given the key of a job that
 * is running, clears that job's key, spends its attempts and adds a fresh job: the running one is
 * superseded (its work is the new job's), so its failure or death is no dead letter.
 */
export const KEYED_TASKS: ReadonlySet<string> = new Set([TASK.syncCustompmsRecord, TASK.flushOutbox]);

/** Every task name; a dead letter of any of them can be replayed (jobs/replay.ts). */
export const TASK_NAMES: readonly TaskName[] = Object.values(TASK);
