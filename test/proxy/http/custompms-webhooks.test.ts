/**
 * The webhook route in the real app (helmet, request logging, problem handler) against a real
 * database: verified events land in the inbox once; every refusal is a clear problem+json and
 * leaves the inbox empty.
 */
import express, { Router } from 'express';
import type pg from 'pg';
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { signWebhookPayload } from '../../../proxy/src/custompms/webhook-signature';
import { custompmsWebhookRouter } from '../../../proxy/src/http/custompms-webhooks';
import { listInboxMessages } from '../../../proxy/src/store/inbox';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

const config = loadConfig({});
const PATH = '/custompms/v1/webhooks';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const T = NOW / 1000;
const SECRET = 'whsec_route_test_secret_1';
const OLD = 'whsec_route_test_secret_0';

function event(id = 'evt_route_1', type = 'project.updated') {
  return { id, type, occurred_at: '2026-03-01T11:59:00.000Z', data: { id: 'prj_1', version: 3 } };
}

describe('POST /custompms/v1/webhooks', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.pool.query('DELETE FROM inbox_messages');
  });

  function app(
    options: { secrets?: string[]; pool?: pg.Pool; maxBodyBytes?: number; before?: Router[] } = {},
  ) {
    const logs = captureLogs();
    const router = custompmsWebhookRouter({
      pool: options.pool ?? db.pool,
      secrets: options.secrets ?? [SECRET, OLD],
      now: () => NOW,
      maxBodyBytes: options.maxBodyBytes ?? 4096,
    });
    return {
      logs,
      app: createApp({
        config,
        logger: logs.logger,
        pool: db.pool,
        routers: [...(options.before ?? []), router],
      }),
    };
  }

  function post(target: ReturnType<typeof app>['app'], body: string | Buffer, header?: string) {
    const req = request(target).post(PATH).set('content-type', 'application/json');
    if (header !== undefined) req.set('Custompms-Signature', header);
    return req.send(body);
  }

  async function inbox() {
    return listInboxMessages(db.pool, 'custompms.webhook');
  }

  it('stores a verified event and answers 202; a duplicate is 202 and stored once', async () => {
    const { app: target } = app();
    const body = JSON.stringify(event());
    const header = signWebhookPayload(body, SECRET, { timestamp: T });
    const first = await post(target, body, header).expect(202);
    expect(first.body).toEqual({ status: 'accepted', id: 'evt_route_1', duplicate: false });
    // Custompms retries with a fresh signature: same event id.
    const again = await post(target, body, signWebhookPayload(body, SECRET, { timestamp: T + 10 })).expect(
      202,
    );
    expect(again.body).toEqual({ status: 'accepted', id: 'evt_route_1', duplicate: true });
    const rows = await inbox();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      source: 'custompms.webhook',
      dedupeKey: 'evt_route_1',
      payload: event(),
    });
  });

  it('accepts a delivery signed with the previous secret during rotation', async () => {
    const { app: target } = app();
    const body = JSON.stringify(event('evt_rotated'));
    await post(target, body, signWebhookPayload(body, OLD, { timestamp: T })).expect(202);
    expect((await inbox()).map((row) => row.dedupeKey)).toEqual(['evt_rotated']);
  });

  it('verifies the exact bytes, whatever the content type says', async () => {
    const { app: target } = app();
    // Unusual whitespace and key order: a re-serialisation would differ, the raw bytes do not.
    const body = `{ "data": {"version":3, "id":"prj_1"},\n "id":"evt_bytes", "type":"task.created", "occurred_at":"2026-03-01T11:59:00Z" }`;
    await request(target)
      .post(PATH)
      .set('content-type', 'text/plain')
      .set('Custompms-Signature', signWebhookPayload(body, SECRET, { timestamp: T }))
      .send(body)
      .expect(202);
    expect(await inbox()).toHaveLength(1);
  });

  describe('refusals: problem+json, nothing stored', () => {
    const body = JSON.stringify(event('evt_refused'));
    const cases: [string, number, string, () => string | undefined, string | Buffer][] = [
      ['missing header', 401, 'WEBHOOK_SIGNATURE_MISSING', () => undefined, body],
      ['malformed header', 400, 'WEBHOOK_SIGNATURE_MALFORMED', () => 'v1=nonsense', body],
      [
        'bad signature',
        401,
        'WEBHOOK_SIGNATURE_MISMATCH',
        () => signWebhookPayload(body, 'whsec_not_ours_at_all', { timestamp: T }),
        body,
      ],
      [
        'tampered body',
        401,
        'WEBHOOK_SIGNATURE_MISMATCH',
        () => signWebhookPayload(body, SECRET, { timestamp: T }),
        body.replace('"version":3', '"version":4'),
      ],
      [
        'stale timestamp',
        401,
        'WEBHOOK_TIMESTAMP_STALE',
        () => signWebhookPayload(body, SECRET, { timestamp: T - 301 }),
        body,
      ],
      [
        'future timestamp',
        401,
        'WEBHOOK_TIMESTAMP_FUTURE',
        () => signWebhookPayload(body, SECRET, { timestamp: T + 301 }),
        body,
      ],
      [
        'non-JSON body',
        400,
        'WEBHOOK_PAYLOAD_INVALID',
        () => signWebhookPayload('event=1', SECRET, { timestamp: T }),
        'event=1',
      ],
      [
        'JSON that is not an event',
        400,
        'WEBHOOK_PAYLOAD_INVALID',
        () => signWebhookPayload('{"id":"evt_x"}', SECRET, { timestamp: T }),
        '{"id":"evt_x"}',
      ],
      [
        'oversized body',
        413,
        'WEBHOOK_BODY_TOO_LARGE',
        () => signWebhookPayload('x'.repeat(5000), SECRET, { timestamp: T }),
        JSON.stringify({ ...event(), pad: 'x'.repeat(5000) }),
      ],
    ];

    it.each(cases)('%s → %i %s', async (_name, status, code, header, sent) => {
      const { app: target, logs } = app();
      const res = await post(target, sent, header()).expect(status);
      expect(res.type).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status, code, title: expect.any(String), detail: expect.any(String) });
      expect(await inbox()).toEqual([]);
      // Refusals are logged with their code, never with the signature.
      const line = logs.lines().find((entry) => entry.code === code);
      expect(line).toBeDefined();
      expect(logs.text()).not.toContain(SECRET);
    });
  });

  it('with no secret configured, refuses everything (503), even a well-signed delivery', async () => {
    const { app: target } = app({ secrets: [] });
    const body = JSON.stringify(event('evt_unconfigured'));
    const res = await post(target, body, signWebhookPayload(body, SECRET, { timestamp: T })).expect(503);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ code: 'WEBHOOK_NO_SECRETS', detail: expect.stringMatching(/secret/) });
    expect(res.headers['retry-after']).toBeDefined();
    await post(target, body).expect(503);
    expect(await inbox()).toEqual([]);
  });

  it('refuses (500, nothing stored) when a JSON parser ran before the route', async () => {
    const parsedFirst = Router();
    parsedFirst.use(express.json());
    const { app: target } = app({ before: [parsedFirst] });
    const body = JSON.stringify(event('evt_parsed'));
    const res = await post(target, body, signWebhookPayload(body, SECRET, { timestamp: T })).expect(500);
    expect(res.body).toMatchObject({ code: 'WEBHOOK_BODY_NOT_RAW' });
    expect(await inbox()).toEqual([]);
  });

  it('answers 503 (so Custompms retries) when the event cannot be stored', async () => {
    const broken = await createTestDatabase(); // no migrations: the inbox table is missing
    try {
      const { app: target } = app({ pool: broken.pool });
      const body = JSON.stringify(event('evt_db_down'));
      const res = await post(target, body, signWebhookPayload(body, SECRET, { timestamp: T })).expect(503);
      expect(res.type).toBe('application/problem+json');
      expect(res.body).toMatchObject({ code: 'WEBHOOK_STORE_UNAVAILABLE' });
      expect(res.headers['retry-after']).toBe('30');
    } finally {
      await broken.drop();
    }
    expect(await inbox()).toEqual([]);
  });

  it('leaves other routes alone (no raw parser outside the webhook path)', async () => {
    const { app: target } = app();
    await request(target).post('/custompms/v1/other').send('{}').expect(404);
    await request(target).get(PATH).expect(404);
  });
});
