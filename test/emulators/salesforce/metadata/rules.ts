/**
 * Per-type checks a deploy runs before it applies anything. Sources (Salesforce Metadata API
 * Developer Guide unless noted):
 * - "CustomField": the field elements; Text `length` 1–255, LongTextArea/Html 256–131,072 with
 *   `visibleLines`; Number/Currency/Percent `precision` 1–18 and `scale` 0–precision; `unique` and
 *   `externalId` only on Text, Number, Email and AutoNumber; labels up to 40 characters.
 * - "Picklist (Including Dependent Picklist)" / "ValueSet": values unique, at most one default,
 *   up to 1,000 values, API names up to 255 characters (Salesforce Help, "Picklist Limitations").
 * - Platform Events Developer Guide, "Platform Event Fields": custom fields may be Checkbox, Date,
 *   Date/Time, Number, Text and Text Area (Long); `eventType` HighVolume/StandardVolume;
 *   `publishBehavior` PublishAfterCommit/PublishImmediately.
 * - "CustomMetadata" and "Custom Metadata Types Implementation Guide" (field types allowed on
 *   `__mdt`); "WorkflowOutboundMessage" (fields must be fields of the object); "Flow"
 *   (connectors name elements of the flow; `actionCalls` of type `outboundMessage` name an
 *   outbound message as `Object.Name`); "PlatformEventSubscriberConfig" (`platformEventConsumer`
 *   is a trigger, `user` an active user, `batchSize` 1–2,000); "ApexClass"/"ApexTrigger"
 *   (`apiVersion`, `status`).
 * Parse problems use the wording of the API's schema check ("Element {ns}x invalid at this
 * location in type T"); the other messages are the emulator's own and say what to fix.
 */
import { FLOW_ELEMENT_KINDS } from '../schema/flow-def';
import { apexSyntaxErrors } from './apex-syntax';
import { locatedOne, type LocatedElement } from './located-xml';
import type { PackageMember, Problem } from './package';

const NS = '{http://soap.sforce.com/2006/04/metadata}';

/** What already exists in the org or arrives in the same deploy. */
export interface ProspectiveOrg {
  hasObject(name: string): boolean;
  hasField(object: string, field: string): boolean;
  picklistValues(object: string, field: string): string[] | undefined;
  fieldLength(object: string, field: string): number | undefined;
  hasOutboundMessage(fullName: string): boolean;
  hasCustomPermission(name: string): boolean;
  hasTrigger(name: string): boolean;
  hasUser(username: string): boolean;
  hasExternalCredential(name: string): boolean;
  apiVersion: number;
}

/** A problem found in one member (the failure's fileName is the member's file unless `file` says). */
export interface MemberProblem extends Problem {
  file?: string;
}

const at = (el: LocatedElement | undefined, problem: string): MemberProblem => ({
  problem,
  ...(el ? { line: el.line, column: el.column } : {}),
});

const FIELD_ELEMENTS = new Set(
  (
    'fullName businessOwnerGroup businessOwnerUser businessStatus caseSensitive complianceGroup customDataType ' +
    'defaultValue deleteConstraint deprecated description displayFormat displayLocationInDecimal encryptionScheme ' +
    'externalId fieldManageability formula formulaTreatBlanksAs inlineHelpText isFilteringDisabled isNameField ' +
    'isSortingDisabled label length lookupFilter maskChar maskType metadataRelationshipControllingField ' +
    'populateExistingRows precision referenceTargetField referenceTo relationshipLabel relationshipName ' +
    'relationshipOrder reparentableMasterDetail required scale securityClassification startingNumber stripMarkup ' +
    'summarizedField summaryFilterItems summaryForeignKey summaryOperation trackFeedHistory trackHistory ' +
    'trackTrending type unique valueSet visibleLines writeRequiresMasterRead'
  ).split(' '),
);
const COMPLEX_FIELD_ELEMENTS = new Set(['lookupFilter', 'summaryFilterItems', 'valueSet']);
const BOOLEAN_FIELD_ELEMENTS = new Set(
  'caseSensitive externalId required unique trackHistory trackTrending trackFeedHistory stripMarkup deprecated'.split(
    ' ',
  ),
);
const FIELD_TYPES = new Set(
  'Text TextArea LongTextArea Html Email Phone Url Checkbox Number Currency Percent Date DateTime Time Picklist MultiselectPicklist Lookup'.split(
    ' ',
  ),
);
const EVENT_FIELD_TYPES = new Set(['Checkbox', 'Date', 'DateTime', 'Number', 'Text', 'LongTextArea']);
const MDT_FIELD_TYPES = new Set(
  'Checkbox Date DateTime Email Number Percent Phone Picklist Text TextArea LongTextArea Url MetadataRelationship'.split(
    ' ',
  ),
);
const CUSTOM_NAME = /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c$/;

const textOf = (el: LocatedElement | undefined): string | undefined => el?.text;
const num = (el: LocatedElement | undefined): number | undefined =>
  el && /^-?\d+$/.test(el.text) ? Number(el.text) : undefined;

/** Checks one field definition (a `<fields>` element of an object file). */
export function checkField(
  objectName: string,
  field: LocatedElement,
  objectKind: 'standard' | 'custom' | 'event' | 'mdt',
): MemberProblem[] {
  const problems: MemberProblem[] = [];
  for (const el of field.children) {
    if (!FIELD_ELEMENTS.has(el.name)) {
      problems.push(
        at(el, `Error parsing file: Element ${NS}${el.name} invalid at this location in type CustomField`),
      );
    } else if (!COMPLEX_FIELD_ELEMENTS.has(el.name) && el.children.length > 0) {
      const inner = el.children[0]!;
      problems.push(
        at(
          inner,
          `Error parsing file: Element ${NS}${inner.name} invalid at this location in type CustomField`,
        ),
      );
    } else if (BOOLEAN_FIELD_ELEMENTS.has(el.name) && el.text !== 'true' && el.text !== 'false') {
      problems.push(at(el, `Error parsing file: '${el.text}' is not a valid value for the type xsd:boolean`));
    }
  }
  if (problems.length) return problems;
  const name = textOf(locatedOne(field, 'fullName')) ?? '';
  const where = `${objectName}.${name}`;
  if (!CUSTOM_NAME.test(name) || name.length > 43) {
    problems.push(
      at(
        locatedOne(field, 'fullName') ?? field,
        `${where}: a custom field name must start with a letter, use letters, digits and single underscores, end in __c and be at most 40 characters before it`,
      ),
    );
  }
  const label = locatedOne(field, 'label');
  if (!label?.text) problems.push(at(field, `${where}: Must specify a label`));
  else if (label.text.length > 40)
    problems.push(at(label, `${where}: the label is longer than 40 characters`));
  const typeEl = locatedOne(field, 'type');
  const type = textOf(typeEl);
  if (!type) {
    problems.push(at(field, `${where}: Must specify a field type`));
    return problems;
  }
  if (!FIELD_TYPES.has(type)) {
    problems.push(at(typeEl, `${where}: '${type}' is not a valid field type for this org`));
    return problems;
  }
  if (objectKind === 'event' && !EVENT_FIELD_TYPES.has(type)) {
    problems.push(at(typeEl, `${where}: platform event fields can't be of type ${type}`));
  }
  if (objectKind === 'mdt' && !MDT_FIELD_TYPES.has(type)) {
    problems.push(at(typeEl, `${where}: custom metadata type fields can't be of type ${type}`));
  }
  const lengthEl = locatedOne(field, 'length');
  const length = num(lengthEl);
  if (lengthEl && length === undefined)
    problems.push(at(lengthEl, `${where}: length must be a whole number`));
  if (type === 'Text') {
    if (length === undefined && !lengthEl)
      problems.push(at(field, `${where}: Must specify a length for a Text field`));
    else if (length !== undefined && (length < 1 || length > 255))
      problems.push(
        at(lengthEl, `${where}: Length must be between 1 and 255 for a Text field (was ${length})`),
      );
  }
  if (type === 'LongTextArea' || type === 'Html') {
    if (length === undefined || length < 256 || length > 131_072)
      problems.push(
        at(lengthEl ?? typeEl, `${where}: Length must be between 256 and 131,072 for a ${type} field`),
      );
    if (!locatedOne(field, 'visibleLines')) problems.push(at(typeEl, `${where}: Must specify visibleLines`));
  }
  if (type === 'Number' || type === 'Currency' || type === 'Percent') {
    const precisionEl = locatedOne(field, 'precision');
    const precision = num(precisionEl);
    const scale = num(locatedOne(field, 'scale')) ?? 0;
    if (precision === undefined || precision < 1 || precision > 18)
      problems.push(at(precisionEl ?? typeEl, `${where}: precision must be between 1 and 18`));
    else if (scale < 0 || scale > precision)
      problems.push(at(locatedOne(field, 'scale'), `${where}: scale must be between 0 and the precision`));
  }
  for (const flag of ['unique', 'externalId']) {
    const el = locatedOne(field, flag);
    if (el?.text !== 'true') continue;
    if (!['Text', 'Number', 'Email'].includes(type))
      problems.push(at(el, `${where}: ${flag} can only be set on Text, Number or Email fields`));
    if (objectKind === 'event') problems.push(at(el, `${where}: platform event fields can't be ${flag}`));
  }
  if (type === 'Picklist' || type === 'MultiselectPicklist')
    problems.push(...checkPicklist(where, field, typeEl));
  return problems;
}

function checkPicklist(
  where: string,
  field: LocatedElement,
  typeEl: LocatedElement | undefined,
): MemberProblem[] {
  const problems: MemberProblem[] = [];
  const valueSet = locatedOne(field, 'valueSet');
  if (!valueSet) return [at(typeEl, `${where}: a picklist needs a valueSet`)];
  if (locatedOne(valueSet, 'valueSetName'))
    return [at(valueSet, `${where}: global value sets are not modelled by the emulator`)];
  const definition = locatedOne(valueSet, 'valueSetDefinition');
  const values = definition ? definition.children.filter((c) => c.name === 'value') : [];
  if (values.length === 0) return [at(valueSet, `${where}: a picklist needs at least one value`)];
  if (values.length > 1000) problems.push(at(valueSet, `${where}: a picklist can have at most 1,000 values`));
  const seen = new Set<string>();
  let defaults = 0;
  for (const v of values) {
    const name = textOf(locatedOne(v, 'fullName')) ?? '';
    if (!name) problems.push(at(v, `${where}: a picklist value needs a fullName`));
    else if (name.length > 255)
      problems.push(at(v, `${where}: picklist value '${name.slice(0, 20)}…' is longer than 255 characters`));
    if (seen.has(name.toLowerCase())) problems.push(at(v, `${where}: duplicate picklist value '${name}'`));
    seen.add(name.toLowerCase());
    if (textOf(locatedOne(v, 'default')) === 'true') defaults += 1;
  }
  if (defaults > 1) problems.push(at(definition, `${where}: a picklist can have only one default value`));
  return problems;
}

/** Checks an object file's object-level settings (fields are checked per field). */
export function checkObject(
  name: string,
  root: LocatedElement,
  prospective: ProspectiveOrg,
): MemberProblem[] {
  const problems: MemberProblem[] = [];
  const kind = objectKind(name);
  if (kind === 'standard') {
    if (!prospective.hasObject(name) && name !== 'Activity')
      return [at(root, `Entity ${name} cannot be found`)];
    return [];
  }
  for (const required of ['label', 'pluralLabel']) {
    if (!textOf(locatedOne(root, required))) problems.push(at(root, `${name}: Must specify ${required}`));
  }
  if (kind === 'event') {
    const eventType = locatedOne(root, 'eventType');
    if (eventType && !['HighVolume', 'StandardVolume'].includes(eventType.text))
      problems.push(at(eventType, `${name}: eventType must be HighVolume or StandardVolume`));
    const publish = locatedOne(root, 'publishBehavior');
    if (publish && !['PublishAfterCommit', 'PublishImmediately'].includes(publish.text))
      problems.push(at(publish, `${name}: publishBehavior must be PublishAfterCommit or PublishImmediately`));
  }
  if (kind === 'custom' && !locatedOne(root, 'nameField'))
    problems.push(at(root, `${name}: Must specify a nameField`));
  return problems;
}

export function objectKind(name: string): 'standard' | 'custom' | 'event' | 'mdt' {
  if (name.endsWith('__e')) return 'event';
  if (name.endsWith('__mdt')) return 'mdt';
  if (name.endsWith('__c')) return 'custom';
  return 'standard';
}

const OUTBOUND_ELEMENTS = new Set(
  'fullName apiVersion description endpointUrl fields includeSessionId integrationUser name protected useDeadLetterQueue'.split(
    ' ',
  ),
);

/** One `<outboundMessages>` of a Workflow file. */
export function checkOutboundMessage(
  objectName: string,
  om: LocatedElement,
  prospective: ProspectiveOrg,
): MemberProblem[] {
  const problems: MemberProblem[] = [];
  const name = textOf(locatedOne(om, 'fullName')) ?? '';
  for (const el of om.children) {
    if (!OUTBOUND_ELEMENTS.has(el.name))
      problems.push(
        at(
          el,
          `Error parsing file: Element ${NS}${el.name} invalid at this location in type WorkflowOutboundMessage`,
        ),
      );
  }
  const endpoint = locatedOne(om, 'endpointUrl');
  if (!endpoint?.text) problems.push(at(om, `${objectName}.${name}: Must specify an endpointUrl`));
  else if (!/^https?:\/\/[^\s]+$/.test(endpoint.text))
    problems.push(at(endpoint, `${objectName}.${name}: endpointUrl is not a valid URL: ${endpoint.text}`));
  const user = locatedOne(om, 'integrationUser');
  if (!user?.text) problems.push(at(om, `${objectName}.${name}: Must specify an integrationUser`));
  else if (!prospective.hasUser(user.text))
    problems.push(
      at(user, `${objectName}.${name}: integrationUser ${user.text} is not an active user of this org`),
    );
  for (const f of om.children.filter((c) => c.name === 'fields')) {
    if (!prospective.hasField(objectName, f.text))
      problems.push(at(f, `${objectName}.${name}: field ${f.text} does not exist on ${objectName}`));
  }
  return problems;
}

/** A Flow: its trigger object and fields, every connector target and every reference resolve. */
export function checkFlow(name: string, root: LocatedElement, prospective: ProspectiveOrg): MemberProblem[] {
  const problems: MemberProblem[] = [];
  const elements = new Set<string>();
  for (const kind of FLOW_ELEMENT_KINDS) {
    for (const el of root.children.filter((c) => c.name === kind)) {
      const elName = textOf(locatedOne(el, 'name')) ?? '';
      if (elements.has(elName)) problems.push(at(el, `${name}: two elements are named ${elName}`));
      elements.add(elName);
    }
  }
  const start = locatedOne(root, 'start');
  const object = textOf(locatedOne(start, 'object'));
  if (object && !prospective.hasObject(object))
    problems.push(at(locatedOne(start, 'object'), `${name}: The object ${object} does not exist`));
  if (object && start) {
    for (const filter of start.children.filter((c) => c.name === 'filters')) {
      const field = locatedOne(filter, 'field');
      if (field && !prospective.hasField(object, field.text))
        problems.push(
          at(field, `${name}: the entry condition's field ${object}.${field.text} does not exist`),
        );
    }
  }
  const walk = (el: LocatedElement): void => {
    if (el.name === 'targetReference' && !elements.has(el.text))
      problems.push(at(el, `${name}: the connector's target ${el.text} is not an element of this flow`));
    if (el.name === 'leftValueReference' || el.name === 'elementReference') {
      const permission = /^\$Permission\.(\w+)$/.exec(el.text);
      if (permission && !prospective.hasCustomPermission(permission[1]!))
        problems.push(at(el, `${name}: the custom permission ${permission[1]} does not exist`));
      const record = /^\$Record(?:__Prior)?\.(\w+)$/.exec(el.text);
      if (record && object && !prospective.hasField(object, record[1]!))
        problems.push(at(el, `${name}: ${object}.${record[1]} does not exist`));
    }
    el.children.forEach(walk);
  };
  walk(root);
  for (const call of root.children.filter((c) => c.name === 'actionCalls')) {
    const type = textOf(locatedOne(call, 'actionType'));
    const actionName = locatedOne(call, 'actionName');
    if (type === 'outboundMessage' && actionName && !prospective.hasOutboundMessage(actionName.text))
      problems.push(at(actionName, `${name}: the outbound message ${actionName.text} does not exist`));
  }
  return problems;
}

/** An Apex class or trigger: its meta file, and every syntax error of its source with line and column. */
export function checkApex(member: PackageMember, prospective: ProspectiveOrg): MemberProblem[] {
  const problems: MemberProblem[] = [];
  const meta = member.file!.located!;
  const version = locatedOne(meta, 'apiVersion');
  if (!version || !/^\d+\.0$/.test(version.text) || Number(version.text) > prospective.apiVersion)
    problems.push(
      at(
        version ?? meta,
        `${member.fullName}: apiVersion must be a version this org serves (up to ${prospective.apiVersion}.0)`,
      ),
    );
  const status = locatedOne(meta, 'status');
  if (status && !['Active', 'Inactive', 'Deleted'].includes(status.text))
    problems.push(at(status, `${member.fullName}: status must be Active, Inactive or Deleted`));
  const kind = member.type === 'ApexTrigger' ? 'trigger' : 'class';
  const source = member.body!;
  for (const e of apexSyntaxErrors(source.text, kind)) {
    problems.push({ problem: e.message, line: e.line, column: e.column, file: source.path });
  }
  if (problems.length === 0 && kind === 'trigger') {
    const header = /\btrigger\s+(\w+)\s+on\s+(\w+)/i.exec(source.text);
    if (header && !prospective.hasObject(header[2]!)) {
      const line = source.text.slice(0, header.index).split('\n').length;
      problems.push({
        problem: `Invalid SObject type name: ${header[2]}`,
        line,
        column: 1,
        file: source.path,
      });
    }
  }
  return problems;
}

/** A custom metadata record: its type and every value's field exist, values fit their fields. */
export function checkCustomMetadataRecord(
  fullName: string,
  root: LocatedElement,
  prospective: ProspectiveOrg,
): MemberProblem[] {
  const dot = fullName.indexOf('.');
  const type = `${fullName.slice(0, dot)}__mdt`;
  if (dot < 0 || !prospective.hasObject(type))
    return [at(root, `${fullName}: custom metadata type ${type} does not exist`)];
  const problems: MemberProblem[] = [];
  if (!textOf(locatedOne(root, 'label'))) problems.push(at(root, `${fullName}: Must specify a label`));
  for (const v of root.children.filter((c) => c.name === 'values')) {
    const fieldEl = locatedOne(v, 'field');
    const field = fieldEl?.text ?? '';
    if (!prospective.hasField(type, field)) {
      problems.push(at(fieldEl ?? v, `${fullName}: ${type}.${field} does not exist`));
      continue;
    }
    const value = locatedOne(v, 'value')?.text ?? '';
    const picklist = prospective.picklistValues(type, field);
    if (picklist && value && !picklist.includes(value))
      problems.push(
        at(locatedOne(v, 'value'), `${fullName}: '${value}' is not a value of the picklist ${type}.${field}`),
      );
    const length = prospective.fieldLength(type, field);
    if (length && value.length > length)
      problems.push(
        at(locatedOne(v, 'value'), `${fullName}: the value of ${field} is longer than ${length} characters`),
      );
  }
  return problems;
}

/**
 * A page layout (`<Object>-<Layout Name>`): the object exists and every field a layout item names
 * exists on it. An org refuses an unknown field with "In field: field - no CustomField named
 * <Object>.<Field> found" (the Metadata API's deploy message for a Layout naming a missing field).
 */
export function checkLayout(
  name: string,
  root: LocatedElement,
  prospective: ProspectiveOrg,
): MemberProblem[] {
  const object = name.slice(0, name.indexOf('-'));
  if (!object || !prospective.hasObject(object))
    return [at(root, `Entity ${object || name} cannot be found`)];
  const problems: MemberProblem[] = [];
  for (const section of root.children.filter((c) => c.name === 'layoutSections'))
    for (const column of section.children.filter((c) => c.name === 'layoutColumns'))
      for (const item of column.children.filter((c) => c.name === 'layoutItems')) {
        const field = locatedOne(item, 'field');
        if (field && !prospective.hasField(object, field.text))
          problems.push(at(field, `In field: field - no CustomField named ${object}.${field.text} found`));
      }
  return problems;
}

/**
 * A list view of an object: custom fields among its columns and filters exist. Standard columns
 * are the list view's own column tokens (`SUBJECT`, `CORE.USERS.ALIAS`, `LAST_UPDATE`: upper case,
 * Metadata API "ListView"), which the emulator accepts as they are; it checks custom fields only.
 */
export function checkListView(
  object: string,
  view: LocatedElement,
  prospective: ProspectiveOrg,
): MemberProblem[] {
  if (!prospective.hasObject(object)) return [at(view, `Entity ${object} cannot be found`)];
  const problems: MemberProblem[] = [];
  const custom = (name: string) => name.endsWith('__c') && !prospective.hasField(object, name);
  for (const column of view.children.filter((c) => c.name === 'columns'))
    if (custom(column.text)) problems.push(at(column, `Could not resolve list view column: ${column.text}`));
  for (const filter of view.children.filter((c) => c.name === 'filters')) {
    const field = locatedOne(filter, 'field');
    if (field && custom(field.text))
      problems.push(at(field, `Could not resolve list view filter field: ${field.text}`));
  }
  if (!textOf(locatedOne(view, 'label'))) problems.push(at(view, 'Must specify label'));
  return problems;
}
