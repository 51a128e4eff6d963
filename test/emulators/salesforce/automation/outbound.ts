/**
 * Outbound messages, sent as Salesforce sends them (SOAP API Developer Guide, "Understanding
 * Notifications" and "Understanding the Outbound Messaging WSDL"):
 * - one SOAP `notifications` call carries 1–100 `Notification`s of one outbound message;
 * - each has its own id (key prefix 04l) and the record's *current* field values (only the latest
 *   data is sent, never intermediate states), with null fields left out as the enterprise API does;
 * - only HTTP 200 with a SOAP body `notificationsResponse/Ack` of `true` counts as delivered;
 * - failures are retried independently of queue order with growing intervals (30 s doubling, at
 *   most 2 h apart) for 24 hours, then dropped. `timeScale` shrinks those intervals for tests.
 * Switches deliver out of order and twice, as Salesforce may.
 */
import type { Database } from '../data/database';
import { formatSoapValue, type StoredRecord } from '../data/values';
import type { FaultInjector } from '../faults';
import { seededRandom } from '../faults';
import type { IdFactory } from '../ids';
import type { OrgSchema, OutboundMessageDef } from '../schema/org-schema';
import type { FieldDef, ObjectDef } from '../schema/types';
import type { Clock } from '../time';
import { escapeXml, localName, parseXml, type XmlNode, type XmlValue } from '../xml';

export const OUTBOUND_NS = 'http://soap.sforce.com/2005/09/outbound';
export const SOBJECT_NS = 'urn:sobject.enterprise.soap.sforce.com';
export const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';

export interface OutboundOptions {
  /** Multiplies every retry interval and the 24 h cut-off (0.001 turns 30 s into 30 ms). */
  timeScale: number;
  /** How often the sender looks for due notifications (ms, real time). */
  dispatchIntervalMs: number;
  /** Deliver notifications in random order and in random splits. */
  outOfOrder: boolean;
  /** Probability that a delivered message is delivered again. */
  duplicateRate: number;
  /** Per-request timeout (Salesforce waits 60 s). */
  timeoutMs: number;
  seed: number;
}

export const DEFAULT_OUTBOUND: OutboundOptions = {
  timeScale: 1,
  dispatchIntervalMs: 50,
  outOfOrder: false,
  duplicateRate: 0,
  timeoutMs: 60_000,
  seed: 7,
};

export interface QueuedNotification {
  notificationId: string;
  message: string;
  recordId: string;
  queuedAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
}

export interface DeliveryAttempt {
  at: number;
  message: string;
  endpoint: string;
  notificationIds: string[];
  recordIds: string[];
  envelope: string;
  status?: number;
  acked: boolean;
  error?: string;
  duplicate: boolean;
}

const BASE_RETRY_MS = 30_000;
const MAX_RETRY_MS = 2 * 60 * 60 * 1000;
const GIVE_UP_MS = 24 * 60 * 60 * 1000;

export class OutboundMessenger {
  readonly queue: QueuedNotification[] = [];
  readonly attempts: DeliveryAttempt[] = [];
  readonly dropped: QueuedNotification[] = [];
  private readonly endpoints = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private random: () => number;

  constructor(
    private readonly schema: OrgSchema,
    private readonly db: Database,
    private readonly ids: IdFactory,
    private readonly clock: Clock,
    private readonly faults: FaultInjector,
    private readonly org: {
      id: string;
      baseUrl: () => string;
      apiVersion: string;
      /**
       * Whether the message's "user to send as" can read a field (field-level security). "User to
       * send as: Select the Salesforce user to use when sending the message. The chosen user
       * controls data visibility for the message that is sent to the endpoint" (Salesforce Help,
       * "Outbound Message Actions"): a field that user cannot read is left out, like a null one.
       */
      canRead?: (username: string, object: ObjectDef, field: FieldDef) => boolean;
    },
    public options: OutboundOptions = DEFAULT_OUTBOUND,
  ) {
    this.random = seededRandom(options.seed);
  }

  /** Points one outbound message (`Task.Custompms_Task_Changed`), or all of them, at a URL. */
  setEndpoint(url: string, message?: string): void {
    if (message) this.endpoints.set(message, url);
    else for (const name of this.schema.outboundMessages.keys()) this.endpoints.set(name, url);
  }

  endpointOf(definition: OutboundMessageDef): string {
    return this.endpoints.get(definition.fullName) ?? definition.endpointUrl;
  }

  /** Queues a notification (called when the triggering transaction commits). */
  enqueue(message: string, recordId: string): QueuedNotification {
    if (!this.schema.outboundMessages.has(message)) throw new Error(`no outbound message ${message}`);
    const now = this.clock.now();
    const notification: QueuedNotification = {
      notificationId: this.ids.next('04l'),
      message,
      recordId,
      queuedAt: now,
      attempts: 0,
      nextAttemptAt: now,
    };
    this.queue.push(notification);
    return notification;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.dispatch();
    }, this.options.dispatchIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sending;
  }

  /** Sends what is due now; concurrent calls share one pass. */
  dispatch(): Promise<void> {
    if (!this.sending) {
      this.sending = this.sendDue().finally(() => {
        this.sending = undefined;
      });
    }
    return this.sending;
  }

  /** Resolves when nothing is queued, or when `timeoutMs` passes (then rejects). */
  async drain(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0) {
      if (Date.now() > deadline) throw new Error(`${this.queue.length} outbound notifications still queued`);
      await this.dispatch();
      if (this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private retryDelay(attempts: number): number {
    return Math.min(MAX_RETRY_MS, BASE_RETRY_MS * 2 ** (attempts - 1)) * this.options.timeScale;
  }

  private async sendDue(): Promise<void> {
    const now = this.clock.now();
    for (const n of [...this.queue]) {
      if (now - n.queuedAt > GIVE_UP_MS * this.options.timeScale) {
        this.queue.splice(this.queue.indexOf(n), 1);
        this.dropped.push(n);
      }
    }
    const due = this.queue.filter((n) => n.nextAttemptAt <= now);
    if (!due.length) return;
    const byMessage = new Map<string, QueuedNotification[]>();
    for (const n of due) byMessage.set(n.message, [...(byMessage.get(n.message) ?? []), n]);
    for (const [message, list] of byMessage) {
      let ordered = list;
      if (this.options.outOfOrder) ordered = [...list].sort(() => this.random() - 0.5);
      const batches: QueuedNotification[][] = [];
      for (let i = 0; i < ordered.length;) {
        const size = this.options.outOfOrder
          ? 1 + Math.floor(this.random() * Math.min(100, ordered.length - i))
          : 100;
        batches.push(ordered.slice(i, i + size));
        i += size;
      }
      for (const batch of batches) await this.send(message, batch);
    }
  }

  private async send(message: string, batch: QueuedNotification[]): Promise<void> {
    const definition = this.schema.outboundMessages.get(message)!;
    const endpoint = this.endpointOf(definition);
    const envelope = this.envelope(definition, batch);
    const attempt = await this.post(message, endpoint, batch, envelope, false);
    const now = this.clock.now();
    if (attempt.acked) {
      for (const n of batch) {
        const i = this.queue.indexOf(n);
        if (i >= 0) this.queue.splice(i, 1);
      }
      if (this.options.duplicateRate > 0 && this.random() < this.options.duplicateRate) {
        await this.post(message, endpoint, batch, envelope, true);
      }
      return;
    }
    for (const n of batch) {
      n.attempts += 1;
      n.lastError = attempt.error;
      n.nextAttemptAt = now + this.retryDelay(n.attempts);
    }
  }

  private async post(
    message: string,
    endpoint: string,
    batch: QueuedNotification[],
    envelope: string,
    duplicate: boolean,
  ): Promise<DeliveryAttempt> {
    const attempt: DeliveryAttempt = {
      at: this.clock.now(),
      message,
      endpoint,
      notificationIds: batch.map((n) => n.notificationId),
      recordIds: batch.map((n) => n.recordId),
      envelope,
      acked: false,
      duplicate,
    };
    this.attempts.push(attempt);
    if (this.faults.outboundUnreachable) {
      attempt.error = 'connect ECONNREFUSED (fault injection: endpoint unreachable)';
      return attempt;
    }
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
        body: envelope,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      attempt.status = response.status;
      const body = await response.text();
      attempt.acked = response.status === 200 && isAck(body);
      if (!attempt.acked) attempt.error = `HTTP ${response.status}: ${body.slice(0, 200)}`;
    } catch (error) {
      attempt.error = (error as Error).message;
    }
    return attempt;
  }

  /** The SOAP envelope for a batch, with each record's current values. */
  envelope(definition: OutboundMessageDef, batch: QueuedNotification[]): string {
    const object = this.schema.object(definition.object)!;
    const orgId = this.org.id;
    const base = this.org.baseUrl();
    const version = definition.apiVersion;
    // Enterprise WSDL order: Id first, then the other fields by name.
    const sender = definition.integrationUser;
    const fields = [...definition.fields]
      .filter((f) => f !== 'Id')
      .sort((a, b) => a.localeCompare(b))
      .map((f) => object.index.get(f.toLowerCase())!)
      .filter((def) => !sender || !this.org.canRead || this.org.canRead(sender, object, def));
    const notifications = batch
      .map((n) => {
        const record: StoredRecord = this.db.table(object.name).get(n.recordId) ?? { Id: n.recordId };
        const values = fields
          .filter((def) => record[def.name] !== null && record[def.name] !== undefined)
          .map(
            (def) => `<sf:${def.name}>${escapeXml(formatSoapValue(def, record[def.name]!))}</sf:${def.name}>`,
          )
          .join('');
        return (
          `<Notification><Id>${n.notificationId}</Id>` +
          `<sObject xsi:type="sf:${object.name}" xmlns:sf="${SOBJECT_NS}">` +
          `<sf:Id>${String(record.Id)}</sf:Id>${values}</sObject></Notification>`
        );
      })
      .join('');
    return (
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
      '<soapenv:Body>' +
      `<notifications xmlns="${OUTBOUND_NS}">` +
      `<OrganizationId>${orgId}</OrganizationId>` +
      `<ActionId>${definition.actionId}</ActionId>` +
      '<SessionId xsi:nil="true"/>' +
      `<EnterpriseUrl>${base}/services/Soap/c/${version}/${orgId.slice(0, 15)}</EnterpriseUrl>` +
      `<PartnerUrl>${base}/services/Soap/u/${version}/${orgId.slice(0, 15)}</PartnerUrl>` +
      notifications +
      '</notifications></soapenv:Body></soapenv:Envelope>'
    );
  }
}

/**
 * Resolves element names to {namespace}local using the xmlns declarations in scope, so the ack
 * check does not depend on which prefixes the receiver chose.
 */
export function qualifiedChildren(
  node: XmlValue,
  scope: Record<string, string> = {},
): { ns: string; local: string; value: XmlValue; scope: Record<string, string> }[] {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return [];
  const out: { ns: string; local: string; value: XmlValue; scope: Record<string, string> }[] = [];
  for (const [key, raw] of Object.entries(node)) {
    if (key.startsWith('@_') || key.startsWith('#') || key.startsWith('?')) continue;
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      const inner: Record<string, string> = { ...scope };
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [attr, attrValue] of Object.entries(value)) {
          if (attr === '@_xmlns' && typeof attrValue === 'string') inner[''] = attrValue;
          else if (attr.startsWith('@_xmlns:') && typeof attrValue === 'string')
            inner[attr.slice(8)] = attrValue;
        }
      }
      const prefix = key.includes(':') ? key.slice(0, key.indexOf(':')) : '';
      out.push({ ns: inner[prefix] ?? '', local: localName(key), value, scope: inner });
    }
  }
  return out;
}

/** True when a SOAP answer is `Envelope/Body/notificationsResponse/Ack` = true in the right namespaces. */
export function isAck(body: string): boolean {
  let doc: XmlNode;
  try {
    doc = parseXml(body);
  } catch {
    return false;
  }
  const envelope = qualifiedChildren(doc).find((e) => e.ns === SOAP_ENV_NS && e.local === 'Envelope');
  const soapBody = qualifiedChildren(envelope?.value, envelope?.scope).find(
    (e) => e.ns === SOAP_ENV_NS && e.local === 'Body',
  );
  const response = qualifiedChildren(soapBody?.value, soapBody?.scope).find(
    (e) => e.ns === OUTBOUND_NS && e.local === 'notificationsResponse',
  );
  const ack = qualifiedChildren(response?.value, response?.scope).find(
    (e) => e.ns === OUTBOUND_NS && e.local === 'Ack',
  );
  if (!ack) return false;
  const text = typeof ack.value === 'string' ? ack.value : (ack.value as XmlNode | undefined)?.['#text'];
  return typeof text === 'string' && text.trim() === 'true';
}
