/**
 * One Metadata API deploy against an org, all or nothing: read the package (package.ts), check
 * every member (rules.ts) against what the org has plus what the same deploy brings, and only
 * when nothing failed apply the members through `OrgSchema.apply` — the single apply path. An
 * apply error rolls the schema back (rollbackOnError, the default for production orgs; the
 * emulator always rolls back, as an org does when `rollbackOnError` is true). `checkOnly` stops
 * after the checks.
 */
import { createHash } from 'node:crypto';
import type { OrgSchema, MetadataComponent } from '../schema/org-schema';
import { findField } from '../schema/types';
import { children, childText, type XmlNode } from '../xml';
import { locatedOne, type LocatedElement } from './located-xml';
import { failure, readPackage, type DeployMessage, type PackageMember } from './package';
import {
  checkApex,
  checkCustomMetadataRecord,
  checkField,
  checkFlow,
  checkLayout,
  checkListView,
  checkObject,
  checkOutboundMessage,
  objectKind,
  type MemberProblem,
  type ProspectiveOrg,
} from './rules';

export interface PackageDeployOptions {
  checkOnly: boolean;
}

export interface PackageDeployOutcome {
  success: boolean;
  messages: DeployMessage[];
  /** Members applied (0 for checkOnly or a failure). */
  applied: number;
  /** SHA-256 of each deployed Apex body, by `ApexClass:Name` / `ApexTrigger:Name`. */
  apexHashes: Map<string, string>;
}

/** What the deploy needs from the org besides its schema. */
export interface DeployTarget {
  schema: OrgSchema;
  apiVersion: number;
  hasUser(username: string): boolean;
  /** Applies components (OrgSchema.apply plus the data layer's follow-up). */
  apply(
    components: MetadataComponent[],
  ): { success: boolean; problem?: string; type: string; fullName: string }[];
}

const fieldNodes = (content: XmlNode | undefined): XmlNode[] => children(content, 'fields');

/** The org as it would be if the deploy succeeded (for cross-references). */
function prospectiveOrg(target: DeployTarget, members: PackageMember[]): ProspectiveOrg {
  const objects = new Set<string>();
  const fields = new Map<string, Map<string, LocatedElement>>();
  const outbound = new Set<string>();
  const permissions = new Set<string>();
  const triggers = new Set<string>();
  const credentials = new Set<string>();
  const fieldsOf = (object: string): Map<string, LocatedElement> => {
    const key = object.toLowerCase();
    let map = fields.get(key);
    if (!map) fields.set(key, (map = new Map()));
    return map;
  };
  for (const m of members) {
    const root = m.file?.located;
    if (m.type === 'CustomObject') objects.add(m.fullName.toLowerCase());
    if (m.type === 'CustomField' && root) {
      const [object, field] = m.fullName.split('.') as [string, string];
      const node = root.children.find(
        (c) => c.name === 'fields' && locatedOne(c, 'fullName')?.text === field,
      );
      if (node) {
        // Activity's fields surface on Task (and Event).
        for (const target of object === 'Activity' ? ['Activity', 'Task'] : [object]) {
          fieldsOf(target).set(field.toLowerCase(), node);
        }
      }
    }
    if (m.type === 'Workflow' && root) {
      for (const om of root.children.filter((c) => c.name === 'outboundMessages'))
        outbound.add(`${m.fullName}.${locatedOne(om, 'fullName')?.text ?? ''}`.toLowerCase());
    }
    if (m.type === 'WorkflowOutboundMessage') outbound.add(m.fullName.toLowerCase());
    if (m.type === 'CustomPermission') permissions.add(m.fullName.toLowerCase());
    if (m.type === 'ApexTrigger') triggers.add(m.fullName.toLowerCase());
    if (m.type === 'ExternalCredential') credentials.add(m.fullName.toLowerCase());
  }
  const schema = target.schema;
  const deployedField = (object: string, field: string) =>
    fields.get(object.toLowerCase())?.get(field.toLowerCase());
  return {
    apiVersion: target.apiVersion,
    hasObject: (name) =>
      objects.has(name.toLowerCase()) || schema.object(name) !== undefined || name === 'Activity',
    hasField: (object, field) => {
      if (deployedField(object, field)) return true;
      const def = schema.object(object === 'Activity' ? 'Task' : object);
      return def !== undefined && findField(def, field) !== undefined;
    },
    picklistValues: (object, field) => {
      const node = deployedField(object, field);
      if (node) {
        const type = locatedOne(node, 'type')?.text;
        if (type !== 'Picklist' && type !== 'MultiselectPicklist') return undefined;
        const def = locatedOne(locatedOne(node, 'valueSet'), 'valueSetDefinition');
        return def?.children
          .filter((c) => c.name === 'value')
          .map((v) => locatedOne(v, 'fullName')?.text ?? '');
      }
      const def = schema.object(object);
      const f = def && findField(def, field);
      return f && (f.type === 'picklist' || f.type === 'multipicklist')
        ? f.picklistValues.map((v) => v.value)
        : undefined;
    },
    fieldLength: (object, field) => {
      const node = deployedField(object, field);
      if (node) {
        const type = locatedOne(node, 'type')?.text;
        const length = locatedOne(node, 'length')?.text;
        return type === 'Text' && length ? Number(length) : undefined;
      }
      const def = schema.object(object);
      const f = def && findField(def, field);
      return f?.type === 'string' ? f.length : undefined;
    },
    hasOutboundMessage: (name) => outbound.has(name.toLowerCase()) || schema.outboundMessages.has(name),
    hasCustomPermission: (name) => permissions.has(name.toLowerCase()) || schema.customPermissions.has(name),
    hasTrigger: (name) => triggers.has(name.toLowerCase()) || schema.apexTriggers.has(name),
    hasUser: (username) => target.hasUser(username),
    hasExternalCredential: (name) =>
      credentials.has(name.toLowerCase()) || schema.externalCredentials.has(name),
  };
}

/** The checks of one member; problems carry their own file when it is not the member's file. */
function checkMember(m: PackageMember, prospective: ProspectiveOrg): MemberProblem[] {
  const file = m.file!;
  if (file.xmlProblem) return [file.xmlProblem];
  const root = file.located!;
  const expectedRoot =
    m.type === 'CustomField' || m.type === 'ListView'
      ? 'CustomObject'
      : m.type === 'WorkflowOutboundMessage'
        ? 'Workflow'
        : m.type;
  if (root.name !== expectedRoot)
    return [
      {
        problem: `Error parsing file: the root element must be ${expectedRoot}, not ${root.name}`,
        line: root.line,
        column: root.column,
      },
    ];
  switch (m.type) {
    case 'CustomObject':
      return checkObject(m.fullName, root, prospective);
    case 'CustomField': {
      const [object, field] = m.fullName.split('.') as [string, string];
      const node = root.children.find(
        (c) => c.name === 'fields' && locatedOne(c, 'fullName')?.text === field,
      );
      if (!node)
        return [
          {
            problem: `An object '${m.fullName}' of type CustomField was named in package.xml, but was not found in zipped directory`,
          },
        ];
      if (!prospective.hasObject(object))
        return [{ problem: `Entity ${object} cannot be found`, line: node.line, column: node.column }];
      return checkField(object, node, objectKind(object));
    }
    case 'Workflow': {
      if (!prospective.hasObject(m.fullName))
        return [{ problem: `Entity ${m.fullName} cannot be found`, line: root.line, column: root.column }];
      const problems: MemberProblem[] = [];
      for (const el of root.children) {
        if (el.name === 'outboundMessages')
          problems.push(...checkOutboundMessage(m.fullName, el, prospective));
        else if (el.name !== 'fullName')
          problems.push({
            problem: `${m.fullName}: workflow ${el.name} are not modelled by the emulator`,
            line: el.line,
            column: el.column,
          });
      }
      return problems;
    }
    case 'WorkflowOutboundMessage': {
      const [object, name] = m.fullName.split('.') as [string, string];
      const om = root.children.find(
        (c) => c.name === 'outboundMessages' && locatedOne(c, 'fullName')?.text === name,
      );
      return om
        ? checkOutboundMessage(object, om, prospective)
        : [{ problem: `${m.fullName} is not in workflows/${object}.workflow` }];
    }
    case 'Flow':
      return checkFlow(m.fullName, root, prospective);
    case 'Layout':
      return checkLayout(m.fullName, root, prospective);
    case 'ListView': {
      const [object, name] = m.fullName.split('.') as [string, string];
      const view = root.children.find(
        (c) => c.name === 'listViews' && locatedOne(c, 'fullName')?.text === name,
      );
      return view
        ? checkListView(object, view, prospective)
        : [{ problem: `${m.fullName} is not in objects/${object}.object` }];
    }
    case 'ApexClass':
    case 'ApexTrigger':
      return checkApex(m, prospective);
    case 'CustomMetadata':
      return checkCustomMetadataRecord(m.fullName, root, prospective);
    case 'PermissionSet': {
      const problems: MemberProblem[] = [];
      for (const p of root.children.filter((c) => c.name === 'customPermissions')) {
        const name = locatedOne(p, 'name');
        if (name && !prospective.hasCustomPermission(name.text))
          problems.push({
            problem: `${m.fullName}: no CustomPermission named ${name.text} found`,
            line: name.line,
            column: name.column,
          });
      }
      for (const p of root.children.filter((c) => c.name === 'fieldPermissions')) {
        const field = locatedOne(p, 'field');
        const [object, name] = (field?.text ?? '').split('.');
        if (field && !prospective.hasField(object ?? '', name ?? ''))
          problems.push({
            problem: `${m.fullName}: no such column '${name}' on entity '${object}'`,
            line: field.line,
            column: field.column,
          });
      }
      return problems;
    }
    case 'NamedCredential': {
      const problems: MemberProblem[] = [];
      for (const p of root.children.filter((c) => c.name === 'namedCredentialParameters')) {
        const ext = locatedOne(p, 'externalCredential');
        if (ext && !prospective.hasExternalCredential(ext.text))
          problems.push({
            problem: `${m.fullName}: external credential ${ext.text} does not exist`,
            line: ext.line,
            column: ext.column,
          });
        const type = locatedOne(p, 'parameterType')?.text;
        const value = locatedOne(p, 'parameterValue');
        if (type === 'Url' && value && !/^https?:\/\/\S+$/.test(value.text))
          problems.push({
            problem: `${m.fullName}: the URL ${value.text} is not valid`,
            line: value.line,
            column: value.column,
          });
      }
      return problems;
    }
    case 'PlatformEventSubscriberConfig': {
      const problems: MemberProblem[] = [];
      const consumer = locatedOne(root, 'platformEventConsumer');
      if (!consumer || !prospective.hasTrigger(consumer.text))
        problems.push({
          problem: `${m.fullName}: platformEventConsumer must name an Apex trigger of this org`,
          line: (consumer ?? root).line,
          column: (consumer ?? root).column,
        });
      const user = locatedOne(root, 'user');
      if (user && !prospective.hasUser(user.text))
        problems.push({
          problem: `${m.fullName}: user ${user.text} is not an active user of this org`,
          line: user.line,
          column: user.column,
        });
      const batch = locatedOne(root, 'batchSize');
      if (batch && !(Number(batch.text) >= 1 && Number(batch.text) <= 2000))
        problems.push({
          problem: `${m.fullName}: batchSize must be between 1 and 2000`,
          line: batch.line,
          column: batch.column,
        });
      return problems;
    }
    case 'StandardValueSet':
      return ['TaskStatus', 'TaskPriority'].includes(m.fullName)
        ? []
        : [
            {
              problem: `The emulator does not model the standard value set ${m.fullName}`,
              line: root.line,
              column: root.column,
            },
          ];
    default:
      return [];
  }
}

/** Members → the components `OrgSchema.apply` takes (metadata-format content). */
function toComponents(members: PackageMember[]): MetadataComponent[] {
  const components: MetadataComponent[] = [];
  const workflowsWithMember = new Set(members.filter((m) => m.type === 'Workflow').map((m) => m.fullName));
  for (const m of members) {
    const content = m.file!.content!;
    const fileName = m.file!.path;
    switch (m.type) {
      case 'CustomObject': {
        // Fields arrive as CustomField members (package.xml lists them); apply them once.
        const withoutFields: XmlNode = Object.fromEntries(
          Object.entries(content).filter(([k]) => !k.endsWith('fields')),
        );
        components.push({ type: 'CustomObject', fullName: m.fullName, content: withoutFields, fileName });
        break;
      }
      case 'CustomField': {
        const [object, field] = m.fullName.split('.') as [string, string];
        const node = fieldNodes(content).find((f) => childText(f, 'fullName') === field)!;
        components.push({ type: 'CustomField', fullName: `${object}.${field}`, content: node, fileName });
        break;
      }
      case 'ListView': {
        const [object, name] = m.fullName.split('.') as [string, string];
        const view = children(content, 'listViews').find((v) => childText(v, 'fullName') === name)!;
        components.push({ type: 'ListView', fullName: `${object}.${name}`, content: view, fileName });
        break;
      }
      case 'WorkflowOutboundMessage': {
        const [object, name] = m.fullName.split('.') as [string, string];
        if (workflowsWithMember.has(object)) break;
        const om = children(content, 'outboundMessages').find((o) => childText(o, 'fullName') === name)!;
        components.push({ type: 'WorkflowOutboundMessage', fullName: m.fullName, content: om, fileName });
        break;
      }
      case 'ApexClass':
      case 'ApexTrigger':
        components.push({
          type: m.type,
          fullName: m.fullName,
          content: { ...content, body: m.body!.text },
          fileName: m.body!.path,
        });
        break;
      default:
        components.push({ type: m.type, fullName: m.fullName, content, fileName });
    }
  }
  return components;
}

const success = (m: PackageMember, created: boolean): DeployMessage => ({
  componentType: m.type,
  fullName: m.fullName,
  fileName: m.body?.path ?? m.file?.path ?? '',
  success: true,
  created,
  changed: true,
  deleted: false,
});

function existsInOrg(schema: OrgSchema, m: PackageMember): boolean {
  switch (m.type) {
    case 'CustomObject':
      return schema.object(m.fullName) !== undefined;
    case 'CustomField': {
      const [object, field] = m.fullName.split('.') as [string, string];
      const def = schema.object(object === 'Activity' ? 'Task' : object);
      return def !== undefined && findField(def, field) !== undefined;
    }
    case 'ApexClass':
      return schema.apexClasses.has(m.fullName);
    case 'ApexTrigger':
      return schema.apexTriggers.has(m.fullName);
    case 'Flow':
      return schema.flows.has(m.fullName);
    case 'WorkflowOutboundMessage':
      return schema.outboundMessages.has(m.fullName);
    case 'CustomPermission':
      return schema.customPermissions.has(m.fullName);
    case 'PermissionSet':
      return schema.permissionSets.has(m.fullName);
    case 'Layout':
      return schema.layouts.has(m.fullName);
    case 'ListView':
      return schema.listViews.has(m.fullName);
    default:
      return false;
  }
}

/** Validates and (unless checkOnly or anything failed) applies a package's files. */
export function deployPackage(
  target: DeployTarget,
  files: Map<string, string>,
  options: PackageDeployOptions,
): PackageDeployOutcome {
  const read = readPackage(files);
  const messages: DeployMessage[] = [...read.failures];
  const prospective = prospectiveOrg(target, read.members);
  for (const path of read.unclaimed) {
    const folder = path.split('/')[0]!;
    const known = [
      'classes',
      'triggers',
      'objects',
      'customMetadata',
      'customPermissions',
      'externalCredentials',
      'flows',
      'namedCredentials',
      'permissionsets',
      'platformeventsubscriberconfigs',
      'standardValueSets',
      'workflows',
    ];
    if (!known.some((k) => k.toLowerCase() === folder.toLowerCase()))
      messages.push(
        failure('', path, path, {
          problem: `Unknown folder or file type: ${path} is not a metadata type this org supports`,
        }),
      );
  }
  for (const m of read.members) {
    for (const p of checkMember(m, prospective)) {
      messages.push(failure(m.type, m.fullName, p.file ?? m.file?.path ?? '', p));
    }
  }
  const apexHashes = new Map<string, string>();
  for (const m of read.members) {
    if (m.body)
      apexHashes.set(`${m.type}:${m.fullName}`, createHash('sha256').update(m.body.text).digest('hex'));
  }
  const failed = messages.some((x) => !x.success);
  if (failed || options.checkOnly) {
    if (!failed) {
      messages.push(...read.members.map((m) => success(m, !existsInOrg(target.schema, m))));
      messages.push(packageSuccess(read.packageXml));
    }
    return { success: !failed, messages, applied: 0, apexHashes };
  }
  const created = read.members.map((m) => !existsInOrg(target.schema, m));
  const restore = target.schema.snapshot();
  const outcomes = target.apply(toComponents(read.members));
  const applyFailures = outcomes.filter((o) => !o.success);
  if (applyFailures.length) {
    restore();
    for (const o of applyFailures) {
      const m = read.members.find((x) => x.type === o.type && x.fullName === o.fullName);
      messages.push(failure(o.type, o.fullName, m?.file?.path ?? '', { problem: o.problem ?? 'failed' }));
    }
    return { success: false, messages, applied: 0, apexHashes };
  }
  messages.push(...read.members.map((m, i) => success(m, created[i]!)));
  messages.push(packageSuccess(read.packageXml));
  return { success: true, messages, applied: read.members.length, apexHashes };
}

const packageSuccess = (fileName: string): DeployMessage => ({
  componentType: '',
  fullName: 'package.xml',
  fileName,
  success: true,
  created: false,
  changed: true,
  deleted: false,
});
