/**
 * Reads a package directory in source format (`force-app/main/default`) into metadata
 * components for `OrgSchema.apply`. Kept apart from the schema and the data store: a Metadata API
 * deploy (metadata format, later) builds the same components from a zip instead.
 * Deploy-time substitutions (the deploy script replaces placeholders such as the integration
 * username or the outbound endpoint) are applied to the file text before parsing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseXml, root } from '../xml';
import type { MetadataComponent } from './org-schema';

export interface LoadResult {
  components: MetadataComponent[];
  /** Files the emulator does not model (layouts, tabs, ...), relative to the directory. */
  skipped: string[];
}

interface FolderRule {
  folder: string;
  suffix: string;
  type: string;
  /** Source body file beside the meta file (Apex). */
  body?: string;
}

const FOLDERS: FolderRule[] = [
  { folder: 'workflows', suffix: '.workflow-meta.xml', type: 'Workflow' },
  { folder: 'flows', suffix: '.flow-meta.xml', type: 'Flow' },
  { folder: 'customPermissions', suffix: '.customPermission-meta.xml', type: 'CustomPermission' },
  { folder: 'permissionsets', suffix: '.permissionset-meta.xml', type: 'PermissionSet' },
  { folder: 'namedCredentials', suffix: '.namedCredential-meta.xml', type: 'NamedCredential' },
  { folder: 'externalCredentials', suffix: '.externalCredential-meta.xml', type: 'ExternalCredential' },
  {
    folder: 'platformEventSubscriberConfigs',
    suffix: '.platformEventSubscriberConfig-meta.xml',
    type: 'PlatformEventSubscriberConfig',
  },
  { folder: 'customMetadata', suffix: '.md-meta.xml', type: 'CustomMetadata' },
  { folder: 'standardValueSets', suffix: '.standardValueSet-meta.xml', type: 'StandardValueSet' },
  { folder: 'classes', suffix: '.cls-meta.xml', type: 'ApexClass', body: '.cls' },
  { folder: 'triggers', suffix: '.trigger-meta.xml', type: 'ApexTrigger', body: '.trigger' },
];

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...listFiles(full));
    else out.push(full);
  }
  return out;
}

function substitute(text: string, substitutions: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(substitutions)) out = out.split(from).join(to);
  return out;
}

/** Loads every supported component under `dir` (e.g. `force-app/main/default`). */
export function loadSourceDirectory(dir: string, substitutions: Record<string, string> = {}): LoadResult {
  const components: MetadataComponent[] = [];
  const claimed = new Set<string>();
  const read = (file: string, type: string, fullName: string, body?: string): void => {
    const [, content] = root(parseXml(substitute(readFileSync(file, 'utf8'), substitutions)));
    if (body !== undefined) content.body = body;
    components.push({ type, fullName, content, fileName: path.relative(dir, file) });
    claimed.add(file);
  };

  // objects/<Object>/<Object>.object-meta.xml and objects/<Object>/fields/<Field>.field-meta.xml
  const objectsDir = path.join(dir, 'objects');
  if (existsSync(objectsDir)) {
    for (const objectName of readdirSync(objectsDir).sort()) {
      const objectDir = path.join(objectsDir, objectName);
      if (!statSync(objectDir).isDirectory()) continue;
      const objectFile = path.join(objectDir, `${objectName}.object-meta.xml`);
      if (existsSync(objectFile)) read(objectFile, 'CustomObject', objectName);
      const fieldsDir = path.join(objectDir, 'fields');
      for (const file of listFiles(fieldsDir)) {
        if (!file.endsWith('.field-meta.xml')) continue;
        read(file, 'CustomField', `${objectName}.${path.basename(file, '.field-meta.xml')}`);
      }
    }
  }

  for (const rule of FOLDERS) {
    for (const file of listFiles(path.join(dir, rule.folder))) {
      if (!file.endsWith(rule.suffix)) continue;
      const fullName = path.basename(file, rule.suffix);
      let body: string | undefined;
      if (rule.body) {
        const bodyFile = file.slice(0, -'-meta.xml'.length);
        if (existsSync(bodyFile)) {
          body = readFileSync(bodyFile, 'utf8');
          claimed.add(bodyFile);
        }
      }
      read(file, rule.type, fullName, body);
    }
  }

  const skipped = listFiles(dir)
    .filter((file) => !claimed.has(file))
    .map((file) => path.relative(dir, file));
  return { components, skipped };
}
