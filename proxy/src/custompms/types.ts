/**
 * The Custompms wire types, as zod schemas with the TypeScript types inferred from them. They
 * mirror `proxy/openapi/custompms.yaml`; `test/proxy/custompms/openapi.test.ts` converts each
 * schema to JSON Schema and compares it with the document, so neither can drift alone.
 *
 * Field names stay as on the wire (snake_case): the mapper in `sync/` works on these shapes.
 */
import { z } from 'zod';

/** Collection names as they appear in URLs (`/api/v1/tasks`). */
export const RESOURCE_TYPES = ['customers', 'projects', 'tasks'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** Record kinds as they appear in tombstones and event types (`task.updated`). */
export const RECORD_KINDS = ['customer', 'project', 'task'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export const KIND_OF_RESOURCE: Readonly<Record<ResourceType, RecordKind>> = Object.freeze({
  customers: 'customer',
  projects: 'project',
  tasks: 'task',
});

export const RESOURCE_OF_KIND: Readonly<Record<RecordKind, ResourceType>> = Object.freeze({
  customer: 'customers',
  project: 'projects',
  task: 'tasks',
});

export const PROJECT_STATUSES = ['planned', 'active', 'on_hold', 'completed', 'cancelled'] as const;
export const TASK_STATUSES = ['todo', 'in_progress', 'blocked', 'done'] as const;
export const PRIORITIES = ['low', 'normal', 'high'] as const;

// Timestamps: UTC ISO-8601; an explicit offset is tolerated so a real server writing "+00:00"
// still passes. Dates are calendar dates (YYYY-MM-DD), never shifted by a time zone.
const timestamp = z.iso.datetime({ offset: true });
const date = z.iso.date();
const requiredText = z.string().min(1);
const optionalText = z.string().nullable().optional();

const recordMeta = {
  id: requiredText,
  version: z.number().int().min(1),
  created_at: timestamp,
  updated_at: timestamp,
};

const customerFields = {
  name: requiredText,
  customer_number: optionalText,
  email: optionalText,
  phone: optionalText,
  is_active: z.boolean().nullable().optional(),
};

const projectFields = {
  customer_id: requiredText,
  name: requiredText,
  description: optionalText,
  status: z.enum(PROJECT_STATUSES).nullable().optional(),
  priority: z.enum(PRIORITIES).nullable().optional(),
  start_date: date.nullable().optional(),
  due_date: date.nullable().optional(),
  owner_email: optionalText,
};

const taskFields = {
  project_id: requiredText,
  title: requiredText,
  description: optionalText,
  status: z.enum(TASK_STATUSES).nullable().optional(),
  priority: z.enum(PRIORITIES).nullable().optional(),
  due_date: date.nullable().optional(),
  assignee_email: optionalText,
  estimated_hours: z.number().nullable().optional(),
};

/** Records as the API returns them; unknown members from a newer server are dropped, not errors. */
export const customerSchema = z.object({ ...recordMeta, ...customerFields });
export const projectSchema = z.object({ ...recordMeta, ...projectFields });
export const taskSchema = z.object({ ...recordMeta, ...taskFields });

/** Bodies of `POST`: unknown members are refused (the server answers 422 for them too). */
export const customerCreateSchema = z.strictObject(customerFields);
export const projectCreateSchema = z.strictObject(projectFields);
export const taskCreateSchema = z.strictObject(taskFields);

/** Bodies of `PATCH`: any subset; `null` clears an optional field. */
export const customerUpdateSchema = customerCreateSchema.partial();
export const projectUpdateSchema = projectCreateSchema.partial();
export const taskUpdateSchema = taskCreateSchema.partial();

export type Customer = z.infer<typeof customerSchema>;
export type Project = z.infer<typeof projectSchema>;
export type Task = z.infer<typeof taskSchema>;
export type CustomerCreate = z.infer<typeof customerCreateSchema>;
export type ProjectCreate = z.infer<typeof projectCreateSchema>;
export type TaskCreate = z.infer<typeof taskCreateSchema>;
export type CustomerUpdate = z.infer<typeof customerUpdateSchema>;
export type ProjectUpdate = z.infer<typeof projectUpdateSchema>;
export type TaskUpdate = z.infer<typeof taskUpdateSchema>;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type Priority = (typeof PRIORITIES)[number];

/** Type-level maps from a collection name to its record, create body and update body. */
export interface ResourceMap {
  customers: Customer;
  projects: Project;
  tasks: Task;
}
export interface CreateMap {
  customers: CustomerCreate;
  projects: ProjectCreate;
  tasks: TaskCreate;
}
export interface UpdateMap {
  customers: CustomerUpdate;
  projects: ProjectUpdate;
  tasks: TaskUpdate;
}
export type CustompmsRecord = ResourceMap[ResourceType];

export const recordSchemas: { readonly [K in ResourceType]: z.ZodType<ResourceMap[K]> } = {
  customers: customerSchema,
  projects: projectSchema,
  tasks: taskSchema,
};
export const createSchemas = {
  customers: customerCreateSchema,
  projects: projectCreateSchema,
  tasks: taskCreateSchema,
} as const;
export const updateSchemas = {
  customers: customerUpdateSchema,
  projects: projectUpdateSchema,
  tasks: taskUpdateSchema,
} as const;

/** One page of a list: `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export function pageSchema<T>(item: z.ZodType<T>): z.ZodType<Page<T>> {
  return z.object({ data: z.array(item), next_cursor: z.string().min(1).nullable() });
}

export const tombstoneSchema = z.object({
  type: z.enum(RECORD_KINDS),
  id: requiredText,
  deleted_at: timestamp,
});
export type Tombstone = z.infer<typeof tombstoneSchema>;

export const WEBHOOK_EVENT_TYPES = [
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'project.created',
  'project.updated',
  'project.deleted',
  'task.created',
  'task.updated',
  'task.deleted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A webhook says *what* changed; the receiver fetches the record to learn how it is now. */
export const webhookEventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.enum(WEBHOOK_EVENT_TYPES),
  occurred_at: timestamp,
  data: z.object({ id: requiredText, version: z.number().int().min(1) }),
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;

/** The kind and action of an event type (`task.deleted` → `{ kind: 'task', action: 'deleted' }`). */
export function parseEventType(type: WebhookEventType): {
  kind: RecordKind;
  resource: ResourceType;
  action: 'created' | 'updated' | 'deleted';
} {
  const [kind, action] = type.split('.') as [RecordKind, 'created' | 'updated' | 'deleted'];
  return { kind, resource: RESOURCE_OF_KIND[kind], action };
}

/** RFC 9457 problem details, with the extension members this API uses. */
export const problemSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().int().optional(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z
    .array(z.looseObject({ pointer: z.string().optional(), detail: z.string().optional() }))
    .optional(),
  current: z.unknown().optional(),
});
export type Problem = z.infer<typeof problemSchema>;
