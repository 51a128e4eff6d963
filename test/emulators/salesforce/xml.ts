/**
 * XML in and out, configured safely (TOOLCHAIN.md "XML"): fast-xml-parser accepts malformed XML,
 * so documents are validated first; any DOCTYPE is refused (no entity tricks); only the five
 * predefined entities are decoded. Namespace prefixes are kept so callers can check namespaces.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type XmlValue = string | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [key: string]: XmlValue;
}

export class XmlError extends Error {
  readonly code = 'XML_INVALID';
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  removeNSPrefix: false,
});

/** Parses a whole document; throws XmlError when it is not well-formed or declares a DOCTYPE. */
export function parseXml(text: string): XmlNode {
  if (/<!DOCTYPE/i.test(text)) throw new XmlError('DOCTYPE is not allowed');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const parsed: unknown = parser.parse(text);
  return parsed as XmlNode;
}

/** The local part of a possibly prefixed name. */
export function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

/** Child elements by local name, ignoring prefixes (metadata files use a default namespace). */
export function child(node: XmlValue, name: string): XmlValue {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  for (const [key, value] of Object.entries(node)) {
    if (!key.startsWith('@_') && localName(key) === name) return value;
  }
  return undefined;
}

export function asArray(value: XmlValue): XmlValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function children(node: XmlValue, name: string): XmlNode[] {
  return asArray(child(node, name)).filter(
    (v): v is XmlNode => typeof v === 'object' && v !== null && !Array.isArray(v),
  );
}

/** Text of an element: `<a>x</a>` → 'x'; `<a/>` → ''; absent → undefined. */
export function text(value: XmlValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return text(value[0]);
  const inner = value['#text'];
  return typeof inner === 'string' ? inner : '';
}

export function childText(node: XmlValue, name: string): string | undefined {
  return text(child(node, name));
}

export function childBool(node: XmlValue, name: string): boolean | undefined {
  const value = childText(node, name);
  return value === undefined ? undefined : value === 'true';
}

export function childNumber(node: XmlValue, name: string): number | undefined {
  const value = childText(node, name);
  return value === undefined || value === '' ? undefined : Number(value);
}

export function attribute(node: XmlValue, name: string): string | undefined {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('@_') && localName(key.slice(2)) === name && typeof value === 'string') return value;
  }
  return undefined;
}

/** The document's root element: [its qualified name, its content]. */
export function root(doc: XmlNode): [string, XmlNode] {
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith('?')) continue;
    return [key, typeof value === 'object' && !Array.isArray(value) ? value : {}];
  }
  throw new XmlError('document has no root element');
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escapes text for element content or attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}
