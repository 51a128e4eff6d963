/**
 * Helpers for the offline checks of force-app: file listing, XML reading and Apex parsing.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export const projectRoot = path.resolve(__dirname, '../..');
export const forceApp = path.join(projectRoot, 'force-app');
export const metadataDir = path.join(forceApp, 'main', 'default');

/** Every file under `folder`, as absolute paths, sorted. */
export function listFiles(folder: string): string[] {
  return readdirSync(folder)
    .flatMap((name) => {
      const file = path.join(folder, name);
      return statSync(file).isDirectory() ? listFiles(file) : [file];
    })
    .sort();
}

/** A file under force-app/main/default, as text. */
export function readMetadata(relative: string): string {
  return readFileSync(path.join(metadataDir, relative), 'utf8');
}

/** Elements that may repeat in the metadata files read here; always parsed as arrays. */
const REPEATED = new Set([
  'fields',
  'outboundMessages',
  'value',
  'values',
  'filters',
  'rules',
  'conditions',
  'decisions',
  'actionCalls',
  'externalCredentialParameters',
  'namedCredentialParameters',
  'fieldPermissions',
  'customPermissions',
  'userPermissions',
  'objectPermissions',
  'customMetadataTypeAccesses',
  'externalCredentialPrincipalAccesses',
  'inputParameters',
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => REPEATED.has(name),
});

/** Parses a metadata file; the root element's content. */
export function readXml(relative: string): Record<string, unknown> {
  const text = readMetadata(relative);
  const validation = XMLValidator.validate(text);
  if (validation !== true)
    throw new Error(`${relative}: ${validation.err.msg} (line ${validation.err.line})`);
  const parsed = parser.parse(text) as Record<string, unknown>;
  const root = Object.keys(parsed).find((key) => key !== '?xml');
  if (root === undefined) throw new Error(`${relative}: no root element`);
  return parsed[root] as Record<string, unknown>;
}

/** Every lexer and parser error of an Apex class or trigger (the emulator's deploy check, shared). */
export { apexSyntaxErrors, type ApexSyntaxError } from '../emulators/salesforce/metadata/apex-syntax';
