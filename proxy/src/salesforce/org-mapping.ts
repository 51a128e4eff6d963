/**
 * Reads the org's field-map and sync-setting custom-metadata records (what an admin may change
 * in Setup, MAPPING.md). Custom metadata is readable with SOQL and does not count against the
 * org's query row limits. An org without the records (force-app not deployed yet) reads as none.
 */
import type { FieldMapRecord, SyncSettingRecord } from '../sync';
import { SalesforceApiError } from './errors';
import type { SalesforceOperations } from './operations';

const FIELD_MAP_FIELDS = [
  'Key__c',
  'Flow__c',
  'MasterLabel',
  'Custompms_Property__c',
  'Salesforce_Field__c',
  'Direction__c',
  'Kind__c',
  'Max_Length__c',
  'Required_In_Salesforce__c',
  'Required_In_Custompms__c',
  'To_Salesforce__c',
  'To_Custompms__c',
  'Enabled__c',
];
const SETTING_FIELDS = ['Flow__c', 'Conflict_Policy__c', 'Delete_Policy__c', 'Create_From_Salesforce__c'];
/** Marks an admin's record; orgs deployed before it existed lack it (every record is then shipped). */
const OVERRIDE_FIELD = 'Override__c';

export interface OrgMappingRecords {
  fields: FieldMapRecord[];
  settings: SyncSettingRecord[];
}

export async function readOrgMapping(
  operations: SalesforceOperations,
): Promise<OrgMappingRecords | undefined> {
  try {
    return await readRecords(operations, [OVERRIDE_FIELD]);
  } catch (error) {
    if (error instanceof SalesforceApiError && error.errorCode === 'INVALID_TYPE') return undefined;
    if (error instanceof SalesforceApiError && error.errorCode === 'INVALID_FIELD') {
      return readRecords(operations, []);
    }
    throw error;
  }
}

async function readRecords(operations: SalesforceOperations, extra: string[]): Promise<OrgMappingRecords> {
  const fields = await operations.queryAll<FieldMapRecord & Record<string, unknown>>(
    `SELECT ${[...FIELD_MAP_FIELDS, ...extra].join(', ')} FROM Custompms_Field_Map__mdt`,
  );
  const settings = await operations.queryAll<SyncSettingRecord & Record<string, unknown>>(
    `SELECT ${[...SETTING_FIELDS, ...extra].join(', ')} FROM Custompms_Sync_Setting__mdt`,
  );
  return { fields, settings };
}

/**
 * The Task fields the running user (the integration user, who is also the outbound message's
 * send-as user) can read: `describe` leaves out the fields field-level security hides from it.
 */
export async function readableTaskFields(operations: SalesforceOperations): Promise<Set<string>> {
  const describe = await operations.client.call((conn) => conn.sobject('Task').describe());
  return new Set(describe.fields.map((field) => field.name));
}
