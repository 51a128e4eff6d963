/**
 * Outbound messages from the Flow in force-app: who triggers them, what the SOAP envelope looks
 * like, and how delivery behaves (ack, retries with growing intervals, 100 per message, out of
 * order and duplicate delivery). Envelopes are checked against the structure of Salesforce's
 * outbound-messaging WSDL (SOAP API Developer Guide, "Understanding the Outbound Messaging WSDL",
 * https://developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html):
 * `notifications` in http://soap.sforce.com/2005/09/outbound holds, in order, OrganizationId
 * (ent:ID), ActionId (ent:ID), SessionId (nillable string), EnterpriseUrl, PartnerUrl, then 1–100
 * Notification elements, each an Id (ent:ID) and an sObject of type ens:Task whose fields are in
 * urn:sobject.enterprise.soap.sforce.com (ens:sObject's Id first, then the type's fields).
 */
import { XMLParser } from 'fast-xml-parser';
import type { Connection } from 'jsforce';
import { connect, startReceiver, waitFor, type Receiver, fullAccessUser } from './helpers';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';

const SOAPENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const OUTBOUND = 'http://soap.sforce.com/2005/09/outbound';
const SOBJECT = 'urn:sobject.enterprise.soap.sforce.com';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const ID = /^[a-zA-Z0-9]{18}$/;

const ACK =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">' +
  '<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>' +
  '</notificationsResponse></soapenv:Body></soapenv:Envelope>';

interface Element {
  ns: string;
  name: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
  scope: Record<string, string>;
}

/** Ordered, namespace-resolved view of a document (preserveOrder keeps sibling order). */
function elements(xml: string): Element {
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
  });
  type Node = Record<string, unknown> & { ':@'?: Record<string, string> };
  const build = (node: Node, scope: Record<string, string>): Element | undefined => {
    const key = Object.keys(node).find((k) => k !== ':@');
    if (!key || key === '#text' || key.startsWith('?')) return undefined;
    const attributes = node[':@'] ?? {};
    const inner = { ...scope };
    for (const [a, v] of Object.entries(attributes)) {
      if (a === 'xmlns') inner[''] = v;
      else if (a.startsWith('xmlns:')) inner[a.slice(6)] = v;
    }
    const prefix = key.includes(':') ? key.slice(0, key.indexOf(':')) : '';
    const content = node[key] as Node[];
    const children = content.map((c) => build(c, inner)).filter((c): c is Element => c !== undefined);
    const text = content.map((c) => (typeof c['#text'] === 'string' ? c['#text'] : '')).join('');
    return {
      ns: inner[prefix] ?? '',
      name: key.includes(':') ? key.slice(key.indexOf(':') + 1) : key,
      attributes,
      children,
      text,
      scope: inner,
    };
  };
  const docs = (parser.parse(xml) as Node[])
    .map((n) => build(n, {}))
    .filter((e): e is Element => e !== undefined);
  return docs[0]!;
}

function resolveQName(element: Element, qname: string): { ns: string; local: string } {
  const i = qname.indexOf(':');
  return {
    ns: element.scope[i < 0 ? '' : qname.slice(0, i)] ?? '',
    local: i < 0 ? qname : qname.slice(i + 1),
  };
}

/** Validates an envelope against the outbound-messaging WSDL's structure; returns the notifications. */
function validateEnvelope(
  xml: string,
  allowedFields: string[],
): { orgId: string; actionId: string; notifications: { id: string; fields: Record<string, string> }[] } {
  const envelope = elements(xml);
  expect([envelope.ns, envelope.name]).toEqual([SOAPENV, 'Envelope']);
  expect(envelope.children.map((c) => [c.ns, c.name])).toEqual([[SOAPENV, 'Body']]);
  const body = envelope.children[0]!;
  expect(body.children.map((c) => [c.ns, c.name])).toEqual([[OUTBOUND, 'notifications']]);
  const notifications = body.children[0]!;
  const names = notifications.children.map((c) => c.name);
  expect(notifications.children.every((c) => c.ns === OUTBOUND)).toBe(true);
  expect(names.slice(0, 5)).toEqual([
    'OrganizationId',
    'ActionId',
    'SessionId',
    'EnterpriseUrl',
    'PartnerUrl',
  ]);
  const notes = notifications.children.slice(5);
  expect(notes.length).toBeGreaterThanOrEqual(1);
  expect(notes.length).toBeLessThanOrEqual(100);
  expect(notes.every((n) => n.name === 'Notification')).toBe(true);
  const [orgId, actionId, sessionId, enterpriseUrl, partnerUrl] = notifications.children;
  expect(orgId!.text).toMatch(ID);
  expect(actionId!.text).toMatch(ID);
  const nil = Object.entries(sessionId!.attributes).find(
    ([k]) => resolveQName(sessionId!, k).ns === XSI && resolveQName(sessionId!, k).local === 'nil',
  );
  expect(nil?.[1]).toBe('true');
  expect(enterpriseUrl!.text).toMatch(/\/services\/Soap\/c\/\d+\.0\//);
  expect(partnerUrl!.text).toMatch(/\/services\/Soap\/u\/\d+\.0\//);
  return {
    orgId: orgId!.text,
    actionId: actionId!.text,
    notifications: notes.map((note) => {
      expect(note.children.map((c) => [c.ns, c.name])).toEqual([
        [OUTBOUND, 'Id'],
        [OUTBOUND, 'sObject'],
      ]);
      const [id, sobject] = note.children;
      expect(id!.text).toMatch(ID);
      const typeAttr = Object.entries(sobject!.attributes).find(
        ([k]) => resolveQName(sobject!, k).ns === XSI && resolveQName(sobject!, k).local === 'type',
      );
      expect(resolveQName(sobject!, typeAttr![1])).toEqual({ ns: SOBJECT, local: 'Task' });
      expect(sobject!.children.every((c) => c.ns === SOBJECT)).toBe(true);
      const fieldNames = sobject!.children.map((c) => c.name);
      expect(fieldNames[0]).toBe('Id');
      expect(fieldNames.slice(1)).toEqual([...fieldNames.slice(1)].sort());
      for (const name of fieldNames) expect(allowedFields).toContain(name);
      return { id: id!.text, fields: Object.fromEntries(sobject!.children.map((c) => [c.name, c.text])) };
    }),
  };
}

describe('outbound messages (Flow Custompms_Task_Outbound_Message → Custompms_Task_Changed)', () => {
  let emulator: SalesforceEmulator;
  let receiver: Receiver;
  let admin: Connection;
  let integration: Connection;
  let fields: string[];

  beforeAll(async () => {
    receiver = await startReceiver();
    emulator = await startSalesforceEmulator({
      deployForceApp: true,
      outbound: {
        timeScale: 0.001,
        dispatchIntervalMs: 5,
        outOfOrder: false,
        duplicateRate: 0,
        timeoutMs: 5_000,
        seed: 3,
      },
    });
    emulator.org.setOutboundEndpoint(`${receiver.url}/salesforce/v1/outbound-messages/token-123`);
    admin = connect(emulator, fullAccessUser(emulator));
    // The integration user, with exactly what force-app grants it (Custompms_Sync_Bypass included).
    integration = connect(emulator, emulator.integrationUsername);
    fields = emulator.org.schema.outboundMessages.get('Task.Custompms_Task_Changed')!.fields;
  });

  afterAll(async () => {
    await emulator.close();
    await receiver.close();
  });

  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(ACK);
    };
    Object.assign(emulator.org.outbound.options, { outOfOrder: false, duplicateRate: 0 });
    emulator.org.faults.clear();
  });

  afterEach(async () => {
    emulator.org.faults.clear();
    await emulator.org.outbound.drain();
  });

  it('sends a SOAP notification, shaped as the WSDL says, when a user without the bypass saves a synced Task', async () => {
    const created = await admin.sobject('Task').create({
      Subject: 'Ship <it> & more',
      Custompms_Type__c: 'Task',
      Custompms_Id__c: 'om-1',
      ActivityDate: '2026-12-02',
    });
    await waitFor(() => receiver.requests.length === 1);
    const [request] = receiver.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/salesforce/v1/outbound-messages/token-123');
    expect(request!.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(request!.headers.soapaction).toBe('""');
    const message = validateEnvelope(request!.body, fields);
    expect(message.orgId).toBe(emulator.orgId);
    expect(message.actionId).toBe(
      emulator.org.schema.outboundMessages.get('Task.Custompms_Task_Changed')!.actionId,
    );
    expect(message.actionId.startsWith('04k')).toBe(true);
    expect(message.notifications).toHaveLength(1);
    const [note] = message.notifications;
    expect(note!.id.startsWith('04l')).toBe(true);
    expect(note!.fields).toMatchObject({
      Id: created.id,
      Subject: 'Ship <it> & more',
      Custompms_Type__c: 'Task',
      Custompms_Id__c: 'om-1',
      ActivityDate: '2026-12-02',
      Status: 'Not Started',
      LastModifiedById: emulator.org.users.byUsername(fullAccessUser(emulator))!.Id,
    });
    expect(note!.fields.SystemModstamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    // Null fields are left out, as the enterprise API sends them.
    expect(note!.fields).not.toHaveProperty('Description');
  });

  it('sends nothing for the integration user (bypass) or for Tasks without Custompms_Type__c', async () => {
    const fromSync = await integration
      .sobject('Task')
      .create({ Subject: 'from sync', Custompms_Type__c: 'Project' });
    const local = await admin.sobject('Task').create({ Subject: 'local' });
    await admin.sobject('Task').update({ Id: local.id!, Subject: 'still local' });
    // Then a save that does qualify: once its notification has arrived, the three saves before it
    // have been handled, and it must be the only one sent.
    const synced = await admin.sobject('Task').create({ Subject: 'synced', Custompms_Type__c: 'Task' });
    await emulator.org.settle();
    await waitFor(() => receiver.requests.length > 0);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.body).toContain(synced.id!);
    expect(receiver.requests[0]!.body).not.toContain(fromSync.id!);
    expect(receiver.requests[0]!.body).not.toContain(local.id!);
    expect(emulator.org.outbound.queue).toHaveLength(0);
  });

  it('sends only the latest data, and retries with growing intervals until a 200 with Ack true', async () => {
    emulator.org.faults.outboundUnreachable = true;
    const created = await admin.sobject('Task').create({ Subject: 'v1', Custompms_Type__c: 'Project' });
    await admin.sobject('Task').update({ Id: created.id!, Subject: 'v2' });
    await waitFor(
      () => emulator.org.outbound.attempts.filter((a) => a.recordIds.includes(created.id!)).length >= 2,
    );
    let calls = 0;
    receiver.handler = (_request, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(500).end('boom');
      else if (calls === 2)
        res
          .writeHead(200, { 'content-type': 'text/xml' })
          .end(ACK.replace('<Ack>true</Ack>', '<Ack>false</Ack>'));
      else res.writeHead(200, { 'content-type': 'text/xml' }).end(ACK);
    };
    emulator.org.faults.outboundUnreachable = false;
    await emulator.org.outbound.drain();
    const attempts = emulator.org.outbound.attempts.filter((a) => a.recordIds.includes(created.id!));
    const notificationIds = [...new Set(attempts.flatMap((a) => a.notificationIds))];
    expect(notificationIds).toHaveLength(2); // one per save; each retried on its own schedule
    for (const notificationId of notificationIds) {
      const mine = attempts.filter((a) => a.notificationIds.includes(notificationId));
      expect(mine.map((a) => a.acked)).toEqual([...mine.slice(1).map(() => false), true]);
      // 30 s, 60 s, 120 s, ... between attempts, scaled by 0.001.
      mine.slice(1).forEach((a, k) => {
        expect(a.at - mine[k]!.at).toBeGreaterThanOrEqual(0.9 * 30 * 2 ** k);
      });
    }
    expect(attempts.some((a) => a.status === 500)).toBe(true);
    expect(attempts.some((a) => a.status === 200 && !a.acked)).toBe(true);
    // Whenever a notification goes out, it carries the record as it is now.
    for (const request of receiver.requests.filter((r) => r.body.includes(created.id!))) {
      const message = validateEnvelope(request.body, fields);
      expect(message.notifications.map((n) => n.fields.Subject)).toEqual(
        message.notifications.map(() => 'v2'),
      );
    }
  });

  it('batches at most 100 notifications per message', async () => {
    emulator.org.faults.outboundUnreachable = true;
    const rows = Array.from({ length: 150 }, (_, i) => ({
      Subject: `batch ${i}`,
      Custompms_Type__c: 'Task',
    }));
    await admin.sobject('Task').create(rows.slice(0, 150 - 50));
    await admin.sobject('Task').create(rows.slice(100));
    emulator.org.faults.outboundUnreachable = false;
    await emulator.org.outbound.drain();
    const counts = receiver.requests.map((r) => validateEnvelope(r.body, fields).notifications.length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(150);
    expect(Math.max(...counts)).toBe(100);
  });

  it('can deliver out of order and twice, as Salesforce may', async () => {
    Object.assign(emulator.org.outbound.options, { outOfOrder: true, duplicateRate: 1 });
    emulator.org.faults.outboundUnreachable = true;
    const created = await admin
      .sobject('Task')
      .create(Array.from({ length: 40 }, (_, i) => ({ Subject: `ooo ${i}`, Custompms_Type__c: 'Task' })));
    emulator.org.faults.outboundUnreachable = false;
    await emulator.org.outbound.drain();
    const delivered = receiver.requests.flatMap((r) => validateEnvelope(r.body, fields).notifications);
    const ids = delivered.map((n) => n.fields.Id!);
    const created_ = created.map((c) => c.id!);
    const unique = [...new Set(ids)];
    expect(unique.sort()).toEqual([...created_].sort());
    expect(ids).toHaveLength(80);
    const firstSeen = ids.filter((id, i) => ids.indexOf(id) === i);
    expect(firstSeen).not.toEqual(created_);
    const notificationIds = delivered.map((n) => n.id);
    expect(new Set(notificationIds).size).toBe(40);
  });

  it('drops a notification that cannot be delivered within 24 hours', async () => {
    const short = await startSalesforceEmulator({
      deployForceApp: true,
      outbound: {
        timeScale: 0.00001,
        dispatchIntervalMs: 2,
        outOfOrder: false,
        duplicateRate: 0,
        timeoutMs: 1_000,
        seed: 1,
      },
    });
    try {
      short.org.faults.outboundUnreachable = true;
      const task = await connect(short, fullAccessUser(short))
        .sobject('Task')
        .create({ Subject: 'doomed', Custompms_Type__c: 'Task' });
      await waitFor(() => short.org.outbound.dropped.length === 1, 5_000);
      expect(short.org.outbound.dropped[0]!.recordId).toBe(task.id);
      expect(short.org.outbound.queue).toHaveLength(0);
      expect(short.org.outbound.attempts.length).toBeGreaterThan(3);
    } finally {
      await short.close();
    }
  });
});
