/**
 * The OpenAPI document is well-formed, and the client's types (zod schemas in
 * `proxy/src/custompms/types.ts`) say exactly what it says: same members, same required set, same
 * types, enums, formats and bounds. Change one without the other and this suite fails.
 */
import { z } from 'zod';
import {
  customerCreateSchema,
  customerSchema,
  customerUpdateSchema,
  PRIORITIES,
  PROJECT_STATUSES,
  projectCreateSchema,
  projectSchema,
  projectUpdateSchema,
  RECORD_KINDS,
  RESOURCE_TYPES,
  TASK_STATUSES,
  taskCreateSchema,
  taskSchema,
  taskUpdateSchema,
  tombstoneSchema,
  WEBHOOK_EVENT_TYPES,
  webhookEventSchema,
} from '../../../proxy/src/custompms/types';
import { demoCustomer, demoProject, demoTask } from '../../emulators/custompms/fixtures';
import {
  type JsonSchema,
  loadOpenApi,
  resolveRef,
  schemaValidator,
} from '../../emulators/custompms/contract';

const doc = loadOpenApi();

/** A schema reduced to what both sides must agree on. */
interface Shape {
  types: string[];
  enum?: string[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  properties?: Record<string, Shape>;
  required?: string[];
  closed?: boolean;
}

function shape(input: JsonSchema, withClosed: boolean): Shape {
  const schema = resolveRef<JsonSchema>(input);
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches) {
    const parts = branches.map((branch) => shape(branch, withClosed));
    const merged: Shape = { types: [...new Set(parts.flatMap((part) => part.types))].sort() };
    for (const part of parts) {
      const { types: _types, ...rest } = part;
      Object.assign(merged, rest);
    }
    return merged;
  }
  const types = new Set<string>(schema.type === undefined ? [] : [schema.type].flat());
  const result: Shape = { types: [] };
  if (schema.enum) {
    for (const value of schema.enum) if (value === null) types.add('null');
    result.enum = schema.enum
      .filter((value) => value !== null)
      .map(String)
      .sort();
  }
  result.types = [...types].sort();
  if (schema.format) result.format = schema.format;
  if (schema.minLength !== undefined) result.minLength = schema.minLength;
  if (schema.maxLength !== undefined) result.maxLength = schema.maxLength;
  // zod writes the safe-integer bound on every int; the document does not repeat it.
  if (schema.minimum !== undefined && schema.minimum > Number.MIN_SAFE_INTEGER)
    result.minimum = schema.minimum;
  if (schema.properties) {
    result.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, property]) => [name, shape(property, withClosed)]),
    );
    result.required = [...(schema.required ?? [])].sort();
    if (withClosed) result.closed = schema.additionalProperties === false;
  }
  return result;
}

function zodShape(schema: z.ZodType, withClosed: boolean): Shape {
  return shape(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema, withClosed);
}

function docShape(name: string, withClosed: boolean): Shape {
  const schema = doc.components.schemas[name];
  if (!schema) throw new Error(`schema ${name} missing from the document`);
  return shape(schema, withClosed);
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with the bearer scheme applied to every operation', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: 'http', scheme: 'bearer' } });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  it('resolves every $ref and compiles every schema under strict ajv', () => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node !== null && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(100);
    for (const ref of refs) expect(() => resolveRef({ $ref: ref })).not.toThrow();
    for (const name of Object.keys(doc.components.schemas)) expect(() => schemaValidator(name)).not.toThrow();
  });

  it('declares each resource collection, item and the tombstone list, with unique operation ids', () => {
    const expectedPaths = [
      ...RESOURCE_TYPES.flatMap((type) => [`/api/v1/${type}`, `/api/v1/${type}/{id}`]),
      '/api/v1/deleted',
    ].sort();
    expect(Object.keys(doc.paths).sort()).toEqual(expectedPaths);
    const ids: string[] = [];
    for (const item of Object.values(doc.paths))
      for (const [method, operation] of Object.entries(item))
        if (['get', 'post', 'patch', 'delete', 'put'].includes(method))
          ids.push((operation as { operationId: string }).operationId);
    expect(ids).toHaveLength(16);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('answers every error as problem+json, with Retry-After on 429 and 503', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!['get', 'post', 'patch', 'delete'].includes(method)) continue;
        const responses = (operation as { responses: Record<string, unknown> }).responses;
        expect([path, method, Object.keys(responses)]).toEqual([
          path,
          method,
          expect.arrayContaining(['401', '429', '503', 'default']),
        ]);
        for (const [status, response] of Object.entries(responses)) {
          const resolved = resolveRef<{
            content?: Record<string, { schema: { $ref?: string } }>;
            headers?: Record<string, unknown>;
          }>(response);
          if (status === 'default' || Number(status) >= 400) {
            expect([path, method, status, Object.keys(resolved.content ?? {})]).toEqual([
              path,
              method,
              status,
              ['application/problem+json'],
            ]);
          }
          if (status === '429' || status === '503')
            expect(Object.keys(resolved.headers ?? {})).toContain('Retry-After');
          for (const media of Object.values(resolved.content ?? {}))
            expect(media.schema.$ref).toMatch(/^#\//);
        }
      }
    }
  });

  it('describes the webhook with its signature header and event schema', () => {
    const webhook = resolveRef<{
      post: { parameters: { name: string; in: string; required: boolean }[]; requestBody: unknown };
    }>(doc.webhooks?.recordChanged);
    expect(webhook.post.parameters).toEqual([
      expect.objectContaining({ name: 'Custompms-Signature', in: 'header', required: true }),
    ]);
    expect(JSON.stringify(webhook.post.requestBody)).toContain('#/components/schemas/WebhookEvent');
  });

  it('requires If-Match on PATCH and offers Idempotency-Key on POST', () => {
    for (const type of RESOURCE_TYPES) {
      const collection = doc.paths[`/api/v1/${type}`] as Record<string, { parameters?: unknown[] }>;
      const item = doc.paths[`/api/v1/${type}/{id}`] as Record<string, { parameters?: unknown[] }>;
      const names = (parameters: unknown[] | undefined) =>
        (parameters ?? []).map((parameter) => resolveRef<{ name: string; required?: boolean }>(parameter));
      expect(names(collection.post!.parameters)).toEqual([
        expect.objectContaining({ name: 'Idempotency-Key', required: false }),
      ]);
      expect(names(item.patch!.parameters)).toEqual([
        expect.objectContaining({ name: 'If-Match', required: true }),
      ]);
      expect(names(collection.get!.parameters).map((parameter) => parameter.name)).toEqual([
        'updated_since',
        'limit',
        'cursor',
        'ids',
      ]);
    }
  });
});

describe('client types match the document', () => {
  const pairs: [string, z.ZodType, boolean][] = [
    ['Customer', customerSchema, false],
    ['CustomerCreate', customerCreateSchema, true],
    ['CustomerUpdate', customerUpdateSchema, true],
    ['Project', projectSchema, false],
    ['ProjectCreate', projectCreateSchema, true],
    ['ProjectUpdate', projectUpdateSchema, true],
    ['Task', taskSchema, false],
    ['TaskCreate', taskCreateSchema, true],
    ['TaskUpdate', taskUpdateSchema, true],
    ['Tombstone', tombstoneSchema, false],
    ['WebhookEvent', webhookEventSchema, false],
  ];

  it.each(pairs)('%s', (name, schema, closed) => {
    expect(zodShape(schema, closed)).toEqual(docShape(name, closed));
  });

  it('enumerations match', () => {
    expect(doc.components.schemas.ProjectStatus!.enum).toEqual([...PROJECT_STATUSES]);
    expect(doc.components.schemas.TaskStatus!.enum).toEqual([...TASK_STATUSES]);
    expect(doc.components.schemas.Priority!.enum).toEqual([...PRIORITIES]);
    expect(doc.components.schemas.RecordKind!.enum).toEqual([...RECORD_KINDS]);
    expect(doc.components.schemas.WebhookEventType!.enum).toEqual([...WEBHOOK_EVENT_TYPES]);
  });

  it('the comparison itself notices a drift', () => {
    const drifted = customerSchema.extend({ vip: z.boolean() });
    expect(zodShape(drifted, false)).not.toEqual(docShape('Customer', false));
    const loosened = projectSchema.extend({ status: z.string().nullable().optional() });
    expect(zodShape(loosened, false)).not.toEqual(docShape('Project', false));
  });

  it('sample records are accepted by both the document and the client types, and rejected alike', () => {
    const meta = {
      id: 'x_1',
      version: 3,
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-02T00:00:00.000Z',
    };
    const samples: [string, z.ZodType, object][] = [
      ['Customer', customerSchema, { ...meta, ...demoCustomer(1) }],
      ['Project', projectSchema, { ...meta, ...demoProject('cus_1', 1) }],
      ['Task', taskSchema, { ...meta, ...demoTask('prj_1', 1) }],
    ];
    for (const [name, schema, sample] of samples) {
      expect(schemaValidator(name)(sample)).toBe(true);
      expect(schema.safeParse(sample).success).toBe(true);
      for (const broken of [
        { ...sample, version: 0 },
        { ...sample, updated_at: 'yesterday' },
        { ...sample, status: 'archived' },
        { ...sample, id: '' },
      ]) {
        if (name === 'Customer' && 'status' in broken && broken.status === 'archived') continue;
        expect([name, broken, schemaValidator(name)(broken)]).toEqual([name, broken, false]);
        expect([name, broken, schema.safeParse(broken).success]).toEqual([name, broken, false]);
      }
    }
  });
});
