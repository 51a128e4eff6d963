/**
 * Wire cases the reference server never produces (a real Custompms might): malformed answers, a
 * cursor that never ends, a 409 without the current record, a keyed POST still in progress. Plus
 * the semaphore and the construction rules.
 */
import {
  createCustompmsClient,
  CustompmsClient,
  CustompmsConfigError,
  CustompmsConflictError,
  CustompmsIdempotencyKeyInUseError,
  CustompmsInvalidResponseError,
  Semaphore,
} from '../../../proxy/src/custompms';
import { loadConfig } from '../../../proxy/src/config';
import { fakeTime, jsonResponse, scriptedFetch } from './support';

const record = {
  id: 'cus_1',
  version: 4,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-02T00:00:00.000Z',
  name: 'Acme',
};

function clientWith(fetch: typeof globalThis.fetch) {
  const time = fakeTime();
  return {
    time,
    client: new CustompmsClient({
      baseUrl: 'https://pms.example.com/base/',
      token: 'tok_123456',
      fetch,
      sleep: time.sleep,
      now: time.now,
    }),
  };
}

describe('CustompmsClient on unusual answers', () => {
  it('sends bearer auth, JSON, If-Match and Idempotency-Key, under the base path', async () => {
    const fetch = scriptedFetch([
      () => jsonResponse(201, record),
      () => jsonResponse(200, { ...record, version: 5 }),
    ]);
    const { client } = clientWith(fetch);
    await client.create('customers', { name: 'Acme' }, { idempotencyKey: 'key-1' });
    await client.update('customers', 'cus/1', { name: 'Acme 2' }, { ifMatch: 4 });
    const [create, update] = fetch.calls;
    expect(create!.url).toBe('https://pms.example.com/base/api/v1/customers');
    expect(create!.init).toMatchObject({
      method: 'POST',
      body: '{"name":"Acme"}',
      headers: expect.objectContaining({
        authorization: 'Bearer tok_123456',
        'content-type': 'application/json',
        'idempotency-key': 'key-1',
      }),
    });
    expect(update!.url).toBe('https://pms.example.com/base/api/v1/customers/cus%2F1');
    expect(update!.init).toMatchObject({
      method: 'PATCH',
      headers: expect.objectContaining({ 'if-match': '4' }),
    });
  });

  it('rejects a 2xx that breaks the contract, without retrying', async () => {
    const fetch = scriptedFetch([
      () => jsonResponse(200, { ...record, version: 'four' }),
      () => new Response('<html>', { status: 200 }),
    ]);
    const { client } = clientWith(fetch);
    await expect(client.get('customers', 'cus_1')).rejects.toThrow(/version/);
    await expect(client.get('customers', 'cus_1')).rejects.toBeInstanceOf(CustompmsInvalidResponseError);
    expect(fetch.calls).toHaveLength(2);
  });

  it('stops a list whose cursor never advances', async () => {
    const fetch = scriptedFetch([
      () => jsonResponse(200, { data: [record], next_cursor: 'c1' }),
      () => jsonResponse(200, { data: [record], next_cursor: 'c1' }),
    ]);
    const { client } = clientWith(fetch);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const customer of client.list('customers')) seen.push(customer.id);
      })(),
    ).rejects.toThrow(/never end/);
    expect(seen).toEqual(['cus_1', 'cus_1']);
  });

  it('fetches the current record when a 409 does not carry it', async () => {
    const fetch = scriptedFetch([
      () => jsonResponse(409, { type: 'about:blank', title: 'Conflict', status: 409 }),
      () => jsonResponse(200, { ...record, version: 6, name: 'Theirs' }),
    ]);
    const { client } = clientWith(fetch);
    const error = (await client
      .update('customers', 'cus_1', { name: 'Ours' }, { ifMatch: 4 })
      .catch((caught: unknown) => caught)) as CustompmsConflictError;
    expect(error).toBeInstanceOf(CustompmsConflictError);
    expect(error.current).toMatchObject({ version: 6, name: 'Theirs' });
    expect(fetch.calls.map((call) => call.init?.method)).toEqual(['PATCH', 'GET']);
  });

  it('does not mistake a genuine conflict after a retry for its own write', async () => {
    const fetch = scriptedFetch([
      () => jsonResponse(503, { title: 'Down', status: 503 }, { 'retry-after': '0' }),
      () =>
        jsonResponse(409, {
          title: 'Conflict',
          status: 409,
          current: { ...record, version: 5, name: 'Theirs' },
        }),
    ]);
    const { client } = clientWith(fetch);
    await expect(
      client.update('customers', 'cus_1', { name: 'Ours' }, { ifMatch: 4 }),
    ).rejects.toBeInstanceOf(CustompmsConflictError);
  });

  it('waits for a keyed POST still in progress (409), then takes the stored result', async () => {
    const fetch = scriptedFetch([
      () => jsonResponse(409, { title: 'Idempotency-Key In Use', status: 409 }),
      () => jsonResponse(201, record),
    ]);
    const { client, time } = clientWith(fetch);
    await expect(client.create('customers', { name: 'Acme' }, { idempotencyKey: 'k' })).resolves.toEqual(
      record,
    );
    expect(time.sleeps).toHaveLength(1);

    const stuck = scriptedFetch(
      Array.from({ length: 5 }, () => () => jsonResponse(409, { title: 'In Use', status: 409 })),
    );
    const second = clientWith(stuck).client;
    await expect(
      second.create('customers', { name: 'Acme' }, { idempotencyKey: 'k' }),
    ).rejects.toBeInstanceOf(CustompmsIdempotencyKeyInUseError);
    expect(stuck.calls).toHaveLength(5);
  });

  it('tolerates a non-JSON error body', async () => {
    const fetch = scriptedFetch([() => new Response('Bad Gateway', { status: 404 })]);
    const { client } = clientWith(fetch);
    await expect(client.get('customers', 'x')).rejects.toMatchObject({
      code: 'CUSTOMPMS_NOT_FOUND',
      problem: undefined,
    });
  });
});

describe('construction', () => {
  it('refuses a missing base URL or token, bad limits and unknown collections', async () => {
    expect(() => new CustompmsClient({ baseUrl: '', token: 't' })).toThrow(CustompmsConfigError);
    expect(() => new CustompmsClient({ baseUrl: 'https://x', token: '' })).toThrow(CustompmsConfigError);
    expect(() => new CustompmsClient({ baseUrl: 'ftp://x', token: 't' })).toThrow(CustompmsConfigError);
    expect(() => new CustompmsClient({ baseUrl: 'https://x', token: 't', pageSize: 501 })).toThrow(
      RangeError,
    );
    const client = new CustompmsClient({ baseUrl: 'https://x', token: 't' });
    await expect(client.list('widgets' as never).next()).rejects.toThrow(/Unknown Custompms resource type/);
  });

  it('builds from the proxy configuration', () => {
    const config = loadConfig({
      CUSTOMPMS_BASE_URL: 'https://pms.acme.com',
      CUSTOMPMS_API_TOKEN: 'cpms_12345678',
      CUSTOMPMS_TIMEOUT_MS: '5000',
      CUSTOMPMS_MAX_CONCURRENCY: '2',
    });
    const client = createCustompmsClient(config.custompms);
    expect(client).toBeInstanceOf(CustompmsClient);
    expect(() => createCustompmsClient(loadConfig({}).custompms)).toThrow(/CUSTOMPMS_BASE_URL/);
  });
});

describe('Semaphore', () => {
  it('admits at most `limit`, serves waiters in order, and lets a waiter give up', async () => {
    const semaphore = new Semaphore(2);
    const order: string[] = [];
    const a = await semaphore.acquire();
    const b = await semaphore.acquire();
    const controller = new AbortController();
    const c = semaphore.acquire().then((release) => {
      order.push('c');
      return release;
    });
    const d = semaphore.acquire(controller.signal);
    const e = semaphore.acquire().then((release) => {
      order.push('e');
      return release;
    });
    expect(semaphore.waiting).toBe(3);
    controller.abort(new Error('gone'));
    await expect(d).rejects.toThrow('gone');
    a();
    a(); // a second release of the same slot is ignored
    (await c)();
    b();
    (await e)();
    expect(order).toEqual(['c', 'e']);
    expect(semaphore.active).toBe(0);
    expect(semaphore.waiting).toBe(0);
  });
});
