/**
 * The reference server on its own: the contract's edges over raw HTTP (each answer checked
 * against the document), its webhooks (signed, retried, lost, duplicated), and fault switches.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { verifyWebhook } from '../../../proxy/src/custompms/webhook-signature';
import type { WebhookEvent } from '../../../proxy/src/custompms/types';
import { demoCustomer } from '../../emulators/custompms/fixtures';
import { type CustompmsEmulator, startCustompmsEmulator } from '../../emulators/custompms/server';
import { checkAgainstContract } from './support';

const TOKEN = 'emulator-test-token';

/** A webhook receiver that verifies like the proxy and can be told to fail. */
async function startReceiver(secrets: string[]) {
  const received: { event: WebhookEvent; header: string }[] = [];
  const refused: string[] = [];
  let failNext = 0;
  const app = express();
  app.post('/hook', express.raw({ type: () => true }), (req, res) => {
    if (failNext > 0) {
      failNext--;
      res.status(500).end();
      return;
    }
    try {
      const header = req.get('custompms-signature')!;
      const event = verifyWebhook({ rawBody: req.body, signatureHeader: header, secrets });
      received.push({ event, header });
      res.status(202).end();
    } catch (error) {
      refused.push((error as { code: string }).code);
      res.status(401).end();
    }
  });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    refused,
    failTimes(count: number) {
      failNext = count;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('reference server: the contract over raw HTTP', () => {
  let emulator: CustompmsEmulator;
  const violations: string[] = [];

  beforeAll(async () => {
    emulator = await startCustompmsEmulator({ token: TOKEN });
  });
  afterAll(async () => {
    await emulator.stop();
  });
  beforeEach(() => {
    violations.length = 0;
    emulator.controls.reset();
    emulator.controls.clearFaults();
  });
  afterEach(() => {
    expect(violations).toEqual([]);
  });

  async function call(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const url = `${emulator.url}${path}`;
    const response = await fetch(url, { method, headers, body });
    violations.push(...(await checkAgainstContract(method, url, response)));
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  }

  it('answers records with ETag, and a create with Location', async () => {
    const created = await call('POST', '/api/v1/customers', { body: { name: 'Acme' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe(`/api/v1/customers/${String(created.body!.id)}`);
    const fetched = await call('GET', created.headers.get('location')!);
    expect(fetched.body).toEqual(created.body);
  });

  it('requires If-Match on PATCH (428), and reads it as a number or an entity tag', async () => {
    const created = await call('POST', '/api/v1/customers', { body: { name: 'Acme' } });
    const path = `/api/v1/customers/${String(created.body!.id)}`;
    const missing = await call('PATCH', path, { body: { name: 'X' } });
    expect(missing.status).toBe(428);
    expect(missing.body).toMatchObject({ title: 'Precondition Required', status: 428 });
    expect(
      (await call('PATCH', path, { body: { name: 'X' }, headers: { 'if-match': 'latest' } })).status,
    ).toBe(400);
    expect(
      (await call('PATCH', path, { body: { name: 'Y' }, headers: { 'if-match': '"1"' } })).body,
    ).toMatchObject({
      version: 2,
      name: 'Y',
    });
    const stale = await call('PATCH', path, { body: { name: 'Z' }, headers: { 'if-match': 'W/"1"' } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ current: { version: 2, name: 'Y' } });
  });

  it('does not count a PATCH that changes nothing as a change', async () => {
    const created = await call('POST', '/api/v1/customers', { body: { name: 'Same' } });
    const path = `/api/v1/customers/${String(created.body!.id)}`;
    const events = emulator.controls.events().length;
    const same = await call('PATCH', path, {
      body: { name: 'Same', email: null },
      headers: { 'if-match': '1' },
    });
    expect(same.body).toEqual(created.body);
    expect(emulator.controls.events()).toHaveLength(events);
  });

  it('refuses bodies that are not JSON (415) or break the schema (422, member by member)', async () => {
    expect(
      (
        await call('POST', '/api/v1/customers', {
          body: 'name=Acme',
          headers: { 'content-type': 'text/plain' },
        })
      ).status,
    ).toBe(415);
    expect((await call('POST', '/api/v1/customers', { body: '{"name":', headers: {} })).status).toBe(400);
    const invalid = await call('POST', '/api/v1/projects', {
      body: { name: 'P', status: 'paused', due_date: '2026-02-30', id: 'prj_mine' },
    });
    expect(invalid.status).toBe(422);
    expect(invalid.body!.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/customer_id', detail: 'is required' },
        {
          pointer: '/status',
          detail: 'must be one of planned, active, on_hold, completed, cancelled, or null',
        },
        { pointer: '/due_date', detail: 'must be a valid date' },
        { pointer: '/id', detail: 'is not a field of this resource' },
      ]),
    );
  });

  it('remembers idempotency keys per path: replay, reuse with another body (422), other path independent', async () => {
    const first = await call('POST', '/api/v1/customers', {
      body: { name: 'A' },
      headers: { 'idempotency-key': 'k1' },
    });
    const replay = await call('POST', '/api/v1/customers', {
      body: { name: 'A' },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const reused = await call('POST', '/api/v1/customers', {
      body: { name: 'B' },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(reused.status).toBe(422);
    expect(reused.body!.type).toMatch(/idempotency-key-reused$/);
    expect(emulator.controls.records('customers')).toHaveLength(1);
    // A failed request is not remembered: fixing it and retrying with the same key works.
    const orphan = await call('POST', '/api/v1/projects', {
      body: { customer_id: 'cus_later', name: 'P' },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(orphan.status).toBe(422);
    emulator.controls.seed('customers', [{ id: 'cus_later', name: 'Later' }]);
    const fixed = await call('POST', '/api/v1/projects', {
      body: { customer_id: 'cus_later', name: 'P' },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(fixed.status).toBe(201);
    expect(
      (
        await call('POST', '/api/v1/customers', {
          body: { name: 'A' },
          headers: { 'idempotency-key': 'x'.repeat(256) },
        })
      ).status,
    ).toBe(400);
  });

  it('validates list parameters and binds cursors to their query', async () => {
    emulator.controls.seed(
      'customers',
      Array.from({ length: 5 }, (_, index) => demoCustomer(index)),
    );
    for (const query of [
      'limit=0',
      'limit=501',
      'limit=ten',
      'updated_since=yesterday',
      'cursor=bm9wZQ',
      'limit=1&limit=2',
    ])
      expect([query, (await call('GET', `/api/v1/customers?${query}`)).status]).toEqual([query, 400]);
    const page = await call('GET', '/api/v1/customers?limit=2');
    const cursor = String(page.body!.next_cursor);
    expect((await call('GET', `/api/v1/projects?limit=2&cursor=${cursor}`)).status).toBe(400);
    expect(
      (await call('GET', `/api/v1/customers?limit=2&updated_since=2020-01-01T00:00:00Z&cursor=${cursor}`))
        .status,
    ).toBe(400);
    expect((await call('GET', `/api/v1/customers?limit=4&cursor=${cursor}`)).body!.data).toHaveLength(3);
    // Not an operation of the document, so asked without the contract check.
    const unknown = await fetch(`${emulator.url}/api/v1/widgets`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('refuses a missing or wrong token with 401 and WWW-Authenticate', async () => {
    const response = await fetch(`${emulator.url}/api/v1/customers`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    violations.push(...(await checkAgainstContract('GET', response.url, response)));
  });

  it('injects faults per route at a rate, reproducibly with a seed', async () => {
    const run = async () => {
      emulator.controls.setFaults({
        seed: 42,
        rules: [{ route: 'GET /api/v1/tasks', status: 500, rate: 0.3 }],
      });
      const statuses: number[] = [];
      for (let index = 0; index < 40; index++) statuses.push((await call('GET', '/api/v1/tasks')).status);
      // Other routes are untouched.
      expect((await call('GET', '/api/v1/customers')).status).toBe(200);
      expect((await call('POST', '/api/v1/customers', { body: { name: 'Unaffected' } })).status).toBe(201);
      return statuses;
    };
    const first = await run();
    const failures = first.filter((status) => status === 500).length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(25);
    expect(await run()).toEqual(first);
  });

  it('adds latency', async () => {
    emulator.controls.setFaults({ latencyMs: 150 });
    const started = performance.now();
    await call('GET', '/api/v1/tasks');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('reference server: webhooks', () => {
  const SECRET = 'whsec_emulator_test_1';
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let emulator: CustompmsEmulator;

  beforeEach(async () => {
    receiver = await startReceiver([SECRET]);
    emulator = await startCustompmsEmulator({
      token: TOKEN,
      webhook: { url: receiver.url, secret: SECRET, baseDelayMs: 5, maxAttempts: 4 },
    });
  });
  afterEach(async () => {
    await emulator.stop();
    await receiver.close();
  });

  it('sends a signed event for every create, change and delete, with the version after it', async () => {
    const customer = emulator.controls.create('customers', { name: 'Hooked' });
    emulator.controls.edit('customers', customer.id, { name: 'Hooked 2' });
    emulator.controls.edit('customers', customer.id, { name: 'Hooked 2' }); // no change, no event
    emulator.controls.remove('customers', customer.id);
    await emulator.controls.flushWebhooks();
    const events = receiver.received
      .map((entry) => entry.event)
      .sort((a, b) => a.data.version - b.data.version || a.type.localeCompare(b.type));
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ['customer.created', { id: customer.id, version: 1 }],
      ['customer.deleted', { id: customer.id, version: 2 }],
      ['customer.updated', { id: customer.id, version: 2 }],
    ]);
    expect(new Set(events.map((event) => event.id)).size).toBe(3);
    expect(receiver.refused).toEqual([]);
  });

  it('also sends events for changes made through the API', async () => {
    const response = await fetch(`${emulator.url}/api/v1/customers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Via API' }),
    });
    const created = (await response.json()) as { id: string };
    await emulator.controls.flushWebhooks();
    expect(receiver.received.map((entry) => [entry.event.type, entry.event.data.id])).toEqual([
      ['customer.created', created.id],
    ]);
  });

  it('signs with every secret while rotating', async () => {
    emulator.controls.setWebhook({ url: receiver.url, secrets: ['whsec_next_2', SECRET] });
    emulator.controls.create('customers', { name: 'Rotating' });
    await emulator.controls.flushWebhooks();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.header.match(/v1=/g)).toHaveLength(2);
  });

  it('retries a failed delivery with backoff until it is accepted', async () => {
    receiver.failTimes(2);
    const customer = emulator.controls.create('customers', { name: 'Retried' });
    await emulator.controls.flushWebhooks();
    const event = emulator.controls.events()[0]!;
    expect(emulator.controls.deliveries().map((attempt) => [attempt.attempt, attempt.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 202],
    ]);
    expect(emulator.controls.deliveryOutcomes(event.id)).toEqual(['delivered']);
    expect(receiver.received.map((entry) => entry.event.data.id)).toEqual([customer.id]);
  });

  it('gives up after maxAttempts and records the failure', async () => {
    receiver.failTimes(10);
    emulator.controls.create('customers', { name: 'Never' });
    await emulator.controls.flushWebhooks();
    const event = emulator.controls.events()[0]!;
    expect(emulator.controls.deliveries()).toHaveLength(4);
    expect(emulator.controls.deliveryOutcomes(event.id)).toEqual(['failed']);
  });

  it('loses or duplicates deliveries on request', async () => {
    emulator.controls.setFaults({ webhooks: { lossRate: 1 } });
    emulator.controls.create('customers', { name: 'Lost' });
    await emulator.controls.flushWebhooks();
    expect(receiver.received).toEqual([]);
    expect(emulator.controls.deliveryOutcomes(emulator.controls.events()[0]!.id)).toEqual(['lost']);

    emulator.controls.setFaults({ webhooks: { duplicateRate: 1, latencyMs: [5, 20] } });
    emulator.controls.create('customers', { name: 'Twice' });
    await emulator.controls.flushWebhooks();
    const twice = emulator.controls.events()[1]!;
    expect(receiver.received.map((entry) => entry.event.id)).toEqual([twice.id, twice.id]);
  });
});
