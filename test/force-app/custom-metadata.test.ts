/**
 * The org's custom metadata records are generated from the proxy's mapping definition: the
 * committed files must be exactly what the generator makes of `FLOWS`, and each record must read
 * back as the definition's row (checked here by parsing the XML, not by re-rendering it).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { FLOW_NAMES, FLOWS, applyOverrides, type FieldMapping } from '../../proxy/src/sync/mapping';
import {
  FIELD_MAP_TYPE,
  METADATA_ROOT,
  findDrift,
  recordName,
  renderCustomMetadata,
  settingName,
  writeCustomMetadata,
} from '../../scripts/generate-custom-metadata';
import { listFiles, metadataDir, projectRoot } from './support';

type Values = Record<string, string | boolean | number | null>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  isArray: (name) => name === 'values',
});

function readRecord(file: string): { label: string; protected: string; values: Values } {
  const root = (parser.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>)
    .CustomMetadata!;
  const values: Values = {};
  for (const entry of root.values as {
    field: string;
    value: { '#text'?: string; '@_xsi:type'?: string; '@_xsi:nil'?: string };
  }[]) {
    const { value } = entry;
    if (value['@_xsi:nil'] === 'true') values[entry.field] = null;
    else if (value['@_xsi:type'] === 'xsd:boolean') values[entry.field] = value['#text'] === 'true';
    else if (value['@_xsi:type'] === 'xsd:double') values[entry.field] = Number(value['#text']);
    else values[entry.field] = value['#text'] ?? '';
  }
  return { label: String(root.label), protected: String(root.protected), values };
}

function recordFile(type: string, name: string): string {
  return path.join(metadataDir, 'customMetadata', `${type}.${name}.md-meta.xml`);
}

describe('generated custom metadata', () => {
  it('matches the mapping definition exactly (run scripts/generate-custom-metadata.ts after changing FLOWS)', () => {
    expect(findDrift(projectRoot)).toEqual({ missing: [], changed: [], stale: [] });
  });

  it.each(FLOW_NAMES.flatMap((flow) => FLOWS[flow].fields.map((row) => [row.key, flow, row] as const)))(
    'record for %s reads back as the row',
    (_key, flow, row: FieldMapping) => {
      const record = readRecord(recordFile(FIELD_MAP_TYPE, recordName(row.key)));
      expect(record.label).toBe(row.label);
      expect(record.protected).toBe('false');
      expect(record.values).toEqual({
        Flow__c: flow,
        Key__c: row.key,
        Custompms_Property__c: row.custompms,
        Salesforce_Field__c: row.salesforce,
        Direction__c: row.direction,
        Kind__c: row.kind,
        Max_Length__c: row.maxLength ?? null,
        Required_In_Salesforce__c: row.requiredInSalesforce === true,
        Required_In_Custompms__c: row.requiredInCustompms === true,
        Constant__c: row.constant ?? null,
        To_Salesforce__c: row.toSalesforce ? JSON.stringify(row.toSalesforce) : null,
        To_Custompms__c: row.toCustompms ? JSON.stringify(row.toCustompms) : null,
        Locked__c: row.locked === true,
        Enabled__c: row.enabled,
        // Shipped rows are never overrides: an admin's change is a record of its own (Override__c).
        Override__c: false,
      });
    },
  );

  it.each(FLOW_NAMES.map((flow) => [flow]))('settings record of %s reads back as the flow', (flow) => {
    const definition = FLOWS[flow];
    const record = readRecord(recordFile('Custompms_Sync_Setting', settingName(definition)));
    expect(record.values).toEqual({
      Flow__c: flow,
      Conflict_Policy__c: definition.conflictPolicy,
      Delete_Policy__c: definition.deletePolicy,
      Create_From_Salesforce__c: definition.createFromSalesforce,
      Salesforce_Object__c: definition.salesforceObject,
      Override__c: false,
    });
  });

  it('has no record the definition does not produce', () => {
    const expected = new Set(
      [...renderCustomMetadata().keys()].filter((file) =>
        file.includes(`${path.sep}customMetadata${path.sep}`),
      ),
    );
    const actual = listFiles(path.join(metadataDir, 'customMetadata')).map((file) =>
      path.relative(projectRoot, file),
    );
    expect(actual.sort()).toEqual([...expected].sort());
  });
});

describe('drift detection', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'cmdt-'));
    cpSync(path.join(projectRoot, METADATA_ROOT), path.join(root, METADATA_ROOT), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reports a changed, a missing and a stale record, and the writer repairs all three', () => {
    const { definition, problems } = applyOverrides(FLOWS, {
      fields: [
        { flow: 'projects', key: 'projects.description', maxLength: 1000 },
        {
          flow: 'tasks',
          key: 'tasks.estimate',
          custompms: 'estimate',
          salesforce: 'Estimate__c',
          kind: 'number',
        },
      ],
    });
    expect(problems).toEqual([]);
    const stale = path.join(
      root,
      METADATA_ROOT,
      'customMetadata',
      `${FIELD_MAP_TYPE}.tasks_removed.md-meta.xml`,
    );
    writeFileSync(stale, '<CustomMetadata/>');

    const drift = findDrift(root, definition);
    const records = (files: string[]): string[] => files.map((file) => path.basename(file));
    expect(records(drift.changed)).toEqual([`${FIELD_MAP_TYPE}.projects_description.md-meta.xml`]);
    expect(records(drift.missing)).toEqual([`${FIELD_MAP_TYPE}.tasks_estimate.md-meta.xml`]);
    expect(records(drift.stale)).toEqual([`${FIELD_MAP_TYPE}.tasks_removed.md-meta.xml`]);

    writeCustomMetadata(root, definition);
    expect(findDrift(root, definition)).toEqual({ missing: [], changed: [], stale: [] });
    expect(existsSync(stale)).toBe(false);
    expect(
      readRecord(recordFile(FIELD_MAP_TYPE, 'projects_description').replace(projectRoot, root)).values
        .Max_Length__c,
    ).toBe(1000);
  });

  it('notices a picklist value set that no longer matches the definition', () => {
    const kind = path.join(
      root,
      METADATA_ROOT,
      'objects',
      'Custompms_Field_Map__mdt',
      'fields',
      'Kind__c.field-meta.xml',
    );
    writeFileSync(
      kind,
      readFileSync(kind, 'utf8').replace('<fullName>owner</fullName>', '<fullName>user</fullName>'),
    );
    expect(findDrift(root).changed).toEqual([path.relative(root, kind)]);
  });
});

describe('record names', () => {
  it('turns row keys into DeveloperNames', () => {
    expect(recordName('projects.due_date')).toBe('projects_due_date');
  });

  it.each(['tasks.a__b', 'tasks.trailing_', `tasks.${'x'.repeat(40)}`, '1tasks.x'])('rejects %s', (key) => {
    expect(() => recordName(key)).toThrow(/valid custom metadata record name/);
  });
});
