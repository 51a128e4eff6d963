/**
 * The org's metadata: standard objects plus everything applied from metadata components. One
 * `apply` path takes components in a format-neutral shape (type, fullName, the XML content of the
 * component as the Metadata API defines it), so the source-format loader used today and a later
 * Metadata API deploy (zip in metadata format) feed the same function.
 */
import { type IdFactory } from '../ids';
import {
  asArray,
  attribute,
  child,
  childBool,
  childNumber,
  childText,
  children,
  text,
  type XmlNode,
} from '../xml';
import { grantsFromMetadata, type Grants } from '../security/permissions';
import { parseFlow, type FlowDef } from './flow-def';
import {
  DEFAULT_TASK_PRIORITY,
  DEFAULT_TASK_STATUS,
  customMetadataStandardFields,
  divisionObject,
  organizationObject,
  platformEventStandardFields,
  taskObject,
  userObject,
  auditFields,
} from './standard-objects';
import {
  field,
  findField,
  objectDef,
  putField,
  systemField,
  type FieldDef,
  type ObjectDef,
  type PicklistValue,
} from './types';

/** One metadata component, as a deploy carries it. */
export interface MetadataComponent {
  /** Metadata API type name: CustomField, CustomObject, Flow, Workflow, ... */
  type: string;
  /** e.g. `Activity.Custompms_Id__c`, `Custompms_Change__e`, `Task` (Workflow). */
  fullName: string;
  /** The component's XML content (children of its root element). */
  content: XmlNode;
  /** Where it came from, for messages. */
  fileName?: string;
}

export interface ApplyOutcome {
  type: string;
  fullName: string;
  fileName?: string;
  success: boolean;
  created: boolean;
  problem?: string;
}

export interface OutboundMessageDef {
  /** `Task.Custompms_Task_Changed` */
  fullName: string;
  object: string;
  name: string;
  label: string;
  apiVersion: string;
  endpointUrl: string;
  fields: string[];
  includeSessionId: boolean;
  integrationUser?: string;
  useDeadLetterQueue: boolean;
  /** The id Salesforce sends as `ActionId` (key prefix 04k, as real messages show). */
  actionId: string;
}

export interface PermissionSetDef {
  name: string;
  label: string;
  customPermissions: string[];
  externalCredentialPrincipals: string[];
  /** Everything the permission set grants (user, object, field permissions, ...). */
  grants: Grants;
}

export interface NamedCredentialDef {
  name: string;
  label: string;
  type: string;
  url: string;
  externalCredential?: string;
  generateAuthorizationHeader: boolean;
}

export interface ExternalCredentialDef {
  name: string;
  label: string;
  authenticationProtocol: string;
  /** Principal names (NamedPrincipal and PerUserPrincipal). */
  principals: string[];
  /** Principal name → its type. */
  principalTypes: Map<string, 'NamedPrincipal' | 'PerUserPrincipal'>;
  /** Headers defined as `AuthHeader` parameters: header name → formula text. */
  authHeaders: { name: string; formula: string }[];
}

export interface SubscriberConfigDef {
  name: string;
  consumer: string;
  batchSize: number;
  user?: string;
}

export interface CustomMetadataRecordDef {
  type: string;
  developerName: string;
  label: string;
  values: Record<string, string | number | boolean | null>;
}

export interface SchemaOptions {
  /** Divisions enabled (Task.Division, User.DefaultDivision exist). */
  divisions: boolean;
}

/** Which Metadata API types this org understands. */
export const SUPPORTED_TYPES = [
  'CustomObject',
  'CustomField',
  'StandardValueSet',
  'Workflow',
  'WorkflowOutboundMessage',
  'Flow',
  'CustomPermission',
  'PermissionSet',
  'NamedCredential',
  'ExternalCredential',
  'PlatformEventSubscriberConfig',
  'CustomMetadata',
  'ApexClass',
  'ApexTrigger',
] as const;

export class OrgSchema {
  readonly objects = new Map<string, ObjectDef>();
  readonly outboundMessages = new Map<string, OutboundMessageDef>();
  /** The version of each Flow that runs: its active version, or (inactive) its latest. */
  readonly flows = new Map<string, FlowDef>();
  /** Every deployed version of each Flow (version n at index n - 1). */
  readonly flowVersions = new Map<string, FlowDef[]>();
  /**
   * FlowSettings.enableFlowDeployAsActiveEnabled: "Indicates whether processes and flows can be
   * deployed as active via change sets or Metadata API. When the value is false, all processes and
   * flows are deployed as inactive" (Metadata API Developer Guide, "FlowSettings"). The org sets it
   * from its type (false in production by default).
   */
  flowDeployAsActive = true;
  readonly customPermissions = new Map<string, { name: string; label: string }>();
  readonly permissionSets = new Map<string, PermissionSetDef>();
  readonly namedCredentials = new Map<string, NamedCredentialDef>();
  readonly externalCredentials = new Map<string, ExternalCredentialDef>();
  readonly subscriberConfigs = new Map<string, SubscriberConfigDef>();
  readonly customMetadataRecords = new Map<string, CustomMetadataRecordDef>();
  readonly apexClasses = new Map<string, { name: string; body?: string }>();
  readonly apexTriggers = new Map<string, { name: string; body?: string }>();
  /** Page layouts (`Task-Custompms Task Layout`) and list views (`Task.Custompms_Sync_Errors`), as deployed. */
  readonly layouts = new Map<string, XmlNode>();
  readonly listViews = new Map<string, XmlNode>();
  private readonly listeners: ((component: MetadataComponent) => void)[] = [];
  private eventPrefixes = 0;
  private customPrefixes = 0;
  private mdtPrefixes = 0;

  constructor(
    readonly options: SchemaOptions,
    private readonly ids: IdFactory,
  ) {
    for (const object of [taskObject(options), divisionObject(), userObject(options), organizationObject()]) {
      this.objects.set(object.name.toLowerCase(), object);
    }
  }

  object(name: string): ObjectDef | undefined {
    return this.objects.get(name.toLowerCase());
  }

  objectByPrefix(prefix: string): ObjectDef | undefined {
    for (const object of this.objects.values()) if (object.keyPrefix === prefix) return object;
    return undefined;
  }

  /**
   * Remembers the schema as it is; the returned function puts it back (a deploy that fails while
   * applying rolls back, as `rollbackOnError` does). Object definitions are restored in place, so
   * references the data layer holds stay valid.
   */
  snapshot(): () => void {
    const objects = [...this.objects].map(
      ([key, o]) => [key, o, { ...o, fields: [...o.fields], index: new Map(o.index) }] as const,
    );
    const maps = [
      this.outboundMessages,
      this.flows,
      this.flowVersions,
      this.customPermissions,
      this.permissionSets,
      this.namedCredentials,
      this.externalCredentials,
      this.subscriberConfigs,
      this.customMetadataRecords,
      this.apexClasses,
      this.apexTriggers,
    ] as Map<string, unknown>[];
    const saved = maps.map((m) => new Map(m));
    const counters = [this.eventPrefixes, this.customPrefixes, this.mdtPrefixes] as const;
    return () => {
      this.objects.clear();
      for (const [key, ref, copy] of objects) {
        Object.assign(ref, copy);
        this.objects.set(key, ref);
      }
      maps.forEach((m, i) => {
        m.clear();
        for (const [k, v] of saved[i]!) m.set(k, v);
      });
      [this.eventPrefixes, this.customPrefixes, this.mdtPrefixes] = counters;
    };
  }

  /** Called after each applied component (the data layer adds custom metadata records). */
  onApply(listener: (component: MetadataComponent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Applies components in dependency order (objects before their fields, fields before flows that
   * read them). Each component succeeds or fails on its own, as a deploy reports it.
   */
  apply(components: MetadataComponent[]): ApplyOutcome[] {
    const order = (type: string): number => {
      const i = ['CustomObject', 'StandardValueSet', 'CustomField'].indexOf(type);
      return i < 0 ? 3 : i;
    };
    const sorted = [...components].sort((a, b) => order(a.type) - order(b.type));
    return sorted.map((component) => {
      const outcome: ApplyOutcome = {
        type: component.type,
        fullName: component.fullName,
        fileName: component.fileName,
        success: true,
        created: false,
      };
      try {
        outcome.created = this.applyOne(component);
        for (const listener of this.listeners) listener(component);
      } catch (error) {
        outcome.success = false;
        outcome.problem = (error as Error).message;
      }
      return outcome;
    });
  }

  private applyOne(component: MetadataComponent): boolean {
    const { type, fullName, content } = component;
    switch (type) {
      case 'CustomObject':
        return this.applyObject(fullName, content);
      case 'CustomField': {
        const dot = fullName.indexOf('.');
        if (dot < 0) throw new Error(`CustomField fullName must be Object.Field: ${fullName}`);
        return this.applyField(fullName.slice(0, dot), fullName.slice(dot + 1), content);
      }
      case 'StandardValueSet':
        return this.applyStandardValueSet(fullName, content);
      case 'Workflow':
        for (const om of children(content, 'outboundMessages')) {
          this.applyOutboundMessage(fullName, childText(om, 'fullName') ?? '', om);
        }
        return false;
      case 'WorkflowOutboundMessage': {
        const [objectName, name] = fullName.split('.');
        return this.applyOutboundMessage(objectName ?? '', name ?? '', content);
      }
      case 'Flow': {
        const created = !this.flows.has(fullName);
        const flow = parseFlow(fullName, content);
        if (flow.start.object && !this.object(flow.start.object)) {
          throw new Error(`The flow's object ${flow.start.object} does not exist`);
        }
        // Each deploy adds a version ("After you deploy changes to an active flow, the flow's
        // detail page shows a new flow version that's active", Metadata API "Flow"). With the
        // org's deploy-as-active setting off, a version deployed as Active arrives inactive.
        const versions = this.flowVersions.get(fullName) ?? [];
        flow.versionNumber = versions.length + 1;
        flow.deployedStatus = flow.status;
        if (flow.status === 'Active' && !this.flowDeployAsActive) flow.status = 'Draft';
        this.flowVersions.set(fullName, [...versions, flow]);
        if (flow.status === 'Active') this.activateFlow(fullName, flow.versionNumber);
        else this.flows.set(fullName, this.runnableFlowVersion(fullName)!);
        return created;
      }
      case 'CustomPermission': {
        const created = !this.customPermissions.has(fullName);
        this.customPermissions.set(fullName, {
          name: fullName,
          label: childText(content, 'label') ?? fullName,
        });
        return created;
      }
      case 'PermissionSet': {
        const created = !this.permissionSets.has(fullName);
        this.permissionSets.set(fullName, {
          name: fullName,
          label: childText(content, 'label') ?? fullName,
          customPermissions: children(content, 'customPermissions')
            .filter((c) => childBool(c, 'enabled'))
            .map((c) => childText(c, 'name') ?? ''),
          externalCredentialPrincipals: children(content, 'externalCredentialPrincipalAccesses')
            .filter((c) => childBool(c, 'enabled'))
            .map((c) => childText(c, 'externalCredentialPrincipal') ?? ''),
          grants: grantsFromMetadata(content),
        });
        return created;
      }
      case 'NamedCredential': {
        const created = !this.namedCredentials.has(fullName);
        const params = children(content, 'namedCredentialParameters');
        const url = params.find((p) => childText(p, 'parameterType') === 'Url');
        const ext = params.find((p) => childText(p, 'parameterType') === 'Authentication');
        this.namedCredentials.set(fullName, {
          name: fullName,
          label: childText(content, 'label') ?? fullName,
          type: childText(content, 'namedCredentialType') ?? 'SecuredEndpoint',
          url: childText(url, 'parameterValue') ?? childText(content, 'endpoint') ?? '',
          externalCredential: childText(ext, 'externalCredential'),
          generateAuthorizationHeader: childBool(content, 'generateAuthorizationHeader') ?? false,
        });
        return created;
      }
      case 'ExternalCredential': {
        const created = !this.externalCredentials.has(fullName);
        const params = children(content, 'externalCredentialParameters');
        const principalParams = params.filter((p) =>
          ['NamedPrincipal', 'PerUserPrincipal'].includes(childText(p, 'parameterType') ?? ''),
        );
        this.externalCredentials.set(fullName, {
          name: fullName,
          label: childText(content, 'label') ?? fullName,
          authenticationProtocol: childText(content, 'authenticationProtocol') ?? 'Custom',
          principals: principalParams.map((p) => childText(p, 'parameterName') ?? ''),
          principalTypes: new Map(
            principalParams.map((p) => [
              childText(p, 'parameterName') ?? '',
              childText(p, 'parameterType') as 'NamedPrincipal' | 'PerUserPrincipal',
            ]),
          ),
          authHeaders: params
            .filter((p) => childText(p, 'parameterType') === 'AuthHeader')
            .map((p) => ({
              name: childText(p, 'parameterName') ?? '',
              formula: childText(p, 'parameterValue') ?? '',
            })),
        });
        return created;
      }
      case 'PlatformEventSubscriberConfig': {
        const consumer = childText(content, 'platformEventConsumer') ?? '';
        const created = !this.subscriberConfigs.has(consumer.toLowerCase());
        this.subscriberConfigs.set(consumer.toLowerCase(), {
          name: fullName,
          consumer,
          batchSize: childNumber(content, 'batchSize') ?? 2000,
          user: childText(content, 'user'),
        });
        return created;
      }
      case 'CustomMetadata':
        return this.applyCustomMetadataRecord(fullName, content);
      case 'ApexClass': {
        const created = !this.apexClasses.has(fullName);
        this.apexClasses.set(fullName, { name: fullName, body: childText(content, 'body') });
        return created;
      }
      case 'ApexTrigger': {
        const created = !this.apexTriggers.has(fullName);
        this.apexTriggers.set(fullName, { name: fullName, body: childText(content, 'body') });
        return created;
      }
      case 'Layout':
      case 'ListView': {
        // Kept as deployed (the emulator draws no pages); the deploy checks validated their fields.
        const store = type === 'Layout' ? this.layouts : this.listViews;
        const created = !store.has(fullName);
        store.set(fullName, content);
        return created;
      }
      default:
        throw new Error(`The emulator does not support metadata type ${type}`);
    }
  }

  /** The active version of a Flow, else its latest. */
  private runnableFlowVersion(name: string): FlowDef | undefined {
    const versions = this.flowVersions.get(name) ?? [];
    return versions.find((v) => v.status === 'Active') ?? versions[versions.length - 1];
  }

  /** The active version number of a Flow (null: inactive). */
  activeFlowVersion(name: string): number | null {
    return (this.flowVersions.get(name) ?? []).find((v) => v.status === 'Active')?.versionNumber ?? null;
  }

  /**
   * Activates a version of a Flow (null: deactivates the flow), as FlowDefinition
   * `activeVersionNumber` does ("the active flow version number … 0 or null deactivates",
   * Metadata API / Tooling API "FlowDefinition"). The other versions become inactive (Obsolete
   * once they were active, Draft otherwise).
   */
  activateFlow(name: string, versionNumber: number | null): void {
    const versions = this.flowVersions.get(name);
    if (!versions) throw new Error(`no flow named ${name}`);
    if (versionNumber !== null && (versionNumber < 1 || versionNumber > versions.length))
      throw new Error(`${name} has no version ${versionNumber}`);
    const next = versions.map((v) => {
      const active = v.versionNumber === versionNumber;
      const status = active ? 'Active' : v.status === 'Active' ? 'Obsolete' : v.status;
      return status === v.status ? v : { ...v, status };
    });
    this.flowVersions.set(name, next);
    this.flows.set(name, this.runnableFlowVersion(name)!);
  }

  private nextPrefix(kind: 'event' | 'custom' | 'mdt'): string {
    const n =
      kind === 'event' ? this.eventPrefixes++ : kind === 'mdt' ? this.mdtPrefixes++ : this.customPrefixes++;
    const letter = kind === 'event' ? 'e' : kind === 'mdt' ? 'm' : 'a';
    return `${letter}${n.toString(36).padStart(2, '0')}`;
  }

  private applyObject(fullName: string, content: XmlNode): boolean {
    const existing = this.object(fullName);
    const label = childText(content, 'label') ?? fullName;
    const labelPlural = childText(content, 'pluralLabel') ?? label;
    const description = childText(content, 'description');
    if (existing) {
      // Standard objects (Activity fields arrive as their own components) and re-deploys: only
      // labels change here; fields come through CustomField.
      if (existing.custom) Object.assign(existing, { label, labelPlural, description });
      if (existing.kind === 'platformEvent') {
        existing.eventType = childText(content, 'eventType') ?? existing.eventType;
        existing.publishBehavior = childText(content, 'publishBehavior') ?? existing.publishBehavior;
      }
      this.applyInlineFields(fullName, content);
      return false;
    }
    if (fullName === 'Activity') {
      // Activity is standard; an Activity.object holding only fields is how a deploy extends it.
      this.applyInlineFields(fullName, content);
      return false;
    }
    let object: ObjectDef;
    if (fullName.endsWith('__e')) {
      object = objectDef(
        {
          name: fullName,
          label,
          labelPlural,
          keyPrefix: this.nextPrefix('event'),
          kind: 'platformEvent',
          custom: true,
          createable: true,
          updateable: false,
          deletable: false,
          undeletable: false,
          queryable: false,
          retrieveable: false,
          replicateable: false,
          searchable: false,
          triggerable: true,
          eventType: childText(content, 'eventType') ?? 'HighVolume',
          publishBehavior: childText(content, 'publishBehavior') ?? 'PublishAfterCommit',
          description,
        },
        platformEventStandardFields(),
      );
    } else if (fullName.endsWith('__mdt')) {
      object = objectDef(
        {
          name: fullName,
          label,
          labelPlural,
          keyPrefix: this.nextPrefix('mdt'),
          kind: 'customMetadata',
          custom: true,
          createable: false,
          updateable: false,
          deletable: false,
          undeletable: false,
          queryable: true,
          retrieveable: true,
          replicateable: false,
          searchable: false,
          triggerable: false,
          description,
        },
        customMetadataStandardFields(),
      );
    } else if (fullName.endsWith('__c')) {
      object = objectDef(
        {
          name: fullName,
          label,
          labelPlural,
          keyPrefix: this.nextPrefix('custom'),
          kind: 'custom',
          custom: true,
          createable: true,
          updateable: true,
          deletable: true,
          undeletable: true,
          queryable: true,
          retrieveable: true,
          replicateable: true,
          searchable: true,
          triggerable: true,
          description,
        },
        [
          systemField('Id', 'id', { label: 'Record ID', idLookup: true }),
          field('OwnerId', 'reference', {
            label: 'Owner ID',
            nillable: false,
            defaultedOnCreate: true,
            referenceTo: ['User'],
            relationshipName: 'Owner',
          }),
          systemField('IsDeleted', 'boolean', { label: 'Deleted' }),
          field('Name', 'string', { label: `${label} Name`, length: 80, nameField: true }),
          ...auditFields({ isDeleted: false }),
        ],
      );
    } else {
      throw new Error(`Cannot create object ${fullName}: only __c, __e and __mdt objects can be created`);
    }
    this.objects.set(fullName.toLowerCase(), object);
    this.applyInlineFields(fullName, content);
    return true;
  }

  /** Metadata-format `.object` files carry their fields inline. */
  private applyInlineFields(objectName: string, content: XmlNode): void {
    for (const f of children(content, 'fields')) {
      const name = childText(f, 'fullName');
      if (name) this.applyField(objectName, name, f);
    }
  }

  /** Activity's custom fields surface on Task (SALESFORCE.md, "Task"). */
  private targetsOf(objectName: string): ObjectDef[] {
    if (objectName === 'Activity')
      return ['Task', 'Event'].map((n) => this.object(n)).filter((o) => o !== undefined);
    const object = this.object(objectName);
    if (!object) throw new Error(`Entity ${objectName} cannot be found`);
    return [object];
  }

  private applyField(objectName: string, fieldName: string, content: XmlNode): boolean {
    const targets = this.targetsOf(objectName);
    const isCustom = fieldName.endsWith('__c');
    let created = false;
    for (const object of targets) {
      const existing = findField(object, fieldName);
      if (!isCustom) {
        // Standard fields accept only a few settings through metadata (picklist values come from
        // StandardValueSet); nothing to change here.
        if (!existing) throw new Error(`${objectName}.${fieldName} is not a field of ${object.name}`);
        continue;
      }
      const def = customFieldFrom(fieldName, content);
      if (object.kind === 'platformEvent' && (def.unique || def.externalId)) {
        throw new Error(`Platform event fields can't be unique or external ids: ${fieldName}`);
      }
      if (object.kind === 'customMetadata') {
        def.createable = false;
        def.updateable = false;
      }
      created = created || !existing;
      putField(object, def);
    }
    return created;
  }

  private applyStandardValueSet(name: string, content: XmlNode): boolean {
    const values: PicklistValue[] = children(content, 'standardValue').map((v) => ({
      value: childText(v, 'fullName') ?? '',
      label: childText(v, 'label') ?? childText(v, 'fullName') ?? '',
      active: true,
      defaultValue: childBool(v, 'default') ?? false,
      closed: childBool(v, 'closed'),
      highPriority: childBool(v, 'highPriority'),
    }));
    const target =
      name === 'TaskStatus' ? ['Task', 'Status'] : name === 'TaskPriority' ? ['Task', 'Priority'] : undefined;
    if (!target) throw new Error(`The emulator does not model the standard value set ${name}`);
    const object = this.object(target[0]!)!;
    const def = findField(object, target[1]!)!;
    putField(object, { ...def, picklistValues: values });
    return false;
  }

  private applyOutboundMessage(objectName: string, name: string, content: XmlNode): boolean {
    const object = this.object(objectName);
    if (!object) throw new Error(`Outbound message ${name}: object ${objectName} does not exist`);
    const fields = asArray(child(content, 'fields')).map((f) => text(f) ?? '');
    for (const f of fields) {
      if (!findField(object, f))
        throw new Error(`Outbound message ${name}: ${objectName}.${f} does not exist`);
    }
    const fullName = `${objectName}.${name}`;
    const existing = this.outboundMessages.get(fullName);
    this.outboundMessages.set(fullName, {
      fullName,
      object: object.name,
      name,
      label: childText(content, 'name') ?? name,
      apiVersion: childText(content, 'apiVersion') ?? '65.0',
      endpointUrl: childText(content, 'endpointUrl') ?? '',
      fields,
      includeSessionId: childBool(content, 'includeSessionId') ?? false,
      integrationUser: childText(content, 'integrationUser'),
      useDeadLetterQueue: childBool(content, 'useDeadLetterQueue') ?? false,
      actionId: existing?.actionId ?? this.ids.next('04k'),
    });
    return !existing;
  }

  private applyCustomMetadataRecord(fullName: string, content: XmlNode): boolean {
    const dot = fullName.indexOf('.');
    const typeName = `${fullName.slice(0, dot)}__mdt`;
    const developerName = fullName.slice(dot + 1);
    const type = this.object(typeName);
    if (!type) throw new Error(`Custom metadata type ${typeName} does not exist`);
    const values: Record<string, string | number | boolean | null> = {};
    for (const v of children(content, 'values')) {
      const fieldName = childText(v, 'field') ?? '';
      const def = findField(type, fieldName);
      if (!def) throw new Error(`${typeName}.${fieldName} does not exist`);
      const valueNode = child(v, 'value');
      const nil = attribute(valueNode, 'nil') === 'true';
      const raw = text(valueNode);
      const xsiType = attribute(valueNode, 'type');
      values[def.name] =
        nil || raw === undefined
          ? null
          : xsiType === 'xsd:boolean' || def.type === 'boolean'
            ? raw === 'true'
            : xsiType === 'xsd:double' || xsiType === 'xsd:int' || def.type === 'double' || def.type === 'int'
              ? Number(raw)
              : raw;
    }
    const key = `${typeName}.${developerName}`;
    const created = !this.customMetadataRecords.has(key);
    this.customMetadataRecords.set(key, {
      type: type.name,
      developerName,
      label: childText(content, 'label') ?? developerName,
      values,
    });
    return created;
  }

  /** Effective custom permissions of a set of permission sets. */
  customPermissionsOf(permissionSetNames: Iterable<string>): Set<string> {
    const granted = new Set<string>();
    for (const name of permissionSetNames) {
      for (const p of this.permissionSets.get(name)?.customPermissions ?? []) granted.add(p);
    }
    return granted;
  }
}

/** A CustomField's metadata → its describe-level definition. */
export function customFieldFrom(name: string, content: XmlNode): FieldDef {
  const metaType = childText(content, 'type') ?? 'Text';
  const required = childBool(content, 'required') ?? false;
  const common: Partial<FieldDef> = {
    label: childText(content, 'label') ?? name,
    custom: true,
    nillable: !required,
    externalId: childBool(content, 'externalId') ?? false,
    unique: childBool(content, 'unique') ?? false,
    caseSensitive: childBool(content, 'caseSensitive') ?? false,
    description: childText(content, 'description'),
  };
  common.idLookup = common.externalId ?? false;
  const length = childNumber(content, 'length');
  switch (metaType) {
    case 'Text':
      return field(name, 'string', { ...common, length: length ?? 255 });
    case 'TextArea':
      return field(name, 'textarea', { ...common, length: 255 });
    case 'LongTextArea':
      return field(name, 'textarea', { ...common, length: length ?? 32768 });
    case 'Html':
      return field(name, 'textarea', { ...common, length: length ?? 32768, htmlFormatted: true });
    case 'Email':
      return field(name, 'email', { ...common, length: 80 });
    case 'Phone':
      return field(name, 'phone', { ...common, length: 40 });
    case 'Url':
      return field(name, 'url', { ...common, length: 255 });
    case 'Checkbox':
      return field(name, 'boolean', {
        ...common,
        nillable: false,
        defaultedOnCreate: true,
        defaultValue: (childText(content, 'defaultValue') ?? 'false') === 'true',
      });
    case 'Number':
    case 'Currency':
    case 'Percent':
      return field(
        name,
        metaType === 'Number' ? 'double' : metaType === 'Currency' ? 'currency' : 'percent',
        {
          ...common,
          precision: childNumber(content, 'precision') ?? 18,
          scale: childNumber(content, 'scale') ?? 0,
        },
      );
    case 'Date':
      return field(name, 'date', common);
    case 'DateTime':
      return field(name, 'datetime', common);
    case 'Time':
      return field(name, 'time', common);
    case 'Picklist':
    case 'MultiselectPicklist': {
      const valueSet = child(content, 'valueSet');
      if (childText(valueSet, 'valueSetName')) {
        throw new Error(`${name}: global value sets are not supported by the emulator`);
      }
      const values = children(child(valueSet, 'valueSetDefinition'), 'value').map((v) => ({
        value: childText(v, 'fullName') ?? '',
        label: childText(v, 'label') ?? childText(v, 'fullName') ?? '',
        active: childBool(v, 'isActive') ?? true,
        defaultValue: childBool(v, 'default') ?? false,
      }));
      const hasDefault = values.some((v) => v.defaultValue);
      return field(name, metaType === 'Picklist' ? 'picklist' : 'multipicklist', {
        ...common,
        length: 255,
        picklistValues: values,
        restrictedPicklist: childBool(valueSet, 'restricted') ?? false,
        defaultedOnCreate: hasDefault,
        defaultValue: values.find((v) => v.defaultValue)?.value,
      });
    }
    case 'Lookup':
      return field(name, 'reference', {
        ...common,
        referenceTo: [childText(content, 'referenceTo') ?? ''],
        relationshipName: `${childText(content, 'relationshipName') ?? name.replace(/__c$/, '')}__r`,
      });
    default:
      throw new Error(`${name}: field type ${metaType} is not supported by the emulator`);
  }
}

export { DEFAULT_TASK_PRIORITY, DEFAULT_TASK_STATUS };
