/**
 * Salesforce outbound messages (SOAP): parsing the `notifications` envelope and the exact
 * answers Salesforce expects. The parser refuses DOCTYPE and entities outright (no XXE, no
 * entity expansion) and validates well-formedness first, because fast-xml-parser alone accepts
 * malformed XML.
 *
 * Envelope shape: Salesforce's outbound-messaging WSDL (namespace
 * http://soap.sforce.com/2005/09/outbound): OrganizationId, ActionId, SessionId (nil),
 * EnterpriseUrl, PartnerUrl, then 1–100 Notification elements of Id + sObject.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type SObjectValue = string | null;

export interface OutboundNotification {
  /** Notification/Id: the de-duplication key of this delivery. */
  id: string;
  /** `sf:Task` → `Task`. */
  sObjectType: string;
  /** Field values as sent (strings; nil → null). Only the fields the message definition lists. */
  sObject: Record<string, SObjectValue>;
}

export interface OutboundMessage {
  organizationId: string;
  actionId: string;
  enterpriseUrl: string | undefined;
  partnerUrl: string | undefined;
  notifications: OutboundNotification[];
}

export class OutboundMessageError extends Error {
  readonly code = 'OUTBOUND_MESSAGE_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'OutboundMessageError';
  }
}

const MAX_NOTIFICATIONS = 100;

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  processEntities: false,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'Notification',
});

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Entity processing is off in the parser (no DOCTYPE can declare any: those are refused), so the
 * five predefined XML entities and character references are decoded here, and nothing else.
 */
export function decodeXmlText(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return characterReference(parseInt(name.slice(2), 16), whole);
    if (name.startsWith('#')) return characterReference(parseInt(name.slice(1), 10), whole);
    return PREDEFINED[name] ?? whole;
  });
}

/**
 * A character reference must name an XML Char (XML 1.0 §2.2): anything else (`&#0;`, a lone
 * surrogate, `&#x110000;`) is a malformed message, a 400, never a 500 (which Salesforce would
 * redeliver for 24 hours).
 */
function characterReference(code: number, whole: string): string {
  const allowed =
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff);
  if (!Number.isSafeInteger(code) || !allowed)
    throw new OutboundMessageError(`character reference ${whole.slice(0, 20)} is not an XML character`);
  return String.fromCodePoint(code);
}

/** Deepest element nesting accepted: Salesforce's envelope is 6 deep; a deeper one is hostile. */
export const MAX_XML_DEPTH = 16;

/** Refuses element nesting deeper than MAX_XML_DEPTH before any parser recurses into it. */
function checkDepth(xml: string): void {
  let depth = 0;
  for (const match of xml.matchAll(/<(\/?)[A-Za-z_][^<>]*?(\/?)>/g)) {
    if (match[1]) depth--;
    else if (!match[2]) {
      depth++;
      if (depth > MAX_XML_DEPTH)
        throw new OutboundMessageError(`elements nested deeper than ${MAX_XML_DEPTH} levels`);
    }
  }
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return decodeXmlText(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object' && '#text' in value)
    return text((value as Record<string, unknown>)['#text']);
  return undefined;
}

function isNil(value: unknown): boolean {
  return (
    value !== null && typeof value === 'object' && (value as Record<string, unknown>)['@_nil'] === 'true'
  );
}

function parseSObject(raw: unknown): { type: string; fields: Record<string, SObjectValue> } {
  if (!raw || typeof raw !== 'object') throw new OutboundMessageError('Notification has no sObject');
  const record = raw as Record<string, unknown>;
  const declared = text(record['@_type']) ?? '';
  const type = declared.includes(':') ? declared.split(':').pop()! : declared;
  if (type === '') throw new OutboundMessageError('sObject has no xsi:type');
  const fields: Record<string, SObjectValue> = {};
  for (const [name, value] of Object.entries(record)) {
    if (name.startsWith('@_')) continue;
    if (isNil(value)) fields[name] = null;
    else if (value !== null && typeof value === 'object' && !('#text' in value)) {
      // Empty element with only attributes (e.g. xmlns) is an empty string; nested elements are not sent.
      const keys = Object.keys(value).filter((key) => !key.startsWith('@_'));
      if (keys.length > 0) throw new OutboundMessageError(`field ${name} has unexpected child elements`);
      fields[name] = '';
    } else fields[name] = text(value) ?? '';
  }
  return { type, fields };
}

/** Parses a notifications envelope; throws OutboundMessageError on anything unexpected. */
export function parseOutboundMessage(xml: string): OutboundMessage {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    throw new OutboundMessageError('DOCTYPE and entity declarations are not accepted');
  }
  checkDepth(xml);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new OutboundMessageError(`malformed XML at line ${valid.err.line}: ${valid.err.msg}`);
  }
  const document = parser.parse(xml) as Record<string, unknown>;
  const envelope = document.Envelope as Record<string, unknown> | undefined;
  const body = envelope?.Body as Record<string, unknown> | undefined;
  const notifications = body?.notifications as Record<string, unknown> | undefined;
  if (!notifications) throw new OutboundMessageError('no soapenv:Envelope/Body/notifications element');
  if (text(notifications['@_xmlns']) !== undefined && text(notifications['@_xmlns']) !== OUTBOUND_NAMESPACE) {
    throw new OutboundMessageError('notifications element is not in the outbound-messaging namespace');
  }
  const organizationId = text(notifications.OrganizationId);
  const actionId = text(notifications.ActionId);
  if (!organizationId || !actionId)
    throw new OutboundMessageError('OrganizationId and ActionId are required');
  const list = (notifications.Notification as unknown[] | undefined) ?? [];
  if (list.length === 0 || list.length > MAX_NOTIFICATIONS) {
    throw new OutboundMessageError(
      `expected 1–${MAX_NOTIFICATIONS} Notification elements, got ${list.length}`,
    );
  }
  return {
    organizationId,
    actionId,
    enterpriseUrl: text(notifications.EnterpriseUrl),
    partnerUrl: text(notifications.PartnerUrl),
    notifications: list.map((raw) => {
      const notification = raw as Record<string, unknown>;
      const id = text(notification.Id);
      if (!id) throw new OutboundMessageError('Notification without Id');
      const sObject = parseSObject(notification.sObject);
      return { id, sObjectType: sObject.type, sObject: sObject.fields };
    }),
  };
}

export const OUTBOUND_NAMESPACE = 'http://soap.sforce.com/2005/09/outbound';

/** The one answer Salesforce counts as delivered (anything else is retried). */
export const ACK_TRUE =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">' +
  '<soapenv:Body>' +
  `<notificationsResponse xmlns="${OUTBOUND_NAMESPACE}"><Ack>true</Ack></notificationsResponse>` +
  '</soapenv:Body></soapenv:Envelope>';

function escapeXml(value: string): string {
  return value.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A SOAP 1.1 fault: `soapenv:Client` for the sender's mistakes, `soapenv:Server` for ours. */
export function soapFault(faultCode: 'Client' | 'Server', message: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">' +
    '<soapenv:Body><soapenv:Fault>' +
    `<faultcode>soapenv:${faultCode}</faultcode><faultstring>${escapeXml(message)}</faultstring>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
  );
}
