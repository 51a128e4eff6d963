/**
 * Contract tests: the real client against the reference server over HTTP, for every operation.
 * Every answer also passes through `contractCheckingFetch`, so the server is checked against the
 * OpenAPI document at the same time. Retries use a fake sleep that moves a shared fake clock, so
 * `Retry-After: 5` costs nothing and the server's outage window really ends.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  backoffDelay,
  CUSTOMPMS_ERROR_CODES,
  CustompmsAbortedError,
  CustompmsClient,
  type CustompmsClientOptions,
  CustompmsConflictError,
  CustompmsError,
  CustompmsIdempotencyKeyReusedError,
  CustompmsNetworkError,
  CustompmsNotFoundError,
  CustompmsRateLimitedError,
  CustompmsServerError,
  CustompmsTimeoutError,
  CustompmsUnauthorizedError,
  CustompmsUnavailableError,
  CustompmsValidationError,
  DEFAULT_RETRY_POLICY,
  type ResourceType,
  type Task,
} from '../../../proxy/src/custompms';
import * as errorsModule from '../../../proxy/src/custompms/errors';
import { demoCustomer, demoProject, demoTask } from '../../emulators/custompms/fixtures';
import { type CustompmsEmulator, startCustompmsEmulator } from '../../emulators/custompms/server';
import { concurrencyTrackingFetch, contractCheckingFetch, fakeTime } from './support';

const TOKEN = 'contract-test-token';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('CustompmsClient against the reference server', () => {
  let emulator: CustompmsEmulator;
  let time: ReturnType<typeof fakeTime>;
  let violations: string[];

  beforeAll(async () => {
    time = fakeTime();
    emulator = await startCustompmsEmulator({ token: TOKEN, clock: () => time.now() });
  });
  afterAll(async () => {
    await emulator.stop();
  });
  beforeEach(() => {
    violations = [];
    time.sleeps.length = 0;
    emulator.controls.reset();
    emulator.controls.clearFaults();
  });
  afterEach(() => {
    // Whatever the test did, the server only said what the document allows.
    expect(violations).toEqual([]);
  });

  function client(options: Partial<CustompmsClientOptions> = {}): CustompmsClient {
    return new CustompmsClient({
      baseUrl: emulator.url,
      token: TOKEN,
      fetch: contractCheckingFetch(violations),
      sleep: time.sleep,
      now: time.now,
      random: () => 0.5,
      timeoutMs: 5_000,
      ...options,
    });
  }

  /** A customer and a project to hang projects and tasks on. */
  function parents(): { customerId: string; projectId: string } {
    const customer = emulator.controls.create('customers', { name: 'Parent customer' });
    const project = emulator.controls.create('projects', {
      customer_id: customer.id,
      name: 'Parent project',
    });
    return { customerId: customer.id, projectId: project.id };
  }

  describe.each<[ResourceType]>([['customers'], ['projects'], ['tasks']])('%s: every operation', (type) => {
    function body(ids: { customerId: string; projectId: string }) {
      if (type === 'customers') return demoCustomer(1);
      if (type === 'projects') return demoProject(ids.customerId, 1);
      return demoTask(ids.projectId, 1);
    }
    const nameField = type === 'tasks' ? 'title' : 'name';

    it('creates, reads, updates (clearing a field), lists, deletes and leaves a tombstone', async () => {
      const api = client();
      const ids = parents();
      const input = body(ids);
      const created = await api.create(type, input as never, { idempotencyKey: `create-${type}` });
      expect(created).toMatchObject({ ...input, version: 1 });
      expect(created.created_at).toBe(created.updated_at);
      expect(emulator.controls.record(type, created.id)).toEqual(created);

      await expect(api.get(type, created.id)).resolves.toEqual(created);

      time.advance(1_000);
      const optionalField = type === 'customers' ? 'email' : 'description';
      const updated = await api.update(
        type,
        created.id,
        { [nameField]: 'Renamed', [optionalField]: null },
        { ifMatch: 1 },
      );
      expect(updated).toMatchObject({
        id: created.id,
        version: 2,
        [nameField]: 'Renamed',
        [optionalField]: null,
      });
      expect(Date.parse(updated.updated_at)).toBeGreaterThan(Date.parse(created.updated_at));

      const listed = [];
      for await (const record of api.list(type, { updatedSince: updated.updated_at })) listed.push(record);
      expect(listed).toEqual([updated]);

      await expect(api.delete(type, created.id, { ifMatch: 2 })).resolves.toBe('deleted');
      await expect(api.get(type, created.id)).rejects.toBeInstanceOf(CustompmsNotFoundError);
      await expect(api.delete(type, created.id)).resolves.toBe('not_found');

      const tombstones = [];
      for await (const tombstone of api.listDeleted()) tombstones.push(tombstone);
      expect(tombstones).toEqual([
        { type: type.slice(0, -1), id: created.id, deleted_at: expect.any(String) },
      ]);
    });
  });

  it('reads records in batches: missing ids left out, more than a hundred in several requests', async () => {
    const api = client();
    const { projectId } = parents();
    const tasks = Array.from({ length: 150 }, (_, index) =>
      emulator.controls.create('tasks', { project_id: projectId, title: `Task ${index}` }),
    );
    const before = emulator.controls.requests().length;
    const read = await api.getMany('tasks', [...tasks.map((task) => task.id), 'tsk_missing', tasks[0]!.id]);
    expect(read.map((task) => task.id).sort()).toEqual(tasks.map((task) => task.id).sort());
    expect(read.find((task) => task.id === tasks[3]!.id)).toEqual(await api.get('tasks', tasks[3]!.id));
    expect(emulator.controls.requests().length - before).toBe(3);
    await expect(api.getMany('tasks', [])).resolves.toEqual([]);
  });

  it('a batch read cannot be combined with a list filter (400)', async () => {
    const response = await fetch(`${emulator.url}/api/v1/tasks?ids=a,b&limit=5`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(400);
  });

  it('surfaces a stale version as a typed conflict carrying the current record, and changes nothing', async () => {
    const api = client();
    const { projectId } = parents();
    const task = await api.create('tasks', { project_id: projectId, title: 'Original', status: 'todo' });
    // Someone edits the task in Custompms meanwhile.
    const edited = emulator.controls.edit('tasks', task.id, {
      title: 'Edited in Custompms',
      status: 'blocked',
    });
    expect(edited.version).toBe(2);

    const attempt = api.update('tasks', task.id, { status: 'done' }, { ifMatch: 1 });
    await expect(attempt).rejects.toBeInstanceOf(CustompmsConflictError);
    const error = (await attempt.catch((caught: unknown) => caught)) as CustompmsConflictError<Task>;
    expect(error.code).toBe('CUSTOMPMS_VERSION_CONFLICT');
    expect(error.status).toBe(409);
    expect(error.expectedVersion).toBe(1);
    expect(error.current).toEqual(edited);
    expect(error.retryable).toBe(false);
    expect(emulator.controls.record('tasks', task.id)).toEqual(edited);

    // With the current version the same change goes through.
    await expect(api.update('tasks', task.id, { status: 'done' }, { ifMatch: 2 })).resolves.toMatchObject({
      version: 3,
      status: 'done',
      title: 'Edited in Custompms',
    });
  });

  it('a stale If-Match on delete is a conflict too, and the record survives', async () => {
    const api = client();
    const customer = await api.create('customers', { name: 'Keep me' });
    emulator.controls.edit('customers', customer.id, { name: 'Kept' });
    await expect(api.delete('customers', customer.id, { ifMatch: 1 })).rejects.toMatchObject({
      code: 'CUSTOMPMS_VERSION_CONFLICT',
      current: expect.objectContaining({ name: 'Kept', version: 2 }),
    });
    expect(emulator.controls.record('customers', customer.id)).toBeDefined();
  });

  describe('idempotent create', () => {
    it('survives a POST whose answer was lost: the retry gets the same record, and only one exists', async () => {
      const api = client();
      const { projectId } = parents();
      emulator.controls.setFaults({
        rules: [{ route: 'POST /api/v1/tasks', status: 503, phase: 'after', times: 1 }],
      });

      const task = await api.create(
        'tasks',
        { project_id: projectId, title: 'From Salesforce' },
        { idempotencyKey: '00T000000000001' },
      );

      expect(emulator.controls.records('tasks')).toEqual([task]);
      const posts = emulator.controls.requests().filter((entry) => entry.method === 'POST');
      expect(posts.map((entry) => [entry.status, entry.fault, entry.replayed, entry.idempotencyKey])).toEqual(
        [
          [503, 'after: status 503', undefined, '00T000000000001'],
          [201, undefined, true, '00T000000000001'],
        ],
      );
      expect(time.sleeps).toEqual([1_000]); // the injected Retry-After: 1
    });

    it('survives a connection reset after the server created the record', async () => {
      const api = client();
      const { customerId } = parents();
      emulator.controls.setFaults({
        rules: [{ route: 'POST /api/v1/projects', action: 'reset', phase: 'after', times: 1 }],
      });
      const project = await api.create(
        'projects',
        { customer_id: customerId, name: 'Once' },
        { idempotencyKey: 'k-reset' },
      );
      expect(emulator.controls.records('projects').filter((record) => record.name === 'Once')).toEqual([
        project,
      ]);
      expect(time.sleeps).toHaveLength(1);
      expect(time.sleeps[0]).toBe(backoffDelay({ ...DEFAULT_RETRY_POLICY }, 1, () => 0.5));
    });

    it('answers a later repeat with the same record, and refuses the key with a different body', async () => {
      const api = client();
      const first = await api.create('customers', { name: 'Acme' }, { idempotencyKey: 'sf-001' });
      const again = await api.create('customers', { name: 'Acme' }, { idempotencyKey: 'sf-001' });
      expect(again).toEqual(first);
      expect(emulator.controls.records('customers')).toHaveLength(1);

      const reused = api.create('customers', { name: 'Other' }, { idempotencyKey: 'sf-001' });
      await expect(reused).rejects.toBeInstanceOf(CustompmsIdempotencyKeyReusedError);
      await expect(reused).rejects.toMatchObject({ code: 'CUSTOMPMS_IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect(emulator.controls.records('customers')).toHaveLength(1);
    });

    it('without a key of the caller, still sends one so its own retries are safe', async () => {
      const api = client();
      emulator.controls.setFaults({
        rules: [{ route: 'POST /api/v1/customers', status: 502, phase: 'after', times: 1 }],
      });
      await api.create('customers', { name: 'Keyless' });
      const posts = emulator.controls.requests().filter((entry) => entry.method === 'POST');
      expect(posts).toHaveLength(2);
      expect(posts[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
      expect(posts[1]!.idempotencyKey).toBe(posts[0]!.idempotencyKey);
      expect(emulator.controls.records('customers')).toHaveLength(1);
    });
  });

  it('a PATCH retried after its answer was lost finds its own write and succeeds', async () => {
    const api = client();
    const customer = await api.create('customers', { name: 'Before' });
    emulator.controls.setFaults({
      rules: [{ route: 'PATCH /api/v1/customers/:id', status: 503, phase: 'after', times: 1 }],
    });
    const updated = await api.update('customers', customer.id, { name: 'After' }, { ifMatch: 1 });
    expect(updated).toMatchObject({ name: 'After', version: 2 });
    expect(emulator.controls.record('customers', customer.id)!.version).toBe(2);
  });

  describe('paging', () => {
    it('walks 10,000 records page by page, never holding more than one page', async () => {
      const total = 10_000;
      const limit = 100;
      emulator.controls.seed(
        'tasks',
        Array.from({ length: total }, (_, index) => demoTask('prj_paging', index)),
      );
      let received = 0;
      let pages = 0;
      const counting: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        const body = (await response.clone().json()) as { data: unknown[] };
        received += body.data.length;
        pages++;
        return response;
      };
      const api = client({ fetch: contractCheckingFetch(violations, counting) });

      let yielded = 0;
      let maxBuffered = 0;
      const seen = new Set<string>();
      let previous: Task | undefined;
      for await (const task of api.list('tasks', { limit })) {
        yielded++;
        maxBuffered = Math.max(maxBuffered, received - yielded + 1);
        seen.add(task.id);
        if (previous)
          expect(
            previous.updated_at < task.updated_at ||
              (previous.updated_at === task.updated_at && previous.id < task.id),
          ).toBe(true);
        previous = task;
      }
      expect(yielded).toBe(total);
      expect(seen.size).toBe(total);
      expect(pages).toBe(total / limit);
      // The records fetched but not yet handed out never exceed one page: no read-ahead, no accumulation.
      expect(maxBuffered).toBeLessThanOrEqual(limit);
    });

    it('stops fetching when the caller stops iterating', async () => {
      emulator.controls.seed(
        'customers',
        Array.from({ length: 450 }, (_, index) => demoCustomer(index)),
      );
      const api = client();
      let count = 0;
      for await (const _customer of api.list('customers', { limit: 100 })) if (++count === 150) break;
      const gets = emulator.controls.requests().filter((entry) => entry.path === '/api/v1/customers');
      expect(gets).toHaveLength(2);
    });

    it('resumes from a saved cursor, and treats updated_since as inclusive', async () => {
      const api = client();
      const seeded = emulator.controls.seed(
        'customers',
        Array.from({ length: 7 }, (_, index) => ({
          ...demoCustomer(index),
          updated_at: `2026-02-0${index + 1}T00:00:00.000Z`,
        })),
      );
      const since = '2026-02-03T00:00:00.000Z';
      const first = await api.listPage('customers', { updatedSince: since, limit: 2 });
      expect(first.data.map((record) => record.id)).toEqual([seeded[2]!.id, seeded[3]!.id]);
      expect(first.next_cursor).not.toBeNull();
      const rest = [];
      for await (const page of api.listPages('customers', {
        updatedSince: since,
        limit: 2,
        cursor: first.next_cursor!,
      }))
        rest.push(...page.data.map((record) => record.id));
      expect(rest).toEqual(seeded.slice(4).map((record) => record.id));
      // A cursor is bound to its query.
      await expect(api.listPage('customers', { limit: 2, cursor: first.next_cursor! })).rejects.toMatchObject(
        {
          code: 'CUSTOMPMS_BAD_REQUEST',
        },
      );
    });

    it('sees every record at least once when records change while it pages', async () => {
      emulator.controls.seed(
        'customers',
        Array.from({ length: 300 }, (_, index) => demoCustomer(index)),
      );
      const seeded = emulator.controls.records('customers'); // in list order
      const api = client();
      const seen = new Map<string, number>();
      let edited = 0;
      for await (const customer of api.list('customers', { limit: 50 })) {
        seen.set(customer.id, (seen.get(customer.id) ?? 0) + 1);
        // A user edits one record already seen and one not yet seen, every 25 records.
        if (seen.size % 25 === 0 && edited < 10) {
          time.advance(1);
          emulator.controls.edit('customers', seeded[edited]!.id, { phone: `edit ${edited}` });
          emulator.controls.edit('customers', seeded[299 - edited]!.id, { phone: `edit ${edited}` });
          edited++;
        }
      }
      expect(seen.size).toBe(300);
      for (const record of seeded) expect(seen.has(record.id)).toBe(true);
      // Changed records move to the end of the order, so an edited one already seen comes again.
      expect(seen.get(seeded[0]!.id)).toBe(2);
    });

    it('pages tombstones with since', async () => {
      const seeded = emulator.controls.seed(
        'tasks',
        Array.from({ length: 250 }, (_, index) => demoTask('prj_x', index)),
      );
      for (const [index, task] of seeded.entries()) {
        if (index === 100) time.advance(60_000);
        emulator.controls.remove('tasks', task.id);
      }
      const api = client();
      const all = [];
      for await (const tombstone of api.listDeleted({ limit: 100 })) all.push(tombstone.id);
      expect(all).toHaveLength(250);
      expect(new Set(all)).toEqual(new Set(seeded.map((task) => task.id)));
      const later = emulator.controls.tombstones()[100]!.deleted_at;
      const recent = [];
      for await (const tombstone of api.listDeleted({ since: later, limit: 60 })) recent.push(tombstone);
      expect(recent).toHaveLength(150);
      expect(recent.every((tombstone) => tombstone.deleted_at >= later)).toBe(true);
    });
  });

  describe('retries', () => {
    it('waits out Retry-After on 503 and 429, then succeeds', async () => {
      const api = client();
      const customer = await api.create('customers', { name: 'Busy' });
      emulator.controls.setFaults({
        rules: [
          { route: 'GET /api/v1/customers/:id', status: 503, retryAfter: 7, times: 1 },
          { route: 'GET /api/v1/customers/:id', status: 429, retryAfter: 3, times: 2 },
        ],
      });
      await expect(api.get('customers', customer.id)).resolves.toEqual(customer);
      expect(time.sleeps).toEqual([7_000, 3_000, 3_000]);
      expect(emulator.controls.faultHits().map((hit) => hit.action)).toEqual([
        'status 503',
        'status 429',
        'status 429',
      ]);
    });

    it('reads Retry-After as an HTTP date too', async () => {
      const api = client();
      const customer = await api.create('customers', { name: 'Dated' });
      const at = new Date(time.now() + 12_000).toUTCString();
      emulator.controls.setFaults({
        rules: [{ route: 'GET /api/v1/customers/:id', status: 503, retryAfter: at, times: 1 }],
      });
      await api.get('customers', customer.id);
      // HTTP dates have whole seconds: the wait is up to 12 s, at least 11.
      expect(time.sleeps).toHaveLength(1);
      expect(time.sleeps[0]).toBeGreaterThan(11_000);
      expect(time.sleeps[0]).toBeLessThanOrEqual(12_000);
    });

    it('backs off exponentially with jitter on other 5xx and network errors', async () => {
      const api = client();
      const customer = await api.create('customers', { name: 'Flaky' });
      emulator.controls.setFaults({
        rules: [
          { route: 'GET /api/v1/customers/:id', status: 500, times: 1 },
          { route: 'GET /api/v1/customers/:id', status: 502, times: 1 },
          { route: 'GET /api/v1/customers/:id', action: 'reset', times: 1 },
          { route: 'GET /api/v1/customers/:id', status: 504, times: 1 },
        ],
      });
      await expect(api.get('customers', customer.id)).resolves.toEqual(customer);
      const policy = api.retryPolicy;
      expect(time.sleeps).toEqual([1, 2, 3, 4].map((retry) => backoffDelay(policy, retry, () => 0.5)));
      expect(time.sleeps).toEqual([125, 250, 500, 1000]);
    });

    it('rides out an outage window', async () => {
      const api = client();
      const customer = await api.create('customers', { name: 'Down' });
      emulator.controls.setFaults({ outage: { until: time.now() + 5_000 } });
      await expect(api.get('customers', customer.id)).resolves.toEqual(customer);
      expect(time.sleeps).toEqual([5_000]);
    });

    it('gives up after maxAttempts with a typed, retryable error', async () => {
      const api = client({ retry: { maxAttempts: 3 } });
      emulator.controls.setFaults({ rules: [{ route: 'GET /api/v1/tasks', status: 503, retryAfter: 1 }] });
      const error = (await api
        .listPage('tasks')
        .catch((caught: unknown) => caught)) as CustompmsUnavailableError;
      expect(error).toBeInstanceOf(CustompmsUnavailableError);
      expect(error).toMatchObject({
        code: 'CUSTOMPMS_UNAVAILABLE',
        retryable: true,
        attempts: 3,
        retryAfterMs: 1_000,
      });
      expect(emulator.controls.requests()).toHaveLength(3);
    });

    it('does not wait out a Retry-After longer than the policy allows', async () => {
      const api = client({ retry: { maxRetryAfterMs: 30_000 } });
      emulator.controls.setFaults({ rules: [{ route: 'GET /api/v1/tasks', status: 429, retryAfter: 3600 }] });
      const error = await rejection(api.listPage('tasks'));
      expect(error).toBeInstanceOf(CustompmsRateLimitedError);
      expect(error).toMatchObject({ retryAfterMs: 3_600_000, attempts: 1 });
      expect(time.sleeps).toEqual([]);
    });

    it('never retries a final answer (401, 404, 422)', async () => {
      const wrongToken = client({ token: 'wrong' });
      await expect(wrongToken.listPage('customers')).rejects.toBeInstanceOf(CustompmsUnauthorizedError);
      const api = client();
      await expect(api.get('customers', 'cus_missing')).rejects.toBeInstanceOf(CustompmsNotFoundError);
      await expect(
        api.create('tasks', { project_id: 'prj_missing', title: 'Orphan' }),
      ).rejects.toBeInstanceOf(CustompmsValidationError);
      expect(emulator.controls.requests()).toHaveLength(3);
      expect(time.sleeps).toEqual([]);
    });

    it('with retries disabled, a 500 surfaces at once as a server error', async () => {
      const api = client({ retry: { maxAttempts: 1 } });
      emulator.controls.setFaults({ rules: [{ route: 'GET /api/v1/customers', status: 500 }] });
      await expect(api.listPage('customers')).rejects.toBeInstanceOf(CustompmsServerError);
      expect(emulator.controls.requests()).toHaveLength(1);
    });
  });

  it('reports validation failures member by member', async () => {
    const api = client();
    const { projectId } = parents();
    const error = (await api
      .create('tasks', {
        project_id: projectId,
        title: '',
        status: 'finished' as never,
        estimated_hours: 'ten' as never,
      })
      .catch((caught: unknown) => caught)) as CustompmsValidationError;
    expect(error).toBeInstanceOf(CustompmsValidationError);
    expect(error.code).toBe('CUSTOMPMS_VALIDATION_FAILED');
    expect(error.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/title', detail: 'must not be empty' },
        { pointer: '/status', detail: 'must be one of todo, in_progress, blocked, done, or null' },
        { pointer: '/estimated_hours', detail: 'must be number or null' },
      ]),
    );
    const orphan = (await api
      .create('projects', { customer_id: 'cus_nobody', name: 'Orphan' })
      .catch((caught: unknown) => caught)) as CustompmsValidationError;
    expect(orphan.errors).toEqual([{ pointer: '/customer_id', detail: 'no customer with id cus_nobody' }]);
    expect(emulator.controls.records('tasks')).toEqual([]);
  });

  it('times out a slow answer per request, and retries it', async () => {
    const api = client({ timeoutMs: 100 });
    const customer = await api.create('customers', { name: 'Slow' });
    emulator.controls.setFaults({
      rules: [{ route: 'GET /api/v1/customers/:id', action: 'delay', delayMs: 400, times: 1 }],
    });
    await expect(api.get('customers', customer.id)).resolves.toEqual(customer);
    expect(time.sleeps).toHaveLength(1);

    const impatient = client({ timeoutMs: 100, retry: { maxAttempts: 1 } });
    emulator.controls.setFaults({
      rules: [{ route: 'GET /api/v1/customers/:id', action: 'delay', delayMs: 400, times: 1 }],
    });
    const error = await rejection(impatient.get('customers', customer.id));
    expect(error).toBeInstanceOf(CustompmsTimeoutError);
    expect(error).toMatchObject({ code: 'CUSTOMPMS_TIMEOUT', timeoutMs: 100, retryable: true });
  });

  it('bounds the requests in flight', async () => {
    const tracking = concurrencyTrackingFetch();
    const api = client({ maxConcurrency: 3, fetch: contractCheckingFetch(violations, tracking.fetch) });
    const customers = emulator.controls.seed(
      'customers',
      Array.from({ length: 12 }, (_, index) => demoCustomer(index)),
    );
    emulator.controls.setFaults({ latencyMs: 40 });
    emulator.controls.resetPeakConcurrency();
    const results = await Promise.all(customers.map((customer) => api.get('customers', customer.id)));
    expect(results.map((result) => result.id)).toEqual(customers.map((customer) => customer.id));
    expect(tracking.peak()).toBe(3);
    expect(emulator.controls.peakConcurrency()).toBe(3);
  });

  it('aborts a call waiting out its backoff', async () => {
    const controller = new AbortController();
    const api = client({
      sleep: (ms, signal) => {
        controller.abort(new Error('shutting down'));
        return time.sleep(ms, signal);
      },
    });
    emulator.controls.setFaults({ rules: [{ route: 'GET /api/v1/customers', status: 503 }] });
    const error = await rejection(api.listPage('customers', { signal: controller.signal }));
    expect(error).toBeInstanceOf(CustompmsAbortedError);
    expect(error).toMatchObject({ code: 'CUSTOMPMS_ABORTED' });
    expect(emulator.controls.requests()).toHaveLength(1);
  });

  it('reports a refused connection as a network error after its retries', async () => {
    const api = new CustompmsClient({
      baseUrl: `http://127.0.0.1:${await closedPort()}`,
      token: TOKEN,
      sleep: time.sleep,
      retry: { maxAttempts: 2 },
    });
    const error = await rejection(api.listPage('customers'));
    expect(error).toBeInstanceOf(CustompmsNetworkError);
    expect(error).toMatchObject({
      code: 'CUSTOMPMS_NETWORK_ERROR',
      attempts: 2,
      retryable: true,
      message: expect.stringMatching(/ECONNREFUSED/),
    });
  });
});

describe('error classes', () => {
  it('every exported error class has a distinct stable code, all listed in CUSTOMPMS_ERROR_CODES', () => {
    const classes = (Object.values(errorsModule) as unknown[]).filter(
      (value): value is new (...args: unknown[]) => CustompmsError =>
        typeof value === 'function' && value.prototype instanceof CustompmsError,
    );
    expect(classes.length).toBe(CUSTOMPMS_ERROR_CODES.length);
    const request = { method: 'GET', path: '/x' };
    const current = { id: 'c', version: 2, created_at: 'x', updated_at: 'x', name: 'n' };
    const codes = classes.map((Class) => {
      const instance = new Class(request, 418, undefined, 1, current);
      expect(instance.name).toBe(Class.name);
      return instance.code;
    });
    expect([...codes].sort()).toEqual([...CUSTOMPMS_ERROR_CODES].sort());
  });
});
