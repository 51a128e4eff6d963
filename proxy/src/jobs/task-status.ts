/**
 * The per-record sync status shown on a Salesforce Task (`Custompms_Sync_Status__c`,
 * `Custompms_Sync_Error__c`, `Custompms_Last_Synced__c`) and the values it takes. Written as the
 * integration user, so the write itself sends no outbound message back.
 */
import type { SyncDeps } from './deps';

export const SYNCED = 'Synced';
export const ERROR = 'Error';

/** The status fields a Task carries after a sync (`message` null: no error). */
export function statusFields(status: string, message: string | null, now: Date): Record<string, unknown> {
  return {
    Custompms_Sync_Status__c: status,
    Custompms_Sync_Error__c: message === null ? null : message.slice(0, 255),
    Custompms_Last_Synced__c: now.toISOString(),
  };
}

/** Writes the per-record sync status on a Salesforce Task (integration user: no outbound echo). */
export async function writeTaskStatus(
  deps: SyncDeps,
  salesforceId: string,
  status: string,
  message: string | null,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const salesforce = await deps.salesforce();
  const [result] = await salesforce.operations.update('Task', [
    { Id: salesforceId, ...extra, ...statusFields(status, message, deps.now()) },
  ]);
  if (result && !result.success) {
    deps.logger.warn({ salesforceId, errors: result.errors }, 'could not write sync status on the Task');
  }
}
