/**
 * Mirrors force-app/main/default/classes/CustompmsTaskTriggerHandler.cls, line for line: after
 * delete / after undelete of Tasks, publishes one Custompms_Task_Deletion__e per synced Task
 * unless the running user holds Custompms_Sync_Bypass.
 */
import { ApexString, type Apex, type DatabaseResult, type SObject } from './runtime';

export type TriggerOperation = 'AFTER_DELETE' | 'AFTER_UNDELETE' | 'AFTER_INSERT' | 'AFTER_UPDATE';

export class CustompmsTaskTriggerHandler {
  static readonly BYPASS_PERMISSION = 'Custompms_Sync_Bypass';

  private readonly operation: TriggerOperation;
  private readonly records: SObject[];

  constructor(
    private readonly apex: Apex,
    operation: TriggerOperation,
    records: SObject[] | null,
  ) {
    this.operation = operation;
    this.records = records == null ? [] : records;
  }

  run(): DatabaseResult[] {
    switch (this.operation) {
      case 'AFTER_DELETE':
        return this.publish('delete');
      case 'AFTER_UNDELETE':
        return this.publish('undelete');
      default:
        return [];
    }
  }

  buildEvents(operationName: string): SObject[] {
    const events: SObject[] = [];
    if (this.apex.FeatureManagement.checkPermission(CustompmsTaskTriggerHandler.BYPASS_PERMISSION)) {
      return events;
    }
    for (const record of this.records) {
      if (ApexString.isNotBlank(record.Custompms_Type__c)) {
        events.push(
          this.apex.newSObject('Custompms_Task_Deletion__e', {
            Task_Id__c: record.Id ?? null,
            Custompms_Id__c: record.Custompms_Id__c ?? null,
            Operation__c: operationName,
          }),
        );
      }
    }
    return events;
  }

  private publish(operationName: string): DatabaseResult[] {
    const events = this.buildEvents(operationName);
    if (events.length === 0) {
      return [];
    }
    const results = this.apex.EventBus.publish(events);
    for (const result of results) {
      if (!result.isSuccess()) {
        // Not fatal for the user's delete: the proxy's poll of deleted Tasks catches it later.
        this.apex.System.debug(
          'ERROR',
          'Custompms_Task_Deletion__e not published: ' +
            JSON.stringify(result.getErrors().map((e) => e.getMessage())),
        );
      }
    }
    return results;
  }
}
