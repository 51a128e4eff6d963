/**
 * Test helpers for the Custompms suites: a fetch that checks every answer against the OpenAPI
 * document (so the reference server cannot drift from it), a fake sleep that records delays and
 * moves a fake clock instead of waiting, and a fetch that counts requests in flight.
 */
import { loadOpenApi, resolveRef, schemaValidator, describeErrors } from '../../emulators/custompms/contract';

interface ResponseObject {
  content?: Record<string, { schema?: { $ref?: string } }>;
  headers?: Record<string, { required?: boolean } | { $ref: string }>;
}

interface Operation {
  responses: Record<string, ResponseObject | { $ref: string }>;
}

function templateToRegExp(template: string): RegExp {
  return new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
}

/** The document's operation for a concrete method and path, if any. */
export function findOperation(
  method: string,
  path: string,
): { template: string; operation: Operation } | undefined {
  const doc = loadOpenApi();
  // Literal paths before templated ones (`/api/v1/deleted` has no `{id}` but /{type} would not match anyway).
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!templateToRegExp(template).test(path)) continue;
    const operation = item[method.toLowerCase()] as Operation | undefined;
    if (operation) return { template, operation };
  }
  return undefined;
}

/**
 * Checks one answer against the document: the status is declared (or `default` exists), the
 * content type is the declared one, the body validates against its schema, required headers are
 * present. Returns the violations found (empty when it conforms).
 */
export async function checkAgainstContract(
  method: string,
  url: string,
  response: Response,
): Promise<string[]> {
  const path = new URL(url).pathname;
  const where = `${method} ${path} → ${response.status}`;
  const found = findOperation(method, path);
  if (!found) return [`${where}: no such operation in the document`];
  const declared = found.operation.responses[String(response.status)] ?? found.operation.responses.default;
  if (!declared) return [`${where}: status not declared`];
  const spec = resolveRef<ResponseObject>(declared);
  const problems: string[] = [];
  for (const [name, header] of Object.entries(spec.headers ?? {})) {
    if (resolveRef<{ required?: boolean }>(header).required && !response.headers.has(name))
      problems.push(`${where}: required header ${name} missing`);
  }
  const text = await response.clone().text();
  const contentTypes = Object.keys(spec.content ?? {});
  if (contentTypes.length === 0) {
    if (text !== '') problems.push(`${where}: body present where none is declared`);
    return problems;
  }
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = spec.content?.[contentType];
  if (!media)
    return [...problems, `${where}: content-type ${contentType} not declared (${contentTypes.join(', ')})`];
  const ref = media.schema?.$ref;
  if (!ref) return [...problems, `${where}: declared schema is not a $ref`];
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [...problems, `${where}: body is not JSON`];
  }
  const validate = schemaValidator(ref);
  if (!validate(body))
    problems.push(
      `${where}: body breaks ${ref}: ${describeErrors(validate.errors)
        .map((error) => `${error.pointer} ${error.detail}`)
        .join('; ')}`,
    );
  return problems;
}

/** A fetch that records every contract violation of the answers it passes through. */
export function contractCheckingFetch(violations: string[], inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    violations.push(...(await checkAgainstContract(init?.method ?? 'GET', url, response)));
    return response;
  };
}

/** A clock and a sleep that advances it instantly, recording every requested delay. */
export function fakeTime(start = Date.parse('2026-03-01T12:00:00.000Z')): {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  sleeps: number[];
  advance(ms: number): void;
} {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleeps,
    advance(ms: number) {
      now += ms;
    },
    sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

/** A fetch that tracks how many requests are in flight at once. */
export function concurrencyTrackingFetch(inner: typeof fetch = fetch): {
  fetch: typeof fetch;
  peak(): number;
} {
  let active = 0;
  let peak = 0;
  return {
    peak: () => peak,
    fetch: async (input, init) => {
      active++;
      peak = Math.max(peak, active);
      try {
        const response = await inner(input, init);
        await response.clone().arrayBuffer();
        return response;
      } finally {
        active--;
      }
    },
  };
}

/** A fetch answering from a queue of canned responses (for wire cases the server never produces). */
export function scriptedFetch(
  script: (() => Response | Promise<Response>)[],
): typeof fetch & { calls: { url: string; init: RequestInit | undefined }[] } {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), init });
    const next = script.shift();
    if (!next) throw new Error('scriptedFetch: no more responses');
    return next();
  }) as typeof fetch & { calls: typeof calls };
  fn.calls = calls;
  return fn;
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const problem = status >= 400;
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': problem ? 'application/problem+json' : 'application/json', ...headers },
  });
}
