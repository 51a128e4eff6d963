/**
 * Mirrors the three triggers in force-app/main/default/triggers/ (each one line, handing its
 * records to a class), plus the registry that tells the org which object and events each one
 * handles. A trigger runs only when its ApexTrigger is deployed (present in the org's metadata),
 * unless the org is told to run them regardless.
 */
import { CustompmsDeletionJob } from './CustompmsDeletionJob';
import { CustompmsPullJob } from './CustompmsPullJob';
import { CustompmsTaskTriggerHandler, type TriggerOperation } from './CustompmsTaskTriggerHandler';
import type { Apex, SObject } from './runtime';

export interface TriggerDefinition {
  name: string;
  object: string;
  operations: TriggerOperation[];
  /** The Apex classes the trigger's code runs (all must be deployed for it to run). */
  classes: string[];
  run(apex: Apex, operation: TriggerOperation, records: SObject[]): void;
}

export const TRIGGERS: TriggerDefinition[] = [
  {
    // trigger CustompmsTaskTrigger on Task(after delete, after undelete)
    name: 'CustompmsTaskTrigger',
    object: 'Task',
    operations: ['AFTER_DELETE', 'AFTER_UNDELETE'],
    classes: ['CustompmsTaskTriggerHandler'],
    run: (apex, operation, records) => {
      new CustompmsTaskTriggerHandler(apex, operation, records).run();
    },
  },
  {
    // trigger CustompmsChangeTrigger on Custompms_Change__e(after insert)
    name: 'CustompmsChangeTrigger',
    object: 'Custompms_Change__e',
    operations: ['AFTER_INSERT'],
    classes: [
      'CustompmsPullJob',
      'CustompmsQueue',
      'CustompmsProxyClient',
      'CustompmsProxyException',
      'CustompmsRecordWriter',
    ],
    run: (apex, _operation, records) => CustompmsPullJob.enqueueFor(apex, records),
  },
  {
    // trigger CustompmsTaskDeletionTrigger on Custompms_Task_Deletion__e(after insert)
    name: 'CustompmsTaskDeletionTrigger',
    object: 'Custompms_Task_Deletion__e',
    operations: ['AFTER_INSERT'],
    classes: ['CustompmsDeletionJob', 'CustompmsQueue', 'CustompmsProxyClient', 'CustompmsProxyException'],
    run: (apex, _operation, records) => CustompmsDeletionJob.enqueueFor(apex, records),
  },
];
