/**
 * The org's schema as data. Standard objects start it; applied metadata (custom fields,
 * platform events, custom metadata types, standard value sets) extends it. Field properties use
 * the names `describe` reports (REST API "sObject Describe": `fields[]` of DescribeFieldResult).
 */

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'combobox'
  | 'picklist'
  | 'multipicklist'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'time'
  | 'reference'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'email'
  | 'phone'
  | 'url';

export interface PicklistValue {
  value: string;
  label: string;
  active: boolean;
  defaultValue: boolean;
  /** TaskStatus: this status closes the Task (`IsClosed`). */
  closed?: boolean;
  /** TaskPriority: this priority sets `IsHighPriority`. */
  highPriority?: boolean;
}

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  /** Characters for text types, 0 otherwise. */
  length: number;
  precision: number;
  scale: number;
  digits: number;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  defaultedOnCreate: boolean;
  /** A static default applied on create when the field is absent. */
  defaultValue?: string | number | boolean | null;
  externalId: boolean;
  unique: boolean;
  caseSensitive: boolean;
  idLookup: boolean;
  nameField: boolean;
  custom: boolean;
  calculated: boolean;
  filterable: boolean;
  sortable: boolean;
  groupable: boolean;
  htmlFormatted: boolean;
  picklistValues: PicklistValue[];
  restrictedPicklist: boolean;
  /**
   * A picklist whose values are the ids of another object's records (Task.Division lists the
   * org's Divisions); describe computes them when asked.
   */
  picklistOfIds?: string;
  referenceTo: string[];
  relationshipName: string | null;
  polymorphicForeignKey: boolean;
  /** Set by the platform (audit fields, derived flags); never from input. */
  system: boolean;
  description?: string;
}

export type ObjectKind = 'standard' | 'custom' | 'platformEvent' | 'customMetadata';

export interface ObjectDef {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  kind: ObjectKind;
  custom: boolean;
  /** Fields in describe order; change them only through `putField` so `index` stays right. */
  fields: FieldDef[];
  /** Lower-cased field name → field. */
  index: Map<string, FieldDef>;
  createable: boolean;
  updateable: boolean;
  deletable: boolean;
  undeletable: boolean;
  queryable: boolean;
  retrieveable: boolean;
  /** getUpdated/getDeleted allowed. */
  replicateable: boolean;
  searchable: boolean;
  triggerable: boolean;
  /** Platform events: `HighVolume` / `StandardVolume`. */
  eventType?: string;
  /** Platform events: `PublishAfterCommit` / `PublishImmediately`. */
  publishBehavior?: string;
  description?: string;
}

/** Field types whose values are strings of characters (length, LIKE, case-insensitive compare). */
export const TEXT_TYPES: ReadonlySet<FieldType> = new Set<FieldType>([
  'string',
  'textarea',
  'combobox',
  'picklist',
  'multipicklist',
  'email',
  'phone',
  'url',
]);

/** Defaults for a field; callers override what differs. */
export function field(name: string, type: FieldType, overrides: Partial<FieldDef> = {}): FieldDef {
  const textual = TEXT_TYPES.has(type);
  const base: FieldDef = {
    name,
    label: name.replace(/__c$/, '').replace(/_/g, ' '),
    type,
    length: type === 'id' || type === 'reference' ? 18 : textual ? 255 : 0,
    precision: 0,
    scale: 0,
    digits: type === 'int' ? 9 : 0,
    nillable: true,
    createable: true,
    updateable: true,
    defaultedOnCreate: false,
    externalId: false,
    unique: false,
    caseSensitive: false,
    idLookup: false,
    nameField: false,
    custom: name.endsWith('__c'),
    calculated: false,
    filterable: type !== 'textarea',
    sortable: type !== 'textarea' && type !== 'multipicklist',
    groupable: !['textarea', 'datetime', 'double', 'currency', 'percent', 'multipicklist'].includes(type),
    htmlFormatted: false,
    picklistValues: [],
    restrictedPicklist: false,
    referenceTo: [],
    relationshipName: null,
    polymorphicForeignKey: false,
    system: false,
  };
  return { ...base, ...overrides };
}

/** A platform-maintained, read-only field. */
export function systemField(name: string, type: FieldType, overrides: Partial<FieldDef> = {}): FieldDef {
  return field(name, type, {
    nillable: false,
    createable: false,
    updateable: false,
    defaultedOnCreate: true,
    system: true,
    ...overrides,
  });
}

/** Salesforce's `soapType` for a describe field. */
export function soapType(type: FieldType): string {
  switch (type) {
    case 'id':
    case 'reference':
      return 'tns:ID';
    case 'boolean':
      return 'xsd:boolean';
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    case 'time':
      return 'xsd:time';
    case 'int':
      return 'xsd:int';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    default:
      return 'xsd:string';
  }
}

export function findField(object: ObjectDef, name: string): FieldDef | undefined {
  return object.index.get(name.toLowerCase());
}

/** Adds a field, or replaces the one with the same name in place (keeping describe order). */
export function putField(object: ObjectDef, def: FieldDef): void {
  const lower = def.name.toLowerCase();
  const existing = object.index.get(lower);
  if (existing) object.fields[object.fields.indexOf(existing)] = def;
  else object.fields.push(def);
  object.index.set(lower, def);
}

export function removeField(object: ObjectDef, name: string): void {
  const existing = object.index.get(name.toLowerCase());
  if (!existing) return;
  object.fields.splice(object.fields.indexOf(existing), 1);
  object.index.delete(name.toLowerCase());
}

/** Builds an object definition with its field index. */
export function objectDef(def: Omit<ObjectDef, 'index' | 'fields'>, fields: FieldDef[]): ObjectDef {
  const object: ObjectDef = { ...def, fields: [], index: new Map() };
  for (const f of fields) putField(object, f);
  return object;
}
