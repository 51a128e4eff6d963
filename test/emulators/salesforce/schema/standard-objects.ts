/**
 * The standard objects the emulated org starts with, as Salesforce's Object Reference describes
 * them (fields, lengths, properties). Only the fields this product can meet are listed.
 * - Task: `sforce_api_objects_task` (Subject combobox 255, Description textarea 32000, Status and
 *   Priority picklists from the TaskStatus/TaskPriority value sets, IsClosed and IsHighPriority
 *   derived, OwnerId User or Group).
 * - Division: `sforce_api_objects_division` (Name 80 chars; IsActive "Defaulted on create",
 *   default false; IsGlobalDivision not creatable; SortOrder; no delete() call).
 * - User: `sforce_api_objects_user`; Organization: `sforce_api_objects_organization`.
 * Key prefixes: 00T Task, 005 User, 00D Organization, 00G Group (Salesforce Help article 000385203
 * "key prefix" table); 02d Division (the prefix Salesforce's Division ids carry, as in CONTRACT.md).
 */
import { field, objectDef, systemField, type FieldDef, type ObjectDef, type PicklistValue } from './types';

function pick(value: string, extra: Partial<PicklistValue> = {}): PicklistValue {
  return { value, label: value, active: true, defaultValue: false, ...extra };
}

/** The TaskStatus standard value set of a new org. */
export const DEFAULT_TASK_STATUS: PicklistValue[] = [
  pick('Not Started', { defaultValue: true }),
  pick('In Progress'),
  pick('Completed', { closed: true }),
  pick('Waiting on someone else'),
  pick('Deferred'),
];

/** The TaskPriority standard value set of a new org. */
export const DEFAULT_TASK_PRIORITY: PicklistValue[] = [
  pick('High', { highPriority: true }),
  pick('Normal', { defaultValue: true }),
  pick('Low'),
];

export function auditFields(options: { isDeleted: boolean }): FieldDef[] {
  const fields: FieldDef[] = [];
  if (options.isDeleted) fields.push(systemField('IsDeleted', 'boolean', { label: 'Deleted' }));
  fields.push(
    systemField('CreatedDate', 'datetime', { label: 'Created Date' }),
    systemField('CreatedById', 'reference', {
      label: 'Created By ID',
      referenceTo: ['User'],
      relationshipName: 'CreatedBy',
    }),
    systemField('LastModifiedDate', 'datetime', { label: 'Last Modified Date' }),
    systemField('LastModifiedById', 'reference', {
      label: 'Last Modified By ID',
      referenceTo: ['User'],
      relationshipName: 'LastModifiedBy',
    }),
    systemField('SystemModstamp', 'datetime', { label: 'System Modstamp' }),
  );
  return fields;
}

const idField = (): FieldDef => systemField('Id', 'id', { label: `Record ID`, idLookup: true });

export function taskObject(options: { divisions: boolean }): ObjectDef {
  const fields: FieldDef[] = [
    idField(),
    field('WhoId', 'reference', {
      label: 'Name ID',
      referenceTo: ['Contact', 'Lead'],
      relationshipName: 'Who',
      polymorphicForeignKey: true,
    }),
    field('WhatId', 'reference', {
      label: 'Related To ID',
      referenceTo: ['Account', 'Opportunity', 'Case'],
      relationshipName: 'What',
      polymorphicForeignKey: true,
    }),
    field('Subject', 'combobox', { label: 'Subject', length: 255 }),
    field('ActivityDate', 'date', { label: 'Due Date Only' }),
    field('Status', 'picklist', {
      label: 'Status',
      length: 255,
      nillable: false,
      defaultedOnCreate: true,
      picklistValues: DEFAULT_TASK_STATUS,
      restrictedPicklist: true,
    }),
    field('Priority', 'picklist', {
      label: 'Priority',
      length: 40,
      nillable: false,
      defaultedOnCreate: true,
      picklistValues: DEFAULT_TASK_PRIORITY,
      restrictedPicklist: true,
    }),
    systemField('IsHighPriority', 'boolean', { label: 'High Priority' }),
    field('OwnerId', 'reference', {
      label: 'Assigned To ID',
      nillable: false,
      defaultedOnCreate: true,
      referenceTo: ['Group', 'User'],
      relationshipName: 'Owner',
      polymorphicForeignKey: true,
    }),
    field('Description', 'textarea', { label: 'Description', length: 32000 }),
    field('Type', 'picklist', {
      label: 'Type',
      length: 40,
      picklistValues: [pick('Call'), pick('Email'), pick('Meeting'), pick('Other')],
    }),
    ...(options.divisions
      ? [
          field('Division', 'picklist', {
            label: 'Division',
            nillable: false,
            defaultedOnCreate: true,
            picklistOfIds: 'Division',
            restrictedPicklist: true,
          }),
        ]
      : []),
    systemField('IsDeleted', 'boolean', { label: 'Deleted' }),
    systemField('AccountId', 'reference', {
      label: 'Account ID',
      nillable: true,
      referenceTo: ['Account'],
      relationshipName: 'Account',
    }),
    systemField('IsClosed', 'boolean', { label: 'Closed' }),
    ...auditFields({ isDeleted: false }),
    systemField('IsArchived', 'boolean', { label: 'Archived' }),
    field('TaskSubtype', 'picklist', {
      label: 'Task Subtype',
      length: 40,
      updateable: false,
      defaultedOnCreate: true,
      picklistValues: [pick('Task', { defaultValue: true }), pick('Email'), pick('ListEmail'), pick('Call')],
      restrictedPicklist: true,
    }),
    systemField('CompletedDateTime', 'datetime', { label: 'Completed Date/Time', nillable: true }),
  ];
  return objectDef(
    {
      name: 'Task',
      label: 'Task',
      labelPlural: 'Tasks',
      keyPrefix: '00T',
      kind: 'standard',
      custom: false,
      createable: true,
      updateable: true,
      deletable: true,
      undeletable: true,
      queryable: true,
      retrieveable: true,
      replicateable: true,
      searchable: true,
      triggerable: true,
    },
    fields,
  );
}

export function divisionObject(): ObjectDef {
  return objectDef(
    {
      name: 'Division',
      label: 'Division',
      labelPlural: 'Divisions',
      keyPrefix: '02d',
      kind: 'standard',
      custom: false,
      createable: true,
      updateable: true,
      deletable: false,
      undeletable: false,
      queryable: true,
      retrieveable: true,
      replicateable: true,
      searchable: false,
      triggerable: false,
    },
    [
      idField(),
      field('Name', 'string', { label: 'Name', length: 80, nillable: false, nameField: true }),
      field('IsActive', 'boolean', {
        label: 'Active',
        nillable: false,
        defaultedOnCreate: true,
        defaultValue: false,
      }),
      systemField('IsGlobalDivision', 'boolean', { label: 'Global Division' }),
      field('SortOrder', 'int', { label: 'Sort Order' }),
      ...auditFields({ isDeleted: false }),
    ],
  );
}

export function userObject(options: { divisions: boolean }): ObjectDef {
  return objectDef(
    {
      name: 'User',
      label: 'User',
      labelPlural: 'Users',
      keyPrefix: '005',
      kind: 'standard',
      custom: false,
      // The emulator manages users through its controls; the API reads them.
      createable: false,
      updateable: false,
      deletable: false,
      undeletable: false,
      queryable: true,
      retrieveable: true,
      replicateable: true,
      searchable: true,
      triggerable: false,
    },
    [
      idField(),
      field('Username', 'string', {
        label: 'Username',
        length: 80,
        nillable: false,
        unique: true,
        idLookup: true,
      }),
      field('LastName', 'string', { label: 'Last Name', length: 80, nillable: false }),
      field('FirstName', 'string', { label: 'First Name', length: 40 }),
      systemField('Name', 'string', { label: 'Full Name', length: 121, nameField: true }),
      field('Email', 'email', { label: 'Email', length: 128, nillable: false }),
      field('Alias', 'string', { label: 'Alias', length: 8, nillable: false }),
      field('IsActive', 'boolean', {
        label: 'Active',
        nillable: false,
        defaultedOnCreate: true,
        defaultValue: true,
      }),
      field('UserType', 'picklist', {
        label: 'User Type',
        length: 40,
        createable: false,
        updateable: false,
        picklistValues: [pick('Standard'), pick('AutomatedProcess')],
      }),
      field('TimeZoneSidKey', 'picklist', { label: 'Time Zone', length: 40, nillable: false }),
      ...(options.divisions
        ? [
            field('DefaultDivision', 'picklist', {
              label: 'Default Division',
              picklistOfIds: 'Division',
              restrictedPicklist: true,
            }),
          ]
        : []),
      ...auditFields({ isDeleted: false }),
    ],
  );
}

export function organizationObject(): ObjectDef {
  return objectDef(
    {
      name: 'Organization',
      label: 'Organization',
      labelPlural: 'Organizations',
      keyPrefix: '00D',
      kind: 'standard',
      custom: false,
      createable: false,
      updateable: false,
      deletable: false,
      undeletable: false,
      queryable: true,
      retrieveable: true,
      replicateable: false,
      searchable: false,
      triggerable: false,
    },
    [
      idField(),
      systemField('Name', 'string', { label: 'Name', length: 80, nameField: true }),
      systemField('InstanceName', 'string', { label: 'Instance Name', length: 5, nillable: true }),
      systemField('IsSandbox', 'boolean', { label: 'Is Sandbox' }),
      systemField('TrialExpirationDate', 'datetime', { label: 'Trial Expiration Date', nillable: true }),
      systemField('NamespacePrefix', 'string', { label: 'Namespace Prefix', length: 15, nillable: true }),
      systemField('OrganizationType', 'picklist', { label: 'Edition', length: 40 }),
      ...auditFields({ isDeleted: false }),
    ],
  );
}

/** Fields every platform event has (Platform Events Developer Guide, "Platform Event Fields"). */
export function platformEventStandardFields(): FieldDef[] {
  return [
    systemField('ReplayId', 'string', { label: 'Replay ID', nillable: true }),
    systemField('CreatedDate', 'datetime', { label: 'Created Date' }),
    systemField('CreatedById', 'reference', {
      label: 'Created By ID',
      referenceTo: ['User'],
      relationshipName: 'CreatedBy',
    }),
    systemField('EventUuid', 'string', { label: 'Event UUID', length: 36, nillable: true }),
  ];
}

/** Fields every custom metadata type has. */
export function customMetadataStandardFields(): FieldDef[] {
  return [
    idField(),
    systemField('DeveloperName', 'string', { label: 'Custom Metadata Record Name', length: 40 }),
    systemField('MasterLabel', 'string', { label: 'Label', length: 40, nameField: true }),
    systemField('Language', 'picklist', { label: 'Master Language', length: 40 }),
    systemField('NamespacePrefix', 'string', { label: 'Namespace Prefix', length: 15, nillable: true }),
    systemField('Label', 'string', { label: 'Label', length: 40 }),
    systemField('QualifiedApiName', 'string', { label: 'Qualified API Name', length: 70 }),
    systemField('SystemModstamp', 'datetime', { label: 'System Modstamp' }),
  ];
}
