/**
 * A Metadata API deploy package (the zip's files, metadata-API format) read into components and
 * checked as an org checks them before applying any: package.xml names known types, each member
 * has its file in the type's folder with the type's suffix, every XML file is well-formed (no
 * DOCTYPE), and each component passes its type's rules (metadata/rules.ts). Problems become
 * DeployMessage failures (Metadata API Developer Guide, "DeployResult" → `DeployDetails`,
 * `DeployMessage`: componentType, fullName, fileName, problem, problemType, lineNumber,
 * columnNumber).
 */
import { XMLValidator } from 'fast-xml-parser';
import { parseXml, root, type XmlNode } from '../xml';
import { locateElements, type LocatedElement } from './located-xml';

/** One DeployMessage, as `checkDeployStatus` returns it in `componentSuccesses`/`componentFailures`. */
export interface DeployMessage {
  componentType: string;
  fullName: string;
  fileName: string;
  success: boolean;
  created: boolean;
  changed: boolean;
  deleted: boolean;
  problem?: string;
  problemType?: 'Error' | 'Warning';
  lineNumber?: number;
  columnNumber?: number;
}

export interface Problem {
  problem: string;
  line?: number;
  column?: number;
}

/** A file in the package: its text, parsed content and element positions (for XML files). */
export interface PackageFile {
  /** Path inside the package root, e.g. `objects/Activity.object`. */
  path: string;
  text: string;
  /** Root element content (fast-xml-parser shape), for XML files that parsed. */
  content?: XmlNode;
  rootName?: string;
  located?: LocatedElement;
  /** Why the file could not be read as XML (with position). */
  xmlProblem?: Problem;
}

/** A member of package.xml with the file that carries it. */
export interface PackageMember {
  type: string;
  fullName: string;
  file?: PackageFile;
  /** Apex source (classes/X.cls, triggers/X.trigger). */
  body?: PackageFile;
}

/**
 * Folders and suffixes of the types this org accepts (Metadata API Developer Guide, each type's
 * "File Suffix and Directory Location"). Child types live in their parent's file.
 */
export const FOLDERS: Record<string, { folder: string; suffix: string; body?: string } | { parent: string }> =
  {
    ApexClass: { folder: 'classes', suffix: '.cls-meta.xml', body: '.cls' },
    ApexTrigger: { folder: 'triggers', suffix: '.trigger-meta.xml', body: '.trigger' },
    CustomObject: { folder: 'objects', suffix: '.object' },
    CustomField: { parent: 'CustomObject' },
    CustomMetadata: { folder: 'customMetadata', suffix: '.md' },
    CustomPermission: { folder: 'customPermissions', suffix: '.customPermission' },
    ExternalCredential: { folder: 'externalCredentials', suffix: '.externalCredential' },
    Flow: { folder: 'flows', suffix: '.flow' },
    Layout: { folder: 'layouts', suffix: '.layout' },
    ListView: { parent: 'CustomObject' },
    NamedCredential: { folder: 'namedCredentials', suffix: '.namedCredential' },
    PermissionSet: { folder: 'permissionsets', suffix: '.permissionset' },
    PlatformEventSubscriberConfig: {
      folder: 'PlatformEventSubscriberConfigs',
      suffix: '.platformEventSubscriberConfig',
    },
    StandardValueSet: { folder: 'standardValueSets', suffix: '.standardValueSet' },
    Workflow: { folder: 'workflows', suffix: '.workflow' },
    WorkflowOutboundMessage: { parent: 'Workflow' },
  };

/** The types this org knows (every type force-app uses). */
export const KNOWN_TYPES = Object.keys(FOLDERS);

export function failure(
  componentType: string,
  fullName: string,
  fileName: string,
  p: Problem,
): DeployMessage {
  return {
    componentType,
    fullName,
    fileName,
    success: false,
    created: false,
    changed: false,
    deleted: false,
    problem: p.problem,
    problemType: 'Error',
    ...(p.line !== undefined ? { lineNumber: p.line, columnNumber: p.column ?? 1 } : {}),
  };
}

/** Reads an XML file safely; a problem (with line/column) instead of content when it is not valid. */
export function readXmlFile(path: string, text: string): PackageFile {
  const file: PackageFile = { path, text };
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype) {
    const before = text.slice(0, doctype.index);
    const line = before.split('\n').length;
    file.xmlProblem = {
      problem: 'Error parsing file: DOCTYPE is not allowed',
      line,
      column: doctype.index - before.lastIndexOf('\n'),
    };
    return file;
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    file.xmlProblem = {
      problem: `Error parsing file: ${valid.err.msg}`,
      line: valid.err.line,
      column: valid.err.col,
    };
    return file;
  }
  const [rootName, content] = root(parseXml(text));
  file.rootName = rootName.includes(':') ? rootName.slice(rootName.indexOf(':') + 1) : rootName;
  file.content = content;
  file.located = locateElements(text);
  return file;
}

export interface ReadPackage {
  members: PackageMember[];
  /** Failures found while reading (package.xml, missing files, unknown types, bad XML). */
  failures: DeployMessage[];
  /** Files the package carries that no member names (the API ignores them; kept for messages). */
  unclaimed: string[];
  /** Path of package.xml inside the zip. */
  packageXml: string;
}

/**
 * Reads the package: `files` maps zip paths to text. Entries may sit at the zip's root or under
 * one folder (both are valid deploy zips); package.xml marks the root.
 */
export function readPackage(files: Map<string, string>): ReadPackage {
  const failures: DeployMessage[] = [];
  const candidates = [...files.keys()].filter((p) => /(^|\/)package\.xml$/.test(p));
  const packagePath = candidates.sort((a, b) => a.length - b.length)[0];
  if (!packagePath) {
    return {
      members: [],
      failures: [
        failure('', 'package.xml', 'package.xml', {
          problem: 'No package.xml found',
        }),
      ],
      unclaimed: [...files.keys()],
      packageXml: 'package.xml',
    };
  }
  const prefix = packagePath.slice(0, -'package.xml'.length);
  const byPath = new Map<string, string>();
  for (const [p, text] of files) if (p.startsWith(prefix)) byPath.set(p.slice(prefix.length), text);
  const pkg = readXmlFile('package.xml', byPath.get('package.xml')!);
  if (pkg.xmlProblem) {
    return {
      members: [],
      failures: [failure('', 'package.xml', 'package.xml', pkg.xmlProblem)],
      unclaimed: [],
      packageXml: 'package.xml',
    };
  }
  const claimed = new Set<string>(['package.xml']);
  const members: PackageMember[] = [];
  const xmlFiles = new Map<string, PackageFile>();
  const xmlFile = (p: string): PackageFile | undefined => {
    const text = byPath.get(p);
    if (text === undefined) return undefined;
    let file = xmlFiles.get(p);
    if (!file) xmlFiles.set(p, (file = readXmlFile(p, text)));
    return file;
  };
  for (const types of pkg.located!.children.filter((c) => c.name === 'types')) {
    const name = types.children.find((c) => c.name === 'name')?.text ?? '';
    const rule = FOLDERS[name];
    if (!rule) {
      failures.push(
        failure('', 'package.xml', 'package.xml', {
          problem: `Unknown type name '${name}' specified in package.xml`,
          line: types.line,
          column: types.column,
        }),
      );
      continue;
    }
    let names = types.children.filter((c) => c.name === 'members').map((c) => c.text);
    if (names.includes('*') && 'folder' in rule) {
      names = [...byPath.keys()]
        .filter((p) => p.startsWith(`${rule.folder}/`) && p.endsWith(rule.suffix))
        .map((p) => p.slice(rule.folder.length + 1, -rule.suffix.length));
    }
    for (const fullName of names) {
      const member: PackageMember = { type: name, fullName };
      const parent = 'parent' in rule ? FOLDERS[rule.parent] : rule;
      if (parent && 'folder' in parent) {
        const base = 'parent' in rule ? fullName.slice(0, fullName.indexOf('.')) : fullName;
        const folder = [...byPath.keys()]
          .map((p) => p.split('/')[0]!)
          .find((f) => f.toLowerCase() === parent.folder.toLowerCase());
        const path = `${folder ?? parent.folder}/${base}${parent.suffix}`;
        member.file = xmlFile(path);
        if (member.file) claimed.add(path);
        if (parent.body && 'folder' in rule) {
          const bodyPath = path.slice(0, -'-meta.xml'.length);
          const body = byPath.get(bodyPath);
          if (body !== undefined) {
            member.body = { path: bodyPath, text: body };
            claimed.add(bodyPath);
          }
        }
        if (!member.file || (parent.body && 'folder' in rule && !member.body)) {
          failures.push(
            failure(name, fullName, member.file ? (member.body?.path ?? path) : path, {
              problem: `An object '${fullName}' of type ${name} was named in package.xml, but was not found in zipped directory`,
            }),
          );
          continue;
        }
      }
      members.push(member);
    }
  }
  const unclaimed = [...byPath.keys()].filter((p) => !claimed.has(p) && !p.endsWith('/'));
  return { members, failures, unclaimed, packageXml: 'package.xml' };
}
