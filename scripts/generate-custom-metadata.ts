/**
 * Generates the org's custom metadata from the proxy's mapping definition (`FLOWS` in
 * `proxy/src/sync/mapping.ts`), so the field maps exist once, in code:
 * - one `Custompms_Field_Map__mdt` record per field-map row, one `Custompms_Sync_Setting__mdt`
 *   record per flow (`force-app/main/default/customMetadata/`);
 * - the value sets of the picklist fields that hold enumerations of the definition (direction,
 *   kind, conflict and delete policy).
 *
 * These are the SHIPPED records (Override__c false): a deploy writes them again, so an admin never
 * edits them in Setup but adds a record with Override__c checked for the same row key or flow; the
 * proxy prefers it (proxy/src/sync/org-overrides.ts) and no deploy carries it.
 *
 * Usage:
 *   npx tsx scripts/generate-custom-metadata.ts           write the files, delete stale records
 *   npx tsx scripts/generate-custom-metadata.ts --check   exit 1 when the files differ
 *
 * The XML is rendered exactly as Prettier (with @prettier/plugin-xml and the repo settings) prints
 * it, so `prettier --check` holds without running Prettier here. JSON value maps sit between
 * prettier-ignore comments: Prettier would otherwise re-wrap the text at its spaces and break
 * values such as "Waiting on someone else" across lines.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CONFLICT_POLICIES,
  DELETE_POLICIES,
  DIRECTIONS,
  FIELD_KINDS,
  FLOW_NAMES,
  FLOWS,
  type FieldMapping,
  type FlowDefinition,
  type SyncDefinition,
} from '../proxy/src/sync/mapping';
import { parseCommandLine } from './lib/cli';

export const FIELD_MAP_TYPE = 'Custompms_Field_Map';
export const SYNC_SETTING_TYPE = 'Custompms_Sync_Setting';
/** Where the generated files live, relative to the project root. */
export const METADATA_ROOT = path.join('force-app', 'main', 'default');

type MetadataValue = string | number | boolean | null;

/** One `<values>` entry of a custom metadata record. */
interface RecordValue {
  readonly field: string;
  readonly value: MetadataValue;
  /** Long text that Prettier must not re-wrap. */
  readonly verbatim?: boolean;
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>';
const METADATA_NS = 'http://soap.sforce.com/2006/04/metadata';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The DeveloperName of a field-map record: the row key with `.` as `_`. Salesforce allows
 * letters, digits and single underscores, starting with a letter, at most 40 characters.
 */
export function recordName(key: string): string {
  const name = key.replace(/\./g, '_');
  if (!/^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$/.test(name) || name.endsWith('_') || name.length > 40) {
    throw new Error(`Row key "${key}" does not make a valid custom metadata record name (${name})`);
  }
  return name;
}

/** The DeveloperName of a flow's settings record, e.g. `Projects`. */
export function settingName(flow: FlowDefinition): string {
  return flow.name.charAt(0).toUpperCase() + flow.name.slice(1);
}

function renderValue({ field, value, verbatim }: RecordValue): string {
  let valueXml: string;
  if (value === null) valueXml = '<value xsi:nil="true" />';
  else if (typeof value === 'boolean') valueXml = `<value xsi:type="xsd:boolean">${value}</value>`;
  else if (typeof value === 'number')
    valueXml = `<value xsi:type="xsd:double">${Number.isInteger(value) ? value.toFixed(1) : value}</value>`;
  else valueXml = `<value xsi:type="xsd:string">${escapeXml(value)}</value>`;
  const block = ['  <values>', `    <field>${field}</field>`, `    ${valueXml}`, '  </values>'];
  return (
    verbatim ? ['  <!-- prettier-ignore-start -->', ...block, '  <!-- prettier-ignore-end -->'] : block
  ).join('\n');
}

function renderRecord(label: string, values: readonly RecordValue[]): string {
  if (label.length > 40) throw new Error(`Record label "${label}" is longer than 40 characters`);
  return [
    XML_DECLARATION,
    '<CustomMetadata',
    `  xmlns="${METADATA_NS}"`,
    '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    '  xmlns:xsd="http://www.w3.org/2001/XMLSchema"',
    '>',
    `  <label>${escapeXml(label)}</label>`,
    '  <protected>false</protected>',
    ...values.map(renderValue),
    '</CustomMetadata>',
    '',
  ].join('\n');
}

/** The record values of one field-map row; the proxy reads them back as a `FieldMapOverride`. */
export function fieldMapValues(flow: FlowDefinition, row: FieldMapping): RecordValue[] {
  return [
    { field: 'Constant__c', value: row.constant ?? null },
    { field: 'Custompms_Property__c', value: row.custompms },
    { field: 'Direction__c', value: row.direction },
    { field: 'Enabled__c', value: row.enabled },
    { field: 'Flow__c', value: flow.name },
    { field: 'Key__c', value: row.key },
    { field: 'Kind__c', value: row.kind },
    { field: 'Locked__c', value: row.locked === true },
    { field: 'Max_Length__c', value: row.maxLength ?? null },
    // Shipped rows are never overrides: an admin's change goes into a record of its own with
    // Override__c checked, which a redeploy (of these shipped records only) never touches.
    { field: 'Override__c', value: false },
    { field: 'Required_In_Custompms__c', value: row.requiredInCustompms === true },
    { field: 'Required_In_Salesforce__c', value: row.requiredInSalesforce === true },
    { field: 'Salesforce_Field__c', value: row.salesforce },
    {
      field: 'To_Custompms__c',
      value: row.toCustompms ? JSON.stringify(row.toCustompms) : null,
      verbatim: row.toCustompms !== undefined,
    },
    {
      field: 'To_Salesforce__c',
      value: row.toSalesforce ? JSON.stringify(row.toSalesforce) : null,
      verbatim: row.toSalesforce !== undefined,
    },
  ];
}

/** The record values of one flow's settings; read back as a `FlowSettingOverride`. */
export function syncSettingValues(flow: FlowDefinition): RecordValue[] {
  return [
    { field: 'Conflict_Policy__c', value: flow.conflictPolicy },
    { field: 'Create_From_Salesforce__c', value: flow.createFromSalesforce },
    { field: 'Delete_Policy__c', value: flow.deletePolicy },
    { field: 'Flow__c', value: flow.name },
    { field: 'Override__c', value: false },
    { field: 'Salesforce_Object__c', value: flow.salesforceObject },
  ];
}

function renderPicklistField(
  name: string,
  label: string,
  description: string,
  values: readonly string[],
): string {
  return [
    XML_DECLARATION,
    `<CustomField xmlns="${METADATA_NS}">`,
    `  <fullName>${name}</fullName>`,
    `  <description>${escapeXml(description)}</description>`,
    '  <externalId>false</externalId>',
    '  <fieldManageability>SubscriberControlled</fieldManageability>',
    `  <label>${label}</label>`,
    '  <required>false</required>',
    '  <type>Picklist</type>',
    '  <valueSet>',
    '    <restricted>true</restricted>',
    '    <valueSetDefinition>',
    '      <sorted>false</sorted>',
    ...values.flatMap((value) => [
      '      <value>',
      `        <fullName>${value}</fullName>`,
      '        <default>false</default>',
      `        <label>${value}</label>`,
      '      </value>',
    ]),
    '    </valueSetDefinition>',
    '  </valueSet>',
    '</CustomField>',
    '',
  ].join('\n');
}

/**
 * Every generated file, keyed by its path relative to the project root. Pure: the same
 * definition always gives the same files.
 */
export function renderCustomMetadata(definition: SyncDefinition = FLOWS): Map<string, string> {
  const files = new Map<string, string>();
  const add = (relative: string, content: string): void => {
    const file = path.join(METADATA_ROOT, relative);
    if (files.has(file)) throw new Error(`Two generated files would be ${file}`);
    files.set(file, content);
  };
  for (const name of FLOW_NAMES) {
    const flow = definition[name];
    add(
      path.join('customMetadata', `${SYNC_SETTING_TYPE}.${settingName(flow)}.md-meta.xml`),
      renderRecord(settingName(flow), syncSettingValues(flow)),
    );
    for (const row of flow.fields) {
      add(
        path.join('customMetadata', `${FIELD_MAP_TYPE}.${recordName(row.key)}.md-meta.xml`),
        renderRecord(row.label, fieldMapValues(flow, row)),
      );
    }
  }
  const picklists: [string, string, string, string, readonly string[]][] = [
    [FIELD_MAP_TYPE, 'Direction__c', 'Direction', 'Which way the row syncs.', DIRECTIONS],
    [FIELD_MAP_TYPE, 'Kind__c', 'Kind', 'How values are read and converted.', FIELD_KINDS],
    [
      SYNC_SETTING_TYPE,
      'Conflict_Policy__c',
      'Conflict Policy',
      'Who wins a field changed on both sides.',
      CONFLICT_POLICIES,
    ],
    [
      SYNC_SETTING_TYPE,
      'Delete_Policy__c',
      'Delete Policy',
      'What a delete does to the other side.',
      DELETE_POLICIES,
    ],
  ];
  for (const [type, field, label, description, values] of picklists) {
    add(
      path.join('objects', `${type}__mdt`, 'fields', `${field}.field-meta.xml`),
      renderPicklistField(field, label, description, values),
    );
  }
  return files;
}

/** Differences between the generated files and the ones under `root`. */
export interface MetadataDrift {
  /** Generated files that do not exist. */
  readonly missing: string[];
  /** Files whose content differs from what the definition gives. */
  readonly changed: string[];
  /** Records of the two types that the definition no longer produces. */
  readonly stale: string[];
}

function existingRecords(root: string): string[] {
  const folder = path.join(root, METADATA_ROOT, 'customMetadata');
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.startsWith(`${FIELD_MAP_TYPE}.`) || name.startsWith(`${SYNC_SETTING_TYPE}.`))
    .map((name) => path.join(METADATA_ROOT, 'customMetadata', name));
}

/** Compares the files under `root` with what `definition` gives. */
export function findDrift(root: string, definition: SyncDefinition = FLOWS): MetadataDrift {
  const files = renderCustomMetadata(definition);
  const missing: string[] = [];
  const changed: string[] = [];
  for (const [relative, content] of files) {
    const file = path.join(root, relative);
    if (!existsSync(file)) missing.push(relative);
    else if (readFileSync(file, 'utf8') !== content) changed.push(relative);
  }
  const stale = existingRecords(root).filter((relative) => !files.has(relative));
  return { missing, changed, stale };
}

/** Writes every generated file under `root` and deletes stale records; returns what it changed. */
export function writeCustomMetadata(root: string, definition: SyncDefinition = FLOWS): MetadataDrift {
  const drift = findDrift(root, definition);
  const files = renderCustomMetadata(definition);
  for (const relative of [...drift.missing, ...drift.changed]) {
    const file = path.join(root, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, files.get(relative)!);
  }
  for (const relative of drift.stale) rmSync(path.join(root, relative));
  return drift;
}

const USAGE = `Usage: npx tsx scripts/generate-custom-metadata.ts [--check]

Writes the custom metadata records and value sets from proxy/src/sync/mapping.ts (and deletes
stale records).
  --check   write nothing; exit 1 when the files differ`;

function main(argv: string[]): number {
  const root = path.resolve(__dirname, '..');
  const { values } = parseCommandLine(
    USAGE,
    { options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } },
    argv,
  );
  const check = values.check;
  const drift = check ? findDrift(root) : writeCustomMetadata(root);
  const lines = [
    ...drift.missing.map((file) => `${check ? 'missing' : 'created'}: ${file}`),
    ...drift.changed.map((file) => `${check ? 'differs' : 'updated'}: ${file}`),
    ...drift.stale.map((file) => `${check ? 'stale' : 'deleted'}: ${file}`),
  ];
  for (const line of lines) console.log(line);
  if (lines.length === 0) console.log('Custom metadata matches the mapping definition.');
  if (check && lines.length > 0) {
    console.error('Run `npx tsx scripts/generate-custom-metadata.ts` to regenerate.');
    return 1;
  }
  return 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
