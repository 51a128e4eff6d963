/**
 * The mapping definition: the three flows of MAPPING.md as plain data. This is the one source
 * of truth for field maps: the org's `Custompms_Field_Map__mdt` records are generated from it,
 * and rows read back from the org are applied with `applyOverrides`. Keep it data: the mapper
 * (`convert.ts`) interprets `kind`, so a new row never needs a new code path.
 *
 * Longer than most modules on purpose: it is one thing, the definition — its types, the shipped
 * rows of three flows (most of the length), and the rules an override of those rows must obey
 * (`applyOverrides`), which check exactly the fields the types declare.
 */
import { type Problem } from './problems';

/** Flow names; also the keys of `FLOWS`. */
export type FlowName = 'customers' | 'projects' | 'tasks';
export const FLOW_NAMES: readonly FlowName[] = ['customers', 'projects', 'tasks'];

/** The two systems. */
export type Side = 'custompms' | 'salesforce';

/** Which way a row syncs. `both` is two-way; the others are one-way. */
export type Direction = 'both' | 'to_salesforce' | 'to_custompms';
export const DIRECTIONS: readonly Direction[] = ['both', 'to_salesforce', 'to_custompms'];

/**
 * How a row's values are read, compared and converted.
 * - `id`: the Custompms id written to Salesforce (`Custompms_Id__c`); identity, never merged back.
 * - `constant`: Salesforce gets `constant` (e.g. `Custompms_Type__c = Project`); no Custompms property.
 * - `string` / `textarea`: text; truncated to `maxLength` towards Salesforce with a warning.
 * - `picklist`: text through the per-direction value maps; a value with no entry is reported, not written.
 * - `date`: calendar date `YYYY-MM-DD`, never shifted by a time zone.
 * - `datetime`: an instant, compared and written as UTC ISO-8601 with milliseconds.
 * - `boolean`, `number`: as they are.
 * - `owner`: a user's email in Custompms, a User Id in Salesforce (resolved by an injected directory).
 * - `customer_division`: a Custompms customer id ⇄ the Division linked to it.
 * - `project_division`: a Custompms project id → the Division linked to that project's customer.
 * - `project_ref`: a Custompms project id, written as text; the project must already be linked.
 */
export type FieldKind =
  | 'id'
  | 'constant'
  | 'string'
  | 'textarea'
  | 'picklist'
  | 'date'
  | 'datetime'
  | 'boolean'
  | 'number'
  | 'owner'
  | 'customer_division'
  | 'project_division'
  | 'project_ref';
export const FIELD_KINDS: readonly FieldKind[] = [
  'id',
  'constant',
  'string',
  'textarea',
  'picklist',
  'date',
  'datetime',
  'boolean',
  'number',
  'owner',
  'customer_division',
  'project_division',
  'project_ref',
];

/** Kinds an admin may use for rows they add in Setup (the others need context the core provides). */
export const PLAIN_KINDS: readonly FieldKind[] = [
  'string',
  'textarea',
  'picklist',
  'date',
  'datetime',
  'boolean',
  'number',
];

/** How a field changed on both sides since the last sync is resolved. `latest` compares modification times. */
export type ConflictPolicy = 'latest' | 'custompms' | 'salesforce';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['latest', 'custompms', 'salesforce'];

/**
 * What a delete on one side does to the other.
 * - `delete`: delete the other record.
 * - `deactivate`: set the other record inactive (Division has no delete: `IsActive = false`).
 * - `unlink`: keep the other record, drop the link (Salesforce Tasks lose their Custompms markers).
 * - `ignore`: keep the other record and the link; later changes to the survivor are ignored.
 */
export type DeletePolicy = 'delete' | 'deactivate' | 'unlink' | 'ignore';
export const DELETE_POLICIES: readonly DeletePolicy[] = ['delete', 'deactivate', 'unlink', 'ignore'];

/** A picklist value map for one direction: source value → target value. */
export type ValueMap = Readonly<Record<string, string>>;

/** One row of a flow's field map. */
export interface FieldMapping {
  /** Stable, unique key `<flow>.<name>`; the org's custom-metadata record is named after it. */
  readonly key: string;
  /** Short human label (≤ 40 characters: it becomes the custom-metadata record label). */
  readonly label: string;
  /** Custompms property, or `null` for a Salesforce constant. */
  readonly custompms: string | null;
  /** Salesforce field API name. */
  readonly salesforce: string;
  readonly direction: Direction;
  readonly kind: FieldKind;
  /** Salesforce length in characters; longer Custompms text is truncated with a warning. */
  readonly maxLength?: number;
  /** Salesforce requires a value: an empty input is reported as an error instead of clearing the field. */
  readonly requiredInSalesforce?: boolean;
  /** Custompms requires a value (see CUSTOMPMS_API.md). */
  readonly requiredInCustompms?: boolean;
  /** `constant` rows: the value Salesforce gets. */
  readonly constant?: string;
  /** `picklist` rows: Custompms value → Salesforce value. */
  readonly toSalesforce?: ValueMap;
  /** `picklist` rows: Salesforce value → Custompms value. Not necessarily the inverse of `toSalesforce`. */
  readonly toCustompms?: ValueMap;
  /** `picklist` rows: the Custompms enumeration, when Custompms fixes one (used to validate overrides). */
  readonly custompmsValues?: readonly string[];
  /** Rows an override may not change (identity and type markers). */
  readonly locked?: boolean;
  /** A disabled row is kept (so it can be re-enabled) but never read or written. */
  readonly enabled: boolean;
}

/** One flow: a Custompms resource type ⇄ a Salesforce object. */
export interface FlowDefinition {
  readonly name: FlowName;
  /** Custompms resource type, as in webhook event types (`customer.updated`). */
  readonly custompmsType: 'customer' | 'project' | 'task';
  /** Custompms REST collection (`/api/v1/{collection}`). */
  readonly custompmsCollection: 'customers' | 'projects' | 'tasks';
  readonly salesforceObject: 'Division' | 'Task';
  /** Value of `Task.Custompms_Type__c` for this flow; `null` for Division. */
  readonly salesforceType: 'Project' | 'Task' | null;
  readonly conflictPolicy: ConflictPolicy;
  readonly deletePolicy: DeletePolicy;
  /** Whether records created in Salesforce create Custompms records (`createCustomersFromDivisions`). */
  readonly createFromSalesforce: boolean;
  readonly fields: readonly FieldMapping[];
}

/** All three flows, keyed by name. */
export type SyncDefinition = Readonly<Record<FlowName, FlowDefinition>>;

const PRIORITY_TO_SALESFORCE: ValueMap = { low: 'Low', normal: 'Normal', high: 'High' };
const PRIORITY_TO_CUSTOMPMS: ValueMap = { Low: 'low', Normal: 'normal', High: 'high' };

/** Project status ⇄ Task Status: bijective (MAPPING.md). */
const PROJECT_STATUS_TO_SALESFORCE: ValueMap = {
  planned: 'Not Started',
  active: 'In Progress',
  on_hold: 'Waiting on someone else',
  completed: 'Completed',
  cancelled: 'Deferred',
};
const PROJECT_STATUS_TO_CUSTOMPMS: ValueMap = {
  'Not Started': 'planned',
  'In Progress': 'active',
  'Waiting on someone else': 'on_hold',
  Completed: 'completed',
  Deferred: 'cancelled',
};

/** Task status ⇄ Task Status: not bijective, `Deferred` comes back as `blocked` (MAPPING.md). */
const TASK_STATUS_TO_SALESFORCE: ValueMap = {
  todo: 'Not Started',
  in_progress: 'In Progress',
  blocked: 'Waiting on someone else',
  done: 'Completed',
};
const TASK_STATUS_TO_CUSTOMPMS: ValueMap = {
  'Not Started': 'todo',
  'In Progress': 'in_progress',
  'Waiting on someone else': 'blocked',
  Deferred: 'blocked',
  Completed: 'done',
};

/** Text lengths from Salesforce `describe` (SALESFORCE.md, MAPPING.md). */
const DIVISION_NAME_LENGTH = 80;
const SUBJECT_LENGTH = 255;
const DESCRIPTION_LENGTH = 32000;
const CUSTOMPMS_ID_LENGTH = 64;

function taskLikeFields(flow: 'projects' | 'tasks'): FieldMapping[] {
  const isProject = flow === 'projects';
  return [
    {
      key: `${flow}.id`,
      label: 'Custompms id',
      custompms: 'id',
      salesforce: 'Custompms_Id__c',
      direction: 'to_salesforce',
      kind: 'id',
      maxLength: CUSTOMPMS_ID_LENGTH,
      locked: true,
      enabled: true,
    },
    {
      key: `${flow}.type`,
      label: 'Custompms type',
      custompms: null,
      salesforce: 'Custompms_Type__c',
      direction: 'to_salesforce',
      kind: 'constant',
      constant: isProject ? 'Project' : 'Task',
      locked: true,
      enabled: true,
    },
    {
      key: isProject ? 'projects.name' : 'tasks.title',
      label: isProject ? 'Name' : 'Title',
      custompms: isProject ? 'name' : 'title',
      salesforce: 'Subject',
      direction: 'both',
      kind: 'string',
      maxLength: SUBJECT_LENGTH,
      requiredInSalesforce: true,
      requiredInCustompms: true,
      enabled: true,
    },
    {
      key: `${flow}.description`,
      label: 'Description',
      custompms: 'description',
      salesforce: 'Description',
      direction: 'both',
      kind: 'textarea',
      maxLength: DESCRIPTION_LENGTH,
      enabled: true,
    },
    {
      key: `${flow}.status`,
      label: 'Status',
      custompms: 'status',
      salesforce: 'Status',
      direction: 'both',
      kind: 'picklist',
      toSalesforce: isProject ? PROJECT_STATUS_TO_SALESFORCE : TASK_STATUS_TO_SALESFORCE,
      toCustompms: isProject ? PROJECT_STATUS_TO_CUSTOMPMS : TASK_STATUS_TO_CUSTOMPMS,
      custompmsValues: Object.keys(isProject ? PROJECT_STATUS_TO_SALESFORCE : TASK_STATUS_TO_SALESFORCE),
      enabled: true,
    },
    {
      key: `${flow}.priority`,
      label: 'Priority',
      custompms: 'priority',
      salesforce: 'Priority',
      direction: 'both',
      kind: 'picklist',
      toSalesforce: PRIORITY_TO_SALESFORCE,
      toCustompms: PRIORITY_TO_CUSTOMPMS,
      custompmsValues: Object.keys(PRIORITY_TO_SALESFORCE),
      enabled: true,
    },
    {
      key: `${flow}.due_date`,
      label: 'Due date',
      custompms: 'due_date',
      salesforce: 'ActivityDate',
      direction: 'both',
      kind: 'date',
      enabled: true,
    },
    {
      key: `${flow}.owner`,
      label: isProject ? 'Owner' : 'Assignee',
      custompms: isProject ? 'owner_email' : 'assignee_email',
      salesforce: 'OwnerId',
      direction: 'both',
      kind: 'owner',
      enabled: true,
    },
    ...(isProject
      ? [
          {
            key: 'projects.customer',
            label: 'Customer (Division)',
            custompms: 'customer_id',
            salesforce: 'Division',
            direction: 'both',
            kind: 'customer_division',
            requiredInCustompms: true,
            enabled: true,
          } as const,
        ]
      : [
          {
            key: 'tasks.project',
            label: 'Project',
            custompms: 'project_id',
            salesforce: 'Custompms_Project_Id__c',
            direction: 'both',
            kind: 'project_ref',
            maxLength: CUSTOMPMS_ID_LENGTH,
            requiredInCustompms: true,
            enabled: true,
          } as const,
          {
            key: 'tasks.division',
            label: "Project's customer (Division)",
            custompms: 'project_id',
            salesforce: 'Division',
            direction: 'to_salesforce',
            kind: 'project_division',
            enabled: true,
          } as const,
        ]),
  ];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** The shipped defaults: MAPPING.md's three tables, frozen. */
export const FLOWS: SyncDefinition = deepFreeze({
  customers: {
    name: 'customers',
    custompmsType: 'customer',
    custompmsCollection: 'customers',
    salesforceObject: 'Division',
    salesforceType: null,
    conflictPolicy: 'latest',
    deletePolicy: 'deactivate',
    createFromSalesforce: false,
    fields: [
      {
        key: 'customers.name',
        label: 'Name',
        custompms: 'name',
        salesforce: 'Name',
        direction: 'both',
        kind: 'string',
        maxLength: DIVISION_NAME_LENGTH,
        requiredInSalesforce: true,
        requiredInCustompms: true,
        enabled: true,
      },
      {
        key: 'customers.is_active',
        label: 'Active',
        custompms: 'is_active',
        salesforce: 'IsActive',
        direction: 'both',
        kind: 'boolean',
        enabled: true,
      },
    ],
  },
  projects: {
    name: 'projects',
    custompmsType: 'project',
    custompmsCollection: 'projects',
    salesforceObject: 'Task',
    salesforceType: 'Project',
    conflictPolicy: 'latest',
    deletePolicy: 'delete',
    createFromSalesforce: true,
    fields: taskLikeFields('projects'),
  },
  tasks: {
    name: 'tasks',
    custompmsType: 'task',
    custompmsCollection: 'tasks',
    salesforceObject: 'Task',
    salesforceType: 'Task',
    conflictPolicy: 'latest',
    deletePolicy: 'delete',
    createFromSalesforce: true,
    fields: taskLikeFields('tasks'),
  },
} satisfies SyncDefinition);

/** True when the row carries values from Custompms to Salesforce. */
export function writesToSalesforce(field: FieldMapping): boolean {
  return field.enabled && field.direction !== 'to_custompms';
}

/** True when the row carries values from Salesforce to Custompms. */
export function writesToCustompms(field: FieldMapping): boolean {
  return field.enabled && field.custompms !== null && field.direction !== 'to_salesforce';
}

/**
 * A change to one field-map row, as read back from the org's `Custompms_Field_Map__mdt`.
 * An unknown `key` adds a row (then `custompms`, `salesforce` and a plain `kind` are required).
 * Value maps replace the row's map for that direction (the record holds the whole map).
 */
export interface FieldMapOverride {
  readonly flow: string;
  readonly key: string;
  readonly label?: string;
  readonly custompms?: string;
  readonly salesforce?: string;
  readonly direction?: string;
  readonly kind?: string;
  readonly maxLength?: number | null;
  readonly requiredInSalesforce?: boolean;
  readonly requiredInCustompms?: boolean;
  readonly toSalesforce?: Readonly<Record<string, string>>;
  readonly toCustompms?: Readonly<Record<string, string>>;
  readonly enabled?: boolean;
}

/** A change to one flow's settings, as read back from `Custompms_Sync_Setting__mdt`. */
export interface FlowSettingOverride {
  readonly flow: string;
  readonly conflictPolicy?: string;
  readonly deletePolicy?: string;
  readonly createFromSalesforce?: boolean;
}

export interface Overrides {
  readonly fields?: readonly FieldMapOverride[];
  readonly flows?: readonly FlowSettingOverride[];
}

export interface OverrideResult {
  /** The definition with every valid override applied (the input is never modified). */
  readonly definition: SyncDefinition;
  /** One `bad_override` error per override that was rejected (and not applied). */
  readonly problems: readonly Problem[];
}

/** Delete policies that make sense per Salesforce object (Division cannot be deleted; Task cannot be "deactivated"). */
const DELETE_POLICIES_BY_OBJECT: Readonly<
  Record<FlowDefinition['salesforceObject'], readonly DeletePolicy[]>
> = {
  Division: ['deactivate', 'unlink', 'ignore'],
  Task: ['delete', 'unlink', 'ignore'],
};

const API_NAME = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;
const PROPERTY_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** Salesforce's largest long text area; a bigger `maxLength` is a typo. */
const MAX_TEXT_LENGTH = 131072;

function isFlowName(value: string): value is FlowName {
  return (FLOW_NAMES as readonly string[]).includes(value);
}

function badOverride(flow: string, key: string | undefined, message: string, value?: unknown): Problem {
  return {
    code: 'bad_override',
    severity: 'error',
    message,
    flow,
    ...(key === undefined ? {} : { field: key }),
    ...(value === undefined ? {} : { value }),
  };
}

function validValueMap(map: unknown): map is Record<string, string> {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return false;
  return Object.entries(map).every(
    ([source, target]) => source.length > 0 && typeof target === 'string' && target.length > 0,
  );
}

/** Checks one override against the row it changes (or creates); returns the new row or a reason. */
function overrideRow(
  existing: FieldMapping | undefined,
  override: FieldMapOverride,
): { row: FieldMapping } | { reason: string } {
  if (existing?.locked) return { reason: `row ${existing.key} is locked: it identifies the record` };
  const kind = override.kind ?? existing?.kind;
  if (kind === undefined || !(FIELD_KINDS as readonly string[]).includes(kind)) {
    return { reason: `unknown kind ${String(kind)}` };
  }
  if (existing === undefined && !(PLAIN_KINDS as readonly string[]).includes(kind)) {
    return { reason: `a new row must have a plain kind (${PLAIN_KINDS.join(', ')}), not ${kind}` };
  }
  if (existing !== undefined && override.kind !== undefined && override.kind !== existing.kind) {
    const bothPlain = [existing.kind, override.kind].every((k) =>
      (PLAIN_KINDS as readonly string[]).includes(k),
    );
    if (!bothPlain) return { reason: `the kind of ${existing.key} cannot change to ${override.kind}` };
  }
  const relational = existing !== undefined && !(PLAIN_KINDS as readonly string[]).includes(existing.kind);
  if (relational) {
    const renamed =
      (override.custompms !== undefined && override.custompms !== existing.custompms) ||
      (override.salesforce !== undefined && override.salesforce !== existing.salesforce);
    if (renamed) return { reason: `the fields of ${existing.key} are fixed by the product` };
  }
  const custompms = override.custompms ?? existing?.custompms;
  const salesforce = override.salesforce ?? existing?.salesforce;
  if (typeof custompms !== 'string' || !PROPERTY_NAME.test(custompms)) {
    return { reason: `invalid Custompms property ${String(custompms)}` };
  }
  if (typeof salesforce !== 'string' || !API_NAME.test(salesforce)) {
    return { reason: `invalid Salesforce field ${String(salesforce)}` };
  }
  const direction = override.direction ?? existing?.direction ?? 'both';
  if (!(DIRECTIONS as readonly string[]).includes(direction))
    return { reason: `unknown direction ${direction}` };
  if (existing?.kind === 'project_division' && direction !== 'to_salesforce') {
    return { reason: `${existing.key} is derived and can only go to Salesforce` };
  }
  const enabled = override.enabled ?? existing?.enabled ?? true;
  if (!enabled && (existing?.requiredInSalesforce || existing?.requiredInCustompms)) {
    return { reason: `${existing.key} is required and cannot be disabled` };
  }
  let maxLength = existing?.maxLength;
  if (override.maxLength !== undefined) {
    if (override.maxLength === null) maxLength = undefined;
    else if (
      !Number.isInteger(override.maxLength) ||
      override.maxLength < 1 ||
      override.maxLength > MAX_TEXT_LENGTH
    ) {
      return { reason: `maxLength must be an integer from 1 to ${MAX_TEXT_LENGTH}` };
    } else maxLength = override.maxLength;
  }
  let toSalesforce = existing?.toSalesforce;
  let toCustompms = existing?.toCustompms;
  if (override.toSalesforce !== undefined || override.toCustompms !== undefined) {
    if (kind !== 'picklist') return { reason: 'value maps apply to picklist rows only' };
    if (override.toSalesforce !== undefined) {
      if (!validValueMap(override.toSalesforce)) return { reason: 'toSalesforce must map non-empty strings' };
      toSalesforce = { ...override.toSalesforce };
    }
    if (override.toCustompms !== undefined) {
      if (!validValueMap(override.toCustompms)) return { reason: 'toCustompms must map non-empty strings' };
      toCustompms = { ...override.toCustompms };
    }
  }
  const allowed = existing?.custompmsValues;
  if (allowed !== undefined) {
    // Custompms rejects values outside its enumeration: a map that produces one is a typo.
    const outside = [...Object.keys(toSalesforce ?? {}), ...Object.values(toCustompms ?? {})].filter(
      (value) => !allowed.includes(value),
    );
    if (outside.length > 0) return { reason: `not Custompms values: ${outside.join(', ')}` };
  }
  if (kind === 'picklist' && direction !== 'to_custompms' && toSalesforce === undefined) {
    return { reason: 'a picklist row going to Salesforce needs toSalesforce' };
  }
  if (kind === 'picklist' && direction !== 'to_salesforce' && toCustompms === undefined) {
    return { reason: 'a picklist row going to Custompms needs toCustompms' };
  }
  const label = override.label ?? existing?.label ?? override.key;
  const row: FieldMapping = {
    key: override.key,
    label: label.slice(0, 40),
    custompms,
    salesforce,
    direction: direction as Direction,
    kind: kind as FieldKind,
    ...(maxLength === undefined ? {} : { maxLength }),
    ...(existing?.requiredInSalesforce || override.requiredInSalesforce
      ? { requiredInSalesforce: true }
      : {}),
    ...(existing?.requiredInCustompms || override.requiredInCustompms ? { requiredInCustompms: true } : {}),
    ...(toSalesforce === undefined ? {} : { toSalesforce }),
    ...(toCustompms === undefined ? {} : { toCustompms }),
    ...(allowed === undefined ? {} : { custompmsValues: allowed }),
    enabled,
  };
  return { row };
}

/** Two enabled rows must not write the same target field: the result would depend on row order. */
function duplicateTarget(fields: readonly FieldMapping[]): string | null {
  const salesforce = new Set<string>();
  const custompms = new Set<string>();
  for (const field of fields) {
    if (writesToSalesforce(field)) {
      if (salesforce.has(field.salesforce)) return `Salesforce field ${field.salesforce}`;
      salesforce.add(field.salesforce);
    }
    if (writesToCustompms(field)) {
      if (custompms.has(field.custompms!)) return `Custompms property ${field.custompms}`;
      custompms.add(field.custompms!);
    }
  }
  return null;
}

/**
 * Applies overrides read back from the org and returns a new definition. Each override is
 * validated on its own; a bad one is reported as a `bad_override` problem and skipped, so one
 * typo in Setup never stops the sync of everything else.
 */
export function applyOverrides(base: SyncDefinition, overrides: Overrides): OverrideResult {
  const problems: Problem[] = [];
  const flows: Record<FlowName, FlowDefinition> = { ...base };

  for (const setting of overrides.flows ?? []) {
    if (!isFlowName(setting.flow)) {
      problems.push(badOverride(setting.flow, undefined, `unknown flow ${setting.flow}`));
      continue;
    }
    const flow = flows[setting.flow];
    const conflictPolicy = setting.conflictPolicy ?? flow.conflictPolicy;
    const deletePolicy = setting.deletePolicy ?? flow.deletePolicy;
    if (!(CONFLICT_POLICIES as readonly string[]).includes(conflictPolicy)) {
      problems.push(badOverride(flow.name, undefined, `unknown conflict policy ${conflictPolicy}`));
      continue;
    }
    if (!DELETE_POLICIES_BY_OBJECT[flow.salesforceObject].includes(deletePolicy as DeletePolicy)) {
      problems.push(
        badOverride(
          flow.name,
          undefined,
          `delete policy ${deletePolicy} does not apply to ${flow.salesforceObject}`,
        ),
      );
      continue;
    }
    flows[setting.flow] = {
      ...flow,
      conflictPolicy: conflictPolicy as ConflictPolicy,
      deletePolicy: deletePolicy as DeletePolicy,
      createFromSalesforce: setting.createFromSalesforce ?? flow.createFromSalesforce,
    };
  }

  for (const override of overrides.fields ?? []) {
    if (!isFlowName(override.flow)) {
      problems.push(badOverride(override.flow, override.key, `unknown flow ${override.flow}`));
      continue;
    }
    if (!override.key.startsWith(`${override.flow}.`)) {
      problems.push(
        badOverride(
          override.flow,
          override.key,
          `row keys of ${override.flow} start with "${override.flow}."`,
        ),
      );
      continue;
    }
    const flow = flows[override.flow];
    const index = flow.fields.findIndex((field) => field.key === override.key);
    const result = overrideRow(index >= 0 ? flow.fields[index] : undefined, override);
    if ('reason' in result) {
      problems.push(badOverride(flow.name, override.key, result.reason));
      continue;
    }
    const fields = [...flow.fields];
    if (index >= 0) fields[index] = result.row;
    else fields.push(result.row);
    const duplicate = duplicateTarget(fields);
    if (duplicate !== null) {
      problems.push(badOverride(flow.name, override.key, `two rows would write ${duplicate}`));
      continue;
    }
    flows[override.flow] = { ...flow, fields };
  }

  return { definition: deepFreeze(flows), problems };
}
