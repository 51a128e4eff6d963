/**
 * End to end: the reference server delivers signed webhooks over HTTP to the proxy's real route,
 * which stores them in the durable inbox; the client then fetches each record as it is now.
 * Duplicated deliveries store once; a lost delivery is caught by the `updated_since` poll.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import { CustompmsClient, parseEventType, type WebhookEvent } from '../../../proxy/src/custompms';
import { CUSTOMPMS_WEBHOOK_PATH, custompmsWebhookRouter } from '../../../proxy/src/http/custompms-webhooks';
import { listInboxMessages } from '../../../proxy/src/store/inbox';
import { type CustompmsEmulator, startCustompmsEmulator } from '../../emulators/custompms/server';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { eventually } from '../../support/eventually';
import { captureLogs } from '../../support/logs';

const TOKEN = 'e2e-token';
const NEW_SECRET = 'whsec_e2e_new_secret';
const OLD_SECRET = 'whsec_e2e_old_secret';

describe('Custompms webhooks into the proxy inbox', () => {
  let db: TestDatabase;
  let server: Server;
  let proxyUrl: string;
  let emulator: CustompmsEmulator;
  let client: CustompmsClient;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    const app = createApp({
      config: loadConfig({}),
      logger: captureLogs().logger,
      pool: db.pool,
      routers: [custompmsWebhookRouter({ pool: db.pool, secrets: [NEW_SECRET, OLD_SECRET] })],
    });
    server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${CUSTOMPMS_WEBHOOK_PATH}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.drop();
  });
  beforeEach(async () => {
    await db.pool.query('DELETE FROM inbox_messages');
    // Custompms still signs with the old secret: the proxy accepts both while rotating.
    emulator = await startCustompmsEmulator({
      token: TOKEN,
      webhook: { url: proxyUrl, secret: OLD_SECRET, baseDelayMs: 5, maxAttempts: 3 },
    });
    client = new CustompmsClient({ baseUrl: emulator.url, token: TOKEN });
  });
  afterEach(async () => {
    await emulator.stop();
  });

  async function inboxEvents(): Promise<WebhookEvent[]> {
    return (await listInboxMessages(db.pool, 'custompms.webhook')).map((row) => row.payload as WebhookEvent);
  }

  it('stores each event once despite duplicated, delayed deliveries, and the records can be fetched', async () => {
    emulator.controls.setFaults({ webhooks: { duplicateRate: 1, latencyMs: [0, 15] } });
    const customer = emulator.controls.create('customers', { name: 'Acme' });
    const project = emulator.controls.create('projects', { customer_id: customer.id, name: 'Rollout' });
    emulator.controls.edit('projects', project.id, { status: 'active' });
    const task = emulator.controls.create('tasks', { project_id: project.id, title: 'Kick-off' });
    emulator.controls.remove('tasks', task.id);
    await emulator.controls.flushWebhooks();

    const emitted = emulator.controls.events();
    expect(emitted).toHaveLength(5);
    expect(emulator.controls.deliveries().filter((attempt) => attempt.status === 202)).toHaveLength(10);
    const stored = await inboxEvents();
    expect(stored.map((event) => event.id).sort()).toEqual(emitted.map((event) => event.id).sort());

    // The webhook says what changed; the API says how it is now (gone, for a record deleted since).
    const deleted = new Set(
      stored.filter((event) => event.type.endsWith('.deleted')).map((event) => event.data.id),
    );
    expect(deleted).toEqual(new Set([task.id]));
    for (const event of stored) {
      const { resource } = parseEventType(event.type);
      if (deleted.has(event.data.id)) {
        await expect(client.get(resource, event.data.id)).rejects.toMatchObject({
          code: 'CUSTOMPMS_NOT_FOUND',
        });
      } else {
        const current = await client.get(resource, event.data.id);
        expect(current.version).toBeGreaterThanOrEqual(event.data.version);
      }
    }
  });

  it('a lost webhook is caught by the updated_since poll', async () => {
    const customer = emulator.controls.create('customers', { name: 'Polled' });
    await emulator.controls.flushWebhooks();
    const since = emulator.controls.record('customers', customer.id)!.updated_at;
    emulator.controls.setFaults({ webhooks: { lossRate: 1 } });
    emulator.controls.edit('customers', customer.id, { is_active: false });
    await emulator.controls.flushWebhooks();
    expect((await inboxEvents()).map((event) => event.type)).toEqual(['customer.created']);

    const changed = [];
    for await (const record of client.list('customers', { updatedSince: since })) changed.push(record);
    expect(changed).toEqual([expect.objectContaining({ id: customer.id, version: 2, is_active: false })]);
  });

  it('a delivery the proxy refuses is retried by Custompms, then given up, and nothing is stored', async () => {
    emulator.controls.setWebhook({
      url: proxyUrl,
      secret: 'whsec_unknown_to_proxy',
      baseDelayMs: 5,
      maxAttempts: 3,
    });
    emulator.controls.create('customers', { name: 'Forged' });
    await emulator.controls.flushWebhooks();
    expect(emulator.controls.deliveries().map((attempt) => attempt.status)).toEqual([401, 401, 401]);
    expect(await inboxEvents()).toEqual([]);
  });

  it('a burst is delivered at most maxInFlight at a time, every event stored once', async () => {
    // A receiver that holds each delivery until released, counting those in flight.
    let inFlight = 0;
    let peak = 0;
    const held: (() => void)[] = [];
    const slow = express();
    slow.post('/hook', (_req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      held.push(() => {
        inFlight--;
        res.status(202).end();
      });
    });
    const slowServer = await new Promise<Server>((resolve) => {
      const listening = slow.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      emulator.controls.setWebhook({
        url: `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}/hook`,
        secret: OLD_SECRET,
        maxInFlight: 3,
      });
      for (let index = 0; index < 12; index++)
        emulator.controls.create('customers', { name: `Burst ${index}` });
      const flushed = emulator.controls.flushWebhooks();
      let answered = 0;
      while (answered < 12) {
        await eventually(() => held.length > 0, `delivery ${answered + 1} held by the receiver`);
        expect(inFlight).toBeLessThanOrEqual(3);
        held.shift()!();
        answered++;
      }
      await flushed;
      expect(peak).toBe(3);
      expect(emulator.controls.deliveries().filter((attempt) => attempt.status === 202)).toHaveLength(12);
    } finally {
      for (const release of held) release();
      await new Promise<void>((resolve) => slowServer.close(() => resolve()));
    }
  });
});
