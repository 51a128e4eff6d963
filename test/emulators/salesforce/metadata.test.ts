/**
 * The org's schema comes from force-app, so the emulator cannot drift from the metadata: every
 * field file on Activity shows on Task with its type, length, uniqueness and picklist values; the
 * platform events, the outbound message and the Flow are read from their files. Also the apply
 * path a Metadata API deploy will use, and the loader's safety.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { DEFAULT_FORCE_APP, SalesforceOrg } from './org';
import { findField } from './schema/types';
import { parseXml, root, XmlError } from './xml';

const parser = new XMLParser({
  parseTagValue: false,
  isArray: (name) => ['value', 'fields', 'filters'].includes(name),
});
const read = (file: string): Record<string, Record<string, unknown>> =>
  parser.parse(readFileSync(path.join(DEFAULT_FORCE_APP, file), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;

const TYPES: Record<string, string> = {
  Text: 'string',
  Picklist: 'picklist',
  DateTime: 'datetime',
  Number: 'double',
  Checkbox: 'boolean',
  Date: 'date',
};

describe('schema from force-app metadata', () => {
  const org = new SalesforceOrg();

  beforeAll(async () => {
    await org.deploySource();
  });

  afterAll(async () => {
    await org.stop();
  });

  it('applies every force-app component it models without problems', () => {
    expect(org.warnings).toEqual([]);
    expect(org.schema.apexTriggers.size).toBeGreaterThanOrEqual(3);
  });

  it('puts every Activity field file on Task with its type, length, flags and picklist values', () => {
    const dir = path.join(DEFAULT_FORCE_APP, 'objects/Activity/fields');
    const files = readdirSync(dir).filter((f) => f.endsWith('.field-meta.xml'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    const task = org.schema.object('Task')!;
    for (const file of files) {
      const meta = read(`objects/Activity/fields/${file}`).CustomField!;
      const def = findField(task, String(meta.fullName))!;
      expect(def).toBeDefined();
      expect(def.type).toBe(TYPES[String(meta.type)]);
      if (meta.length !== undefined) expect(def.length).toBe(Number(meta.length));
      expect(def.unique).toBe(meta.unique === 'true');
      expect(def.externalId).toBe(meta.externalId === 'true');
      expect(def.nillable).toBe(meta.required !== 'true');
      if (meta.type === 'Picklist') {
        const valueSet = meta.valueSet as {
          restricted: string;
          valueSetDefinition: { value: { fullName: string }[] };
        };
        expect(def.restrictedPicklist).toBe(valueSet.restricted === 'true');
        expect(def.picklistValues.map((v) => v.value)).toEqual(
          valueSet.valueSetDefinition.value.map((v) => v.fullName),
        );
      }
    }
  });

  it('defines the platform events with their fields and publish behaviour', () => {
    for (const name of ['Custompms_Change__e', 'Custompms_Task_Deletion__e']) {
      const object = org.schema.object(name)!;
      const meta = read(`objects/${name}/${name}.object-meta.xml`).CustomObject!;
      expect(object).toMatchObject({
        kind: 'platformEvent',
        eventType: meta.eventType,
        publishBehavior: meta.publishBehavior,
      });
      for (const file of readdirSync(path.join(DEFAULT_FORCE_APP, `objects/${name}/fields`))) {
        const field = read(`objects/${name}/fields/${file}`).CustomField!;
        expect(findField(object, String(field.fullName))).toMatchObject({
          nillable: field.required !== 'true',
        });
      }
    }
  });

  it('reads the outbound message (fields, endpoint) and the Flow that sends it', () => {
    const workflow = read('workflows/Task.workflow-meta.xml').Workflow!;
    const message = workflow.outboundMessages as { fullName: string; endpointUrl: string; fields: string[] };
    expect(org.schema.outboundMessages.get(`Task.${message.fullName}`)).toMatchObject({
      fields: message.fields,
      endpointUrl: message.endpointUrl,
    });
    const flow = org.schema.flows.get('Custompms_Task_Outbound_Message')!;
    expect(flow.start).toMatchObject({
      object: 'Task',
      triggerType: 'RecordAfterSave',
      recordTriggerType: 'CreateAndUpdate',
    });
    const actions = [...flow.elements.values()].filter((e) => e.kind === 'actionCall');
    expect(actions).toEqual([
      expect.objectContaining({ actionType: 'outboundMessage', actionName: `Task.${message.fullName}` }),
    ]);
  });

  it('runs subscriber configs as the integration user once the deploy-time placeholder is replaced', () => {
    const config = org.schema.subscriberConfigs.get('custompmschangetrigger')!;
    expect(config.user).toBe(org.options.integrationUser.username);
    expect(org.users.byUsername(config.user!)).toBeDefined();
  });

  it('applies metadata-API-format components (an Activity.object holding fields) through the same path', () => {
    const bare = new SalesforceOrg();
    const [, content] = root(
      parseXml(
        '<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><fields><fullName>Score__c</fullName>' +
          '<label>Score</label><precision>3</precision><scale>0</scale><type>Number</type></fields></CustomObject>',
      ),
    );
    const outcomes = bare.applyMetadata([
      { type: 'CustomObject', fullName: 'Activity', content },
      { type: 'CustomTab', fullName: 'Custompms_Console', content: {} },
    ]);
    expect(outcomes.map((o) => [o.type, o.success])).toEqual([
      ['CustomObject', true],
      ['CustomTab', false],
    ]);
    expect(outcomes[1]!.problem).toBe('The emulator does not support metadata type CustomTab');
    expect(findField(bare.schema.object('Task')!, 'Score__c')).toMatchObject({
      type: 'double',
      precision: 3,
    });
    expect(bare.schema.object('Custompms_Change__e')).toBeUndefined();
  });

  it('refuses XML with a DOCTYPE and malformed XML', () => {
    expect(() => parseXml('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')).toThrow(XmlError);
    expect(() => parseXml('<a><b></a>')).toThrow(XmlError);
    const bare = new SalesforceOrg();
    const outcome = bare.deployFiles(
      new Map([
        [
          'package.xml',
          '<Package><types><members>Bad</members><name>CustomPermission</name></types><version>65.0</version></Package>',
        ],
        ['customPermissions/Bad.customPermission', '<CustomPermission>\n<label>x</CustomPermission>'],
      ]),
      { checkOnly: false },
    );
    expect(outcome.success).toBe(false);
    expect(outcome.messages).toEqual([
      expect.objectContaining({
        componentType: 'CustomPermission',
        fullName: 'Bad',
        fileName: 'customPermissions/Bad.customPermission',
        lineNumber: 2,
        problemType: 'Error',
      }),
    ]);
    expect(bare.schema.customPermissions.size).toBe(0);
  });
});
