/**
 * The OpenAPI document, loaded once and compiled with ajv (JSON Schema 2020-12, the dialect of
 * OpenAPI 3.1). The reference server validates request bodies with these validators, so its rules
 * are the document's rules; tests validate every response against the document the same way.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

export const OPENAPI_PATH = path.resolve(__dirname, '../../../proxy/openapi/custompms.yaml');
const SCHEMA_ID = 'custompms.yaml';

/** The parts of an OpenAPI 3.1 document this code reads. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  webhooks?: Record<string, Record<string, unknown>>;
  components: {
    schemas: Record<string, JsonSchema>;
    parameters?: Record<string, unknown>;
    responses?: Record<string, unknown>;
    headers?: Record<string, unknown>;
    securitySchemes?: Record<string, unknown>;
  };
  [key: string]: unknown;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  format?: string;
  $ref?: string;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  [key: string]: unknown;
}

let cachedDocument: OpenApiDocument | undefined;
let cachedAjv: Ajv2020 | undefined;

export function loadOpenApi(): OpenApiDocument {
  cachedDocument ??= parse(readFileSync(OPENAPI_PATH, 'utf8')) as OpenApiDocument;
  return cachedDocument;
}

/** An ajv instance holding the document's components, strict so a misspelt keyword fails. */
export function contractAjv(): Ajv2020 {
  if (cachedAjv) return cachedAjv;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  // OpenAPI members that are not JSON Schema keywords but live where ajv looks.
  ajv.addVocabulary(['components', 'example', 'discriminator', 'xml', 'externalDocs']);
  ajv.addSchema({ $id: SCHEMA_ID, components: loadOpenApi().components }, SCHEMA_ID);
  cachedAjv = ajv;
  return ajv;
}

/** The validator of `#/components/schemas/<name>`, or of any pointer into the document. */
export function schemaValidator(nameOrPointer: string): ValidateFunction {
  const pointer = nameOrPointer.startsWith('#') ? nameOrPointer : `#/components/schemas/${nameOrPointer}`;
  const validate = contractAjv().getSchema(`${SCHEMA_ID}${pointer}`);
  if (!validate) throw new Error(`No schema at ${pointer} in ${OPENAPI_PATH}`);
  return validate;
}

/** Follows a local `$ref` ("#/components/...") in the document. */
export function resolveRef<T = unknown>(node: unknown): T {
  let current = node as { $ref?: string } | undefined;
  const seen = new Set<string>();
  while (current && typeof current.$ref === 'string') {
    const ref = current.$ref;
    if (seen.has(ref)) throw new Error(`Circular $ref ${ref}`);
    seen.add(ref);
    if (!ref.startsWith('#/')) throw new Error(`Only local $ref is supported: ${ref}`);
    let target: unknown = loadOpenApi();
    for (const segment of ref.slice(2).split('/')) {
      const key = segment.replaceAll('~1', '/').replaceAll('~0', '~');
      target = (target as Record<string, unknown> | undefined)?.[key];
    }
    if (target === undefined) throw new Error(`Unresolvable $ref ${ref}`);
    current = target as { $ref?: string };
  }
  return current as T;
}

/** Field names of a resource's create body, in document order. */
export function createFields(schemaName: string): string[] {
  return Object.keys(loadOpenApi().components.schemas[schemaName]?.properties ?? {});
}

export interface FieldError {
  pointer: string;
  detail: string;
}

/**
 * ajv's errors as one readable entry per offending member. A nullable enum (`oneOf: [enum, null]`)
 * fails three ways at once; people want the one sentence that names the allowed values.
 */
export function describeErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  const byPointer = new Map<string, ErrorObject[]>();
  for (const error of errors ?? []) {
    let pointer = error.instancePath;
    if (error.keyword === 'required')
      pointer += `/${(error.params as { missingProperty: string }).missingProperty}`;
    if (error.keyword === 'additionalProperties')
      pointer += `/${(error.params as { additionalProperty: string }).additionalProperty}`;
    byPointer.set(pointer, [...(byPointer.get(pointer) ?? []), error]);
  }
  const result: FieldError[] = [];
  for (const [pointer, list] of byPointer) {
    const pick = (keyword: string) => list.find((error) => error.keyword === keyword);
    const nullable = list.some(
      (error) => error.keyword === 'type' && (error.params as { type: unknown }).type === 'null',
    );
    let detail: string;
    const required = pick('required');
    const additional = pick('additionalProperties');
    const enumError = pick('enum');
    const format = pick('format');
    const minLength = pick('minLength');
    const type = list.find(
      (error) => error.keyword === 'type' && (error.params as { type: unknown }).type !== 'null',
    );
    if (required) detail = 'is required';
    else if (additional) detail = 'is not a field of this resource';
    else if (enumError)
      detail = `must be one of ${((enumError.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}${nullable ? ', or null' : ''}`;
    else if (format) detail = `must be a valid ${(format.params as { format: string }).format}`;
    else if (minLength) detail = 'must not be empty';
    else if (type) {
      const expected = (type.params as { type: string | string[] }).type;
      detail = `must be ${(Array.isArray(expected) ? expected.join(',') : expected).split(',').join(' or ')}`;
    } else detail = list[0]?.message ?? 'is invalid';
    result.push({ pointer, detail });
  }
  return result;
}
