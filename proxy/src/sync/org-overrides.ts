/**
 * The org's custom-metadata records (`Custompms_Field_Map__mdt`, `Custompms_Sync_Setting__mdt`)
 * as overrides of the shipped definition. The shipped records are generated from that definition
 * (`Override__c` false) and every deploy writes them again, so an admin's change lives in a record
 * of its own with `Override__c` true, which no deploy touches. An override record wins over the
 * shipped record of the same row key (field maps) or flow (settings). A shipped record equal to its
 * row is no change; one an admin edited in Setup still applies but is reported
 * (`shipped_record_edited`: the next deploy resets it). Settings the proxy's configuration made stay
 * in force unless a record changes them.
 */
import type {
  FieldMapOverride,
  FieldMapping,
  FlowSettingOverride,
  Overrides,
  SyncDefinition,
} from './mapping';
import type { Problem } from './problems';

/** A `Custompms_Field_Map__mdt` record, as SOQL returns it. */
export interface FieldMapRecord {
  Key__c: string | null;
  Flow__c: string | null;
  MasterLabel?: string | null;
  Custompms_Property__c: string | null;
  Salesforce_Field__c: string | null;
  Direction__c: string | null;
  Kind__c: string | null;
  Max_Length__c: number | null;
  Required_In_Salesforce__c: boolean | null;
  Required_In_Custompms__c: boolean | null;
  To_Salesforce__c: string | null;
  To_Custompms__c: string | null;
  Enabled__c: boolean | null;
  /** An admin's record (absent in orgs deployed before the field existed: shipped). */
  Override__c?: boolean | null;
}

/** A `Custompms_Sync_Setting__mdt` record. */
export interface SyncSettingRecord {
  Flow__c: string | null;
  Conflict_Policy__c: string | null;
  Delete_Policy__c: string | null;
  Create_From_Salesforce__c: boolean | null;
  /** An admin's record (absent in orgs deployed before the field existed: shipped). */
  Override__c?: boolean | null;
}

/**
 * The records that apply: per key, the override record when there is one, else the shipped one
 * (several override records for one key: the last read wins, reported).
 */
function preferOverrides<T extends { Override__c?: boolean | null }>(
  records: readonly T[],
  keyOf: (record: T) => string | null,
  problems: Problem[],
): { record: T; shipped: boolean }[] {
  const chosen = new Map<string, { record: T; shipped: boolean }>();
  for (const record of records) {
    const key = keyOf(record);
    if (key === null) continue;
    const shipped = record.Override__c !== true;
    const current = chosen.get(key);
    if (current && !current.shipped && !shipped) {
      problems.push({
        code: 'bad_override',
        severity: 'warning',
        message: `several override records for ${key}: only one applies`,
        field: key,
      });
    }
    if (!current || current.shipped || !shipped) chosen.set(key, { record, shipped });
  }
  return [...chosen.values()];
}

function editedShipped(key: string, flow: string | undefined): Problem {
  return {
    code: 'shipped_record_edited',
    severity: 'warning',
    message: `the shipped record ${key} was edited in Setup: it applies now, but the next deploy resets it; add a record with Override checked instead`,
    ...(flow === undefined ? {} : { flow }),
    field: key,
  };
}

function sameMap(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
) {
  const left = Object.entries(a ?? {}).sort();
  const right = Object.entries(b ?? {}).sort();
  return JSON.stringify(left) === JSON.stringify(right);
}

function valueMap(
  text: string | null,
  key: string,
  problems: Problem[],
): Readonly<Record<string, string>> | undefined | 'invalid' {
  if (text === null || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch {
    problems.push({
      code: 'bad_override',
      severity: 'error',
      message: `the value map of ${key} is not JSON`,
      field: key,
    });
    return 'invalid';
  }
}

/** What in one record differs from its shipped row (a record with no shipped row is a new row). */
function fieldOverride(
  shipped: FieldMapping | undefined,
  record: FieldMapRecord,
  problems: Problem[],
): FieldMapOverride | undefined {
  const key = record.Key__c!;
  const toSalesforce = valueMap(record.To_Salesforce__c, key, problems);
  const toCustompms = valueMap(record.To_Custompms__c, key, problems);
  if (toSalesforce === 'invalid' || toCustompms === 'invalid') return undefined;
  const candidate = {
    label: record.MasterLabel ?? undefined,
    custompms: record.Custompms_Property__c ?? undefined,
    salesforce: record.Salesforce_Field__c ?? undefined,
    direction: record.Direction__c ?? undefined,
    kind: record.Kind__c ?? undefined,
    maxLength: record.Max_Length__c ?? undefined,
    requiredInSalesforce: record.Required_In_Salesforce__c ?? undefined,
    requiredInCustompms: record.Required_In_Custompms__c ?? undefined,
    enabled: record.Enabled__c ?? undefined,
  };
  const override: Record<string, unknown> = { flow: record.Flow__c!, key };
  if (!shipped) {
    Object.assign(override, candidate, { toSalesforce, toCustompms });
    return override as unknown as FieldMapOverride;
  }
  for (const [name, value] of Object.entries(candidate)) {
    // The label is cosmetic, and an empty field keeps the shipped value.
    if (name === 'label' || value === undefined) continue;
    const current = (shipped as unknown as Record<string, unknown>)[name];
    // Unset flags are false in the records the generator writes.
    if (value !== (typeof value === 'boolean' ? (current ?? false) : current)) override[name] = value;
  }
  if (!sameMap(toSalesforce, shipped.toSalesforce)) override.toSalesforce = toSalesforce ?? {};
  if (!sameMap(toCustompms, shipped.toCustompms)) override.toCustompms = toCustompms ?? {};
  return Object.keys(override).length > 2 ? (override as unknown as FieldMapOverride) : undefined;
}

/** The admin's changes in the org's records, relative to `shipped`. */
export function overridesFromOrg(
  shipped: SyncDefinition,
  records: { fields: readonly FieldMapRecord[]; settings: readonly SyncSettingRecord[] },
): { overrides: Overrides; problems: Problem[] } {
  const problems: Problem[] = [];
  const fields: FieldMapOverride[] = [];
  const fieldRecords = preferOverrides(
    records.fields,
    (record) => (record.Key__c && record.Flow__c ? `${record.Flow__c}:${record.Key__c}` : null),
    problems,
  );
  for (const { record, shipped: isShipped } of fieldRecords) {
    const flow = shipped[record.Flow__c as keyof SyncDefinition] as
      SyncDefinition[keyof SyncDefinition] | undefined;
    const row = flow?.fields.find((field) => field.key === record.Key__c);
    const override = fieldOverride(row, record, problems);
    if (override && isShipped && row) problems.push(editedShipped(record.Key__c!, record.Flow__c!));
    if (override) fields.push(override);
  }
  const flows: FlowSettingOverride[] = [];
  const settingRecords = preferOverrides(records.settings, (record) => record.Flow__c || null, problems);
  for (const { record, shipped: isShipped } of settingRecords) {
    const flow = shipped[record.Flow__c as keyof SyncDefinition] as
      SyncDefinition[keyof SyncDefinition] | undefined;
    const setting: { -readonly [K in keyof FlowSettingOverride]: FlowSettingOverride[K] } = {
      flow: record.Flow__c!,
    };
    if (record.Conflict_Policy__c && record.Conflict_Policy__c !== flow?.conflictPolicy)
      setting.conflictPolicy = record.Conflict_Policy__c;
    if (record.Delete_Policy__c && record.Delete_Policy__c !== flow?.deletePolicy)
      setting.deletePolicy = record.Delete_Policy__c;
    if (
      record.Create_From_Salesforce__c !== null &&
      record.Create_From_Salesforce__c !== flow?.createFromSalesforce
    )
      setting.createFromSalesforce = record.Create_From_Salesforce__c;
    if (Object.keys(setting).length > 1) {
      if (isShipped && flow) problems.push(editedShipped(`settings of ${record.Flow__c}`, record.Flow__c!));
      flows.push(setting);
    }
  }
  return { overrides: { fields, flows }, problems };
}
