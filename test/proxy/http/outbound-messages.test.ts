import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import {
  clampFutureStamps,
  FUTURE_STAMP_TOLERANCE_MS,
  outboundMessageRouter,
} from '../../../proxy/src/http/outbound-messages';
import { ACK_TRUE } from '../../../proxy/src/salesforce/outbound-message';
import { MAX_OUTBOUND_BODY_BYTES } from '../../../proxy/src/http/outbound-messages';
import { createPool } from '../../../proxy/src/store/database';
import { listInboxMessages } from '../../../proxy/src/store/inbox';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';
import { outboundEnvelope } from '../../support/outbound-envelope';

const ORG = '00D5g000004ABCDEAA';
const TOKEN = 'obm_token_0123456789abcdef0123';
const PATH = `/salesforce/v1/outbound-messages/${TOKEN}`;

function task(id: string, subject: string) {
  return {
    Id: id,
    Custompms_Id__c: null,
    Custompms_Type__c: 'Task',
    Subject: subject,
    SystemModstamp: '2026-11-25T10:00:00.000Z',
  };
}

describe('outbound message receiver', () => {
  let db: TestDatabase;
  let app: Express;
  const logs = captureLogs();

  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
    app = createApp({
      config: loadConfig({}),
      logger: logs.logger,
      pool: db.pool,
      routers: [outboundMessageRouter({ pool: db.pool, token: TOKEN, organizationId: ORG })],
    });
  });
  afterEach(async () => {
    await db.drop();
  });

  const post = (body: string, path = PATH) =>
    request(app).post(path).set('content-type', 'text/xml; charset=utf-8').send(body);

  it('stores every notification, then answers the exact Ack', async () => {
    const envelope = outboundEnvelope({
      organizationId: ORG,
      notifications: [
        { id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'Write spec') },
        { id: '04l000000000002AAA', fields: task('00T000000000002AAA', 'Review & ship <now>') },
      ],
    });
    const res = await post(envelope).expect(200);
    expect(res.type).toBe('text/xml');
    expect(res.text).toBe(ACK_TRUE);
    const stored = await listInboxMessages(db.pool, 'salesforce.outbound');
    expect(stored.map((message) => message.dedupeKey)).toEqual(['04l000000000001AAA', '04l000000000002AAA']);
    expect(stored[1]!.payload).toMatchObject({
      organizationId: ORG,
      sObjectType: 'Task',
      sObject: { Id: '00T000000000002AAA', Subject: 'Review & ship <now>', Custompms_Id__c: null },
    });
  });

  it('accepts 100 notifications of maximum-length text, non-ASCII and escaped (the body limit is in bytes)', async () => {
    // 32,000 characters of "é&" (UTF-8 two bytes, and five as &amp;) in each Description.
    const description = 'é&'.repeat(16_000);
    const notifications = Array.from({ length: 100 }, (_, index) => ({
      id: `04l${String(index).padStart(15, '0')}`,
      fields: { ...task(`00T${String(index).padStart(15, '0')}`, 'ü'.repeat(255)), Description: description },
    }));
    const envelope = outboundEnvelope({ organizationId: ORG, notifications });
    expect(Buffer.byteLength(envelope)).toBeGreaterThan(5 * 1024 * 1024);
    await post(envelope).expect(200);
    expect(await listInboxMessages(db.pool, 'salesforce.outbound')).toHaveLength(100);
  });

  it('acknowledges a redelivery without storing it twice', async () => {
    const envelope = outboundEnvelope({
      organizationId: ORG,
      notifications: [{ id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'Once') }],
    });
    await post(envelope).expect(200);
    await post(envelope).expect(200, ACK_TRUE);
    expect(await listInboxMessages(db.pool)).toHaveLength(1);
  });

  it('accepts the 15-character form of the configured org id', async () => {
    const app15 = createApp({
      config: loadConfig({}),
      logger: logs.logger,
      pool: db.pool,
      routers: [outboundMessageRouter({ pool: db.pool, token: TOKEN, organizationId: ORG.slice(0, 15) })],
    });
    const envelope = outboundEnvelope({
      organizationId: ORG,
      notifications: [{ id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'x') }],
    });
    await request(app15).post(PATH).set('content-type', 'text/xml').send(envelope).expect(200);
  });

  describe('refuses hostile or wrong input with nothing stored', () => {
    afterEach(async () => {
      expect(await listInboxMessages(db.pool)).toHaveLength(0);
    });

    it('another org: 403 SOAP fault', async () => {
      const res = await post(
        outboundEnvelope({
          organizationId: '00D000000000OTHERAA',
          notifications: [{ id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'x') }],
        }),
      ).expect(403);
      expect(res.text).toContain('<faultcode>soapenv:Client</faultcode>');
    });

    it('a wrong path token: 401', async () => {
      await post(
        outboundEnvelope({ organizationId: ORG, notifications: [] }),
        PATH.replace(/.$/, 'X'),
      ).expect(401);
    });

    it('XXE: a DOCTYPE with an external entity', async () => {
      const xxe =
        '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
        outboundEnvelope({
          organizationId: ORG,
          notifications: [
            { id: '04l000000000001AAA', fields: { Id: '00T000000000001AAA', Subject: '&xxe;' } },
          ],
        }).replace('<?xml version="1.0" encoding="UTF-8"?>', '');
      const res = await post(xxe).expect(400);
      expect(res.text).not.toContain('root:');
    });

    it('billion laughs', async () => {
      const lol =
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">' +
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>';
      await post(lol).expect(400);
    });

    it('a body over the largest envelope Salesforce can send: 413', async () => {
      const huge = outboundEnvelope({
        organizationId: ORG,
        notifications: [
          {
            id: '04l000000000001AAA',
            fields: { Id: '00T000000000001AAA', Description: 'x'.repeat(MAX_OUTBOUND_BODY_BYTES + 1) },
          },
        ],
      });
      const res = await post(huge).expect(413);
      expect(res.text).toContain('message too large');
    });

    it('malformed XML and a non-SOAP document: 400', async () => {
      await post('<a><b></a>').expect(400);
      await post('<?xml version="1.0"?><hello/>').expect(400);
      await post('').expect(400);
    });

    it('an out-of-range character reference: 400, not a 500 Salesforce would redeliver for 24 h', async () => {
      for (const reference of ['&#x110000;', '&#0;', '&#xD800;', '&#99999999999999999999;']) {
        const envelope = outboundEnvelope({
          organizationId: ORG,
          notifications: [{ id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'x') }],
        }).replace('<sf:Subject>x</sf:Subject>', `<sf:Subject>${reference}</sf:Subject>`);
        const res = await post(envelope).expect(400);
        expect(res.text).toContain('<faultcode>soapenv:Client</faultcode>');
      }
    });

    it('elements nested 10,000 deep: 400', async () => {
      const deep = outboundEnvelope({
        organizationId: ORG,
        notifications: [{ id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'x') }],
      }).replace(
        '<sf:Subject>x</sf:Subject>',
        `<sf:Subject>${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</sf:Subject>`,
      );
      await post(deep).expect(400);
    });

    it('more than 100 notifications: 400', async () => {
      const notifications = Array.from({ length: 101 }, (_, index) => ({
        id: `04l${String(index).padStart(15, '0')}`,
        fields: task(`00T${String(index).padStart(15, '0')}`, 'x'),
      }));
      await post(outboundEnvelope({ organizationId: ORG, notifications })).expect(400);
    });
  });

  it('answers 500 (so Salesforce retries) when the database is down', async () => {
    const dead = createPool('postgres://postgres:postgres@127.0.0.1:1/none');
    const deadApp = createApp({
      config: loadConfig({}),
      logger: logs.logger,
      pool: dead,
      routers: [outboundMessageRouter({ pool: dead, token: TOKEN, organizationId: ORG })],
    });
    const res = await request(deadApp)
      .post(PATH)
      .set('content-type', 'text/xml')
      .send(
        outboundEnvelope({
          organizationId: ORG,
          notifications: [{ id: '04l000000000001AAA', fields: task('00T000000000001AAA', 'x') }],
        }),
      )
      .expect(500);
    expect(res.text).not.toContain('<Ack>true</Ack>');
    await dead.end();
  });

  it('refuses everything (503) until a token and org id are configured', async () => {
    const unconfigured = createApp({
      config: loadConfig({}),
      logger: logs.logger,
      pool: db.pool,
      routers: [outboundMessageRouter({ pool: db.pool, token: undefined, organizationId: undefined })],
    });
    await request(unconfigured).post(PATH).set('content-type', 'text/xml').send('<x/>').expect(503);
    expect(logs.text()).not.toContain(TOKEN);
  });

  it('accepts every configured token during a rotation, and only those', async () => {
    const NEW_TOKEN = 'obm_new_9f8e7d6c5b4a39281706f5e4d3';
    const rotating = createApp({
      config: loadConfig({}),
      logger: logs.logger,
      pool: db.pool,
      routers: [outboundMessageRouter({ pool: db.pool, token: [NEW_TOKEN, TOKEN], organizationId: ORG })],
    });
    const envelope = (id: string) =>
      outboundEnvelope({
        organizationId: ORG,
        notifications: [{ id, fields: task('00T000000000001AAA', 'x') }],
      });
    for (const [token, id] of [
      [NEW_TOKEN, '04l000000000001AAA'],
      [TOKEN, '04l000000000002AAA'],
    ] as const) {
      await request(rotating)
        .post(`/salesforce/v1/outbound-messages/${token}`)
        .set('content-type', 'text/xml')
        .send(envelope(id))
        .expect(200, ACK_TRUE);
    }
    await request(rotating)
      .post('/salesforce/v1/outbound-messages/obm_retired_00000000000000000000')
      .set('content-type', 'text/xml')
      .send(envelope('04l000000000003AAA'))
      .expect(401);
    expect(await listInboxMessages(db.pool)).toHaveLength(2);
  });

  it('clamps a SystemModstamp far in the future to receive time plus the tolerance', async () => {
    const before = Date.now();
    const forged = {
      ...task('00T000000000001AAA', 'from the future'),
      SystemModstamp: '2099-01-01T00:00:00.000Z',
      LastModifiedDate: '2099-01-01T00:00:00.000Z',
    };
    await post(
      outboundEnvelope({
        organizationId: ORG,
        notifications: [{ id: '04l000000000001AAA', fields: forged }],
      }),
    ).expect(200);
    const [stored] = await listInboxMessages(db.pool, 'salesforce.outbound');
    const sObject = (stored!.payload as { sObject: Record<string, string> }).sObject;
    const clamped = Date.parse(sObject.SystemModstamp!);
    expect(clamped).toBeGreaterThanOrEqual(before + FUTURE_STAMP_TOLERANCE_MS);
    expect(clamped).toBeLessThanOrEqual(Date.now() + FUTURE_STAMP_TOLERANCE_MS);
    expect(sObject.LastModifiedDate).toBe(sObject.SystemModstamp);
    expect(sObject.SystemModstampAsSent).toBe('2099-01-01T00:00:00.000Z');
    expect(logs.lines().some((entry) => entry.code === 'FUTURE_TIMESTAMP_CLAMPED')).toBe(true);
    // A stamp within the tolerance (clock skew of seconds) is kept as sent.
    const near = new Date(Date.now() + 60_000).toISOString();
    expect(clampFutureStamps({ SystemModstamp: near }, Date.now())).toEqual({
      sObject: { SystemModstamp: near },
      clamped: [],
    });
  });
});
