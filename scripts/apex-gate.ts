/**
 * Offline Apex quality gate: what only a deploy would otherwise reveal, checked without an org.
 *
 * 1. apex-ls (the semantic checker bundled in @salesforce/code-analyzer-pmd-engine): unknown
 *    types, methods and fields, type mismatches. Its blind spot: a project that extends Activity
 *    (custom fields for Task and Event live there) makes it accept ANY field on Task and Event.
 *    So the check runs on a temporary copy whose sfdx-project.json lists, first, a stub package
 *    folder holding an empty `<CustomObject/>` for Task and Event; with it, unknown Task fields
 *    are reported again while the Activity fields still surface on Task.
 * 2. PMD's `pmd:Recommended` Apex rules through @salesforce/code-analyzer-core, failing on
 *    Moderate and above (SOQL/DML in loops, SOQL injection, CRUD and sharing violations, tests
 *    without asserts, ...). A finding that must stay gets `@SuppressWarnings('PMD.Rule')` with a
 *    comment saying why, next to the code.
 *
 * 3. Test rules (static, no Java) that no org-independent tool checks, over every test class:
 *    - `TestWithoutCalloutMock`: a test method that fires a trigger whose path enqueues a callout
 *      Queueable (a class implementing Database.AllowsCallouts, reached from the trigger through the
 *      classes it references and the platform events they publish) must call `Test.setMock` (directly
 *      or through a helper that does) before `Test.stopTest()`. The async job runs at stopTest and
 *      its callout then needs the mock: test context allows no callouts, "even if it is executed
 *      indirectly by the code you're explicitly testing" — call Test.setMock() "prior to invoking the
 *      code that makes a callout" (salesforce.stackexchange.com/revisions/244798/2, after the Apex
 *      Developer Guide, "Testing HTTP Callouts"); without it the job fails with "Methods defined as
 *      TestMethod do not support Web service callouts".
 *    - `ProfileByName`: no test finds a profile by name (`FROM Profile WHERE Name = ...`,
 *      `Profile.Name = ...`): standard profile names are translated in orgs whose default language is
 *      not English, so such a query finds nothing there; find it by UserType and permission fields.
 *
 * Everything runs concurrently and every finding is reported with file and line; one failing never
 * hides another. apex-ls and PMD need Java 11+: without it the gate fails when CI=true and warns
 * (exit 0) otherwise; the test rules still run.
 *
 *   npx tsx scripts/apex-gate.ts [--project <dir>] [--extra <package dir>...]
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CodeAnalyzer, CodeAnalyzerConfig, SeverityLevel } from '@salesforce/code-analyzer-core';
import * as pmdEngine from '@salesforce/code-analyzer-pmd-engine';
import { parseCommandLine } from './lib/cli';

export type GateTool = 'apex-ls' | 'pmd' | 'test-rules';

/** One problem found in Apex source. */
export interface ApexFinding {
  readonly tool: GateTool;
  /** Absolute path of the file in the checked project (not of a temporary copy). */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** apex-ls category (Missing, Error, ...) or the PMD rule name. */
  readonly rule: string;
  readonly severity: string;
  readonly message: string;
}

/** Result of one tool: its findings, or why it could not run. */
export interface ToolReport {
  readonly findings: ApexFinding[];
  readonly error?: string;
  readonly durationMs: number;
}

export interface GateReport {
  readonly apexLs: ToolReport;
  readonly pmd: ToolReport;
  readonly testRules: ToolReport;
  readonly durationMs: number;
}

export interface GateOptions {
  /** SFDX project root (holds sfdx-project.json). */
  readonly projectRoot: string;
  /** More package folders (absolute) checked with the project, e.g. test fixtures. */
  readonly extraPackageDirs?: readonly string[];
  /** Lowest PMD severity that fails the gate (1 Critical ... 5 Info); default Moderate. */
  readonly pmdThreshold?: SeverityLevel;
  /** Skip the Task/Event stub (only to demonstrate apex-ls's blind spot). */
  readonly withoutActivityStub?: boolean;
}

export const JAVA_INSTALL_HINT =
  'Install a JDK 11 or newer (e.g. `apt-get install openjdk-17-jre-headless`, or Temurin from adoptium.net) and put `java` on PATH.';

/**
 * Both tools are short-lived JVMs: the C1 compiler alone and the serial collector halve their CPU
 * time (measured here: apex-ls 6.6 s → 3.5 s CPU, PMD 12 s → 6.5 s).
 */
export const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/** Standard objects whose fields a project can only add through another object's folder. */
const SURFACED_THROUGH: Readonly<Record<string, readonly string[]>> = { Activity: ['Task', 'Event'] };

const SEVERITY_NAMES: Readonly<Record<number, string>> = {
  1: 'Critical',
  2: 'High',
  3: 'Moderate',
  4: 'Low',
  5: 'Info',
};

/** Folder of the jars shipped with the PMD engine (apex-ls and PMD). */
export function javaLibDir(): string {
  return path.join(path.dirname(require.resolve('@salesforce/code-analyzer-pmd-engine')), 'java-lib');
}

/** Whether a usable Java (11+) is on PATH. */
export function checkJava(
  javaCommand = 'java',
): { ok: true; version: number } | { ok: false; reason: string } {
  const result = spawnSync(javaCommand, ['-version'], { encoding: 'utf8' });
  if (result.error) return { ok: false, reason: `${javaCommand} not found (${result.error.message})` };
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return { ok: false, reason: `cannot read the version of ${javaCommand}` };
  // Java 8 and older report "1.8"; 9+ report the major version first.
  const version = match[1] === '1' ? Number(match[2]) : Number(match[1]);
  return version >= 11
    ? { ok: true, version }
    : { ok: false, reason: `Java ${version} is too old; apex-ls and PMD need 11+` };
}

interface SfdxProject {
  packageDirectories: { path: string }[];
  sourceApiVersion?: string;
}

function readProject(projectRoot: string): SfdxProject {
  return JSON.parse(readFileSync(path.join(projectRoot, 'sfdx-project.json'), 'utf8')) as SfdxProject;
}

/** Every `objects` folder under `dir`. */
function objectFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (!entry.isDirectory()) return [];
    const full = path.join(dir, entry.name);
    return entry.name === 'objects' ? [full] : objectFolders(full);
  });
}

/** The standard objects that need a stub: Task and Event when the project extends Activity. */
export function objectsNeedingStubs(packageDirs: readonly string[]): string[] {
  const extended = new Set(
    packageDirs.flatMap((dir) => objectFolders(dir).flatMap((folder) => readdirSync(folder))),
  );
  return Object.entries(SURFACED_THROUGH)
    .filter(([parent]) => extended.has(parent))
    .flatMap(([, objects]) => objects);
}

interface ApexLsJson {
  files?: {
    path: string;
    messages: { start: { line: number; offset: number }; category: string; message: string }[];
  }[];
}

function runProcess(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * Runs apex-ls over a temporary copy of the project's package folders (plus the extras), with
 * the Task/Event stub listed first. Findings point at the original files.
 */
export async function runApexLs(options: GateOptions): Promise<ApexFinding[]> {
  const project = readProject(options.projectRoot);
  const sources = [
    ...project.packageDirectories.map((dir) => path.resolve(options.projectRoot, dir.path)),
    ...(options.extraPackageDirs ?? []),
  ];
  const workspace = mkdtempSync(path.join(tmpdir(), 'apex-gate-'));
  try {
    const copies = new Map<string, string>();
    sources.forEach((source, index) => {
      const copy = path.join(workspace, `pkg${index}`);
      cpSync(source, copy, { recursive: true });
      copies.set(copy, source);
    });
    const packageDirectories = [...copies.keys()].map((copy) => ({ path: path.basename(copy) }));
    const stubs = options.withoutActivityStub ? [] : objectsNeedingStubs(sources);
    if (stubs.length > 0) {
      for (const object of stubs) {
        const folder = path.join(workspace, 'stub', 'objects', object);
        mkdirSync(folder, { recursive: true });
        writeFileSync(
          path.join(folder, `${object}.object-meta.xml`),
          '<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"/>\n',
        );
      }
      packageDirectories.unshift({ path: 'stub' });
    }
    writeFileSync(
      path.join(workspace, 'sfdx-project.json'),
      JSON.stringify({ packageDirectories, sourceApiVersion: project.sourceApiVersion ?? '65.0' }),
    );
    const result = await runProcess('java', [
      ...JVM_FLAGS,
      '-cp',
      `${javaLibDir()}${path.sep}*`,
      'io.github.apexdevtools.apexls.CheckForIssues',
      '--nocache',
      '--format',
      'json',
      '--workspace',
      workspace,
    ]);
    // Exit 0: clean; 4: issues found; anything else: the checker itself failed.
    if (result.code !== 0 && result.code !== 4) {
      throw new Error(
        `apex-ls exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 2000)}`,
      );
    }
    const parsed = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as ApexLsJson;
    const original = (file: string): string => {
      for (const [copy, source] of copies) {
        if (file.startsWith(copy + path.sep)) return path.join(source, path.relative(copy, file));
      }
      return file;
    };
    return (parsed.files ?? []).flatMap((file) =>
      file.messages.map((message) => ({
        tool: 'apex-ls' as const,
        file: original(file.path),
        line: message.start.line,
        column: message.start.offset + 1,
        rule: message.category,
        severity: 'Error',
        message: message.message,
      })),
    );
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** Runs `pmd:Recommended` (Apex rules) over the package folders; findings at or above the threshold. */
export async function runPmd(options: GateOptions): Promise<ApexFinding[]> {
  const project = readProject(options.projectRoot);
  const targets = [
    ...project.packageDirectories.map((dir) => path.resolve(options.projectRoot, dir.path)),
    ...(options.extraPackageDirs ?? []),
  ];
  const threshold = options.pmdThreshold ?? SeverityLevel.Moderate;
  const workFolder = mkdtempSync(path.join(tmpdir(), 'apex-gate-pmd-'));
  // The engine starts its JVMs itself and takes no JVM flags; JAVA_TOOL_OPTIONS reaches them.
  const toolOptions = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = [toolOptions, ...JVM_FLAGS].filter(Boolean).join(' ');
  try {
    const analyzer = new CodeAnalyzer(
      CodeAnalyzerConfig.fromObject({
        log_folder: workFolder,
        root_working_folder: workFolder,
        engines: { pmd: { rule_languages: ['apex'] }, cpd: { disable_engine: true } },
      }),
    );
    await analyzer.addEnginePlugin(pmdEngine.createEnginePlugin());
    const workspace = await analyzer.createWorkspace(targets);
    const rules = await analyzer.selectRules(['pmd:Recommended'], { workspace });
    const results = await analyzer.run(rules, { workspace });
    return results
      .getViolations()
      .filter((violation) => violation.getRule().getSeverityLevel() <= threshold)
      .map((violation) => {
        const location = violation.getPrimaryLocation();
        const severity = violation.getRule().getSeverityLevel();
        return {
          tool: 'pmd' as const,
          file: location.getFile() ?? '(no file)',
          line: location.getStartLine() ?? 0,
          column: location.getStartColumn() ?? 0,
          rule: violation.getRule().getName(),
          severity: SEVERITY_NAMES[severity] ?? String(severity),
          message: violation.getMessage(),
        };
      });
  } finally {
    if (toolOptions === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = toolOptions;
    rmSync(workFolder, { recursive: true, force: true });
  }
}

async function timed(run: () => Promise<ApexFinding[]>): Promise<ToolReport> {
  const started = Date.now();
  try {
    return { findings: await run(), durationMs: Date.now() - started };
  } catch (error) {
    return {
      findings: [],
      error: error instanceof Error ? error.message : String(error),
      durationMs: Date.now() - started,
    };
  }
}

/** Runs every tool concurrently; a crash of one is reported in its report, never thrown. */
export async function runGate(options: GateOptions): Promise<GateReport> {
  const started = Date.now();
  const [apexLs, pmd, testRules] = await Promise.all([
    timed(() => runApexLs(options)),
    timed(() => runPmd(options)),
    timed(() => Promise.resolve(runTestRules(options))),
  ]);
  return { apexLs, pmd, testRules, durationMs: Date.now() - started };
}

// ---------------------------------------------------------------------------------------------
// Test rules: a static reading of the Apex source (comments blanked, line numbers kept).

interface ApexSource {
  readonly file: string;
  readonly name: string;
  readonly kind: 'class' | 'trigger';
  /** The source with comments blanked (strings kept), same length and lines as the file. */
  readonly code: string;
  /** `code` with string literals blanked too. */
  readonly bare: string;
}

interface ApexMethod {
  readonly source: ApexSource;
  readonly name: string;
  readonly isTest: boolean;
  /** Offset of the declaration and of the body (after `{`) in the file. */
  readonly start: number;
  readonly bodyStart: number;
  readonly body: string;
}

/** Blanks comments (and, with `strings`, string literals) keeping every newline. */
export function blankApex(source: string, strings = false): string {
  const blank = (text: string): string => text.replace(/[^\n]/g, ' ');
  return source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'/g, (match) =>
    match.startsWith("'") ? (strings ? `'${blank(match.slice(1, -1))}'` : match) : blank(match),
  );
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Offset just after the `}` matching the `{` at `open` (strings and comments already blanked). */
function matchingBrace(bare: string, open: number): number {
  let depth = 0;
  for (let i = open; i < bare.length; i++) {
    if (bare[i] === '{') depth++;
    else if (bare[i] === '}' && --depth === 0) return i + 1;
  }
  return bare.length;
}

function apexFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return apexFiles(full);
    return /\.(cls|trigger)$/.test(entry.name) ? [full] : [];
  });
}

function readSources(dirs: readonly string[]): ApexSource[] {
  return dirs.flatMap(apexFiles).map((file) => {
    const raw = readFileSync(file, 'utf8');
    return {
      file,
      name: path.basename(file).replace(/\.(cls|trigger)$/, ''),
      kind: file.endsWith('.trigger') ? ('trigger' as const) : ('class' as const),
      code: blankApex(raw),
      bare: blankApex(raw, true),
    };
  });
}

const METHOD =
  /(@IsTest\b[^\n]*\s+)?(?:(?:public|private|protected|global|static|override|virtual|testMethod)\s+)+[\w<>,.\s[\]]*?\b(\w+)\s*\([^)]*\)\s*\{/gi;

function methodsOf(source: ApexSource): ApexMethod[] {
  const methods: ApexMethod[] = [];
  for (const match of source.bare.matchAll(METHOD)) {
    const name = match[2]!;
    if (/^(if|for|while|switch|catch|when|class|new)$/i.test(name)) continue;
    const open = match.index + match[0].length - 1;
    const end = matchingBrace(source.bare, open);
    const isTest = Boolean(match[1]) || /\btestMethod\b/i.test(match[0]);
    methods.push({
      source,
      name,
      isTest: isTest && !/@TestSetup/i.test(match[0]),
      start: match.index + (match[1]?.length ?? 0),
      bodyStart: open + 1,
      body: source.bare.slice(open + 1, end - 1),
    });
  }
  return methods;
}

/** Class names a piece of code refers to, among the known ones. */
function referencedClasses(code: string, known: ReadonlySet<string>): string[] {
  return [...new Set(code.match(/\b[A-Za-z]\w*\b/g) ?? [])].filter((word) => known.has(word));
}

/** Platform events (`X__e`) a piece of code publishes (mentions them and calls EventBus.publish). */
function publishedEvents(code: string): string[] {
  if (!/EventBus\s*\.\s*publish\s*\(/.test(code)) return [];
  return [...new Set(code.match(/\b\w+__e\b/g) ?? [])];
}

interface TriggerInfo {
  readonly name: string;
  readonly object: string;
  readonly operations: readonly string[];
  /** Whether its path (classes, published events, their triggers) reaches a callout Queueable. */
  readonly enqueuesCallouts: boolean;
}

function analyseTriggers(sources: readonly ApexSource[]): TriggerInfo[] {
  const classes = new Map(sources.filter((s) => s.kind === 'class').map((s) => [s.name, s]));
  const known = new Set(classes.keys());
  const calloutQueueables = new Set(
    [...classes.values()]
      .filter((s) => /\bimplements\b[^{]*\bDatabase\s*\.\s*AllowsCallouts\b/i.test(s.bare))
      .filter((s) => /\bimplements\b[^{]*\bQueueable\b/i.test(s.bare))
      .map((s) => s.name),
  );
  const triggers = sources
    .filter((s) => s.kind === 'trigger')
    .map((s) => {
      const header = /trigger\s+\w+\s+on\s+(\w+)\s*\(([^)]*)\)/i.exec(s.bare);
      return {
        source: s,
        object: header?.[1] ?? '',
        operations: (header?.[2] ?? '')
          .split(',')
          .map((op) => op.trim().split(/\s+/).pop()!.toLowerCase())
          .filter(Boolean),
      };
    });
  const reaches = (start: ApexSource, seen = new Set<string>()): boolean => {
    const queue = [start];
    while (queue.length > 0) {
      const current = queue.pop()!;
      if (seen.has(current.file)) continue;
      seen.add(current.file);
      if (current.kind === 'class' && calloutQueueables.has(current.name)) return true;
      for (const name of referencedClasses(current.bare, known)) queue.push(classes.get(name)!);
      for (const event of publishedEvents(current.bare)) {
        for (const trigger of triggers) if (trigger.object === event) queue.push(trigger.source);
      }
    }
    return false;
  };
  return triggers.map((trigger) => ({
    name: trigger.source.name,
    object: trigger.object,
    operations: trigger.operations,
    enqueuesCallouts: reaches(trigger.source),
  }));
}

/** Methods that set an HTTP callout mock, directly or through another such method (to a fixpoint). */
function mockingMethods(methods: readonly ApexMethod[]): Set<string> {
  const mocking = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const method of methods) {
      const key = `${method.source.name}.${method.name}`;
      if (mocking.has(key)) continue;
      if (/\bTest\s*\.\s*setMock\s*\(/i.test(method.body) || callsAny(method, method.body, mocking)) {
        mocking.add(key);
        grew = true;
      }
    }
  }
  return mocking;
}

/** Offset (in `body`) of the first call to one of `targets` (`Class.method` keys), or -1. */
function firstCall(method: ApexMethod, body: string, targets: ReadonlySet<string>): number {
  let first = -1;
  for (const match of body.matchAll(/\b(?:(\w+)\s*\.\s*)?(\w+)\s*\(/g)) {
    const key = `${match[1] ?? method.source.name}.${match[2]}`;
    if (targets.has(key) && (first < 0 || match.index < first)) first = match.index;
  }
  return first;
}

function callsAny(method: ApexMethod, body: string, targets: ReadonlySet<string>): boolean {
  return firstCall(method, body, targets) >= 0;
}

/** What a test method does that fires a trigger: DML of an operation, or an event publish. */
function firedTriggers(method: ApexMethod, triggers: readonly TriggerInfo[]): TriggerInfo[] {
  const body = method.body;
  const dml = new Set<string>();
  for (const match of body.matchAll(/(?:^|[;{}\s])(insert|update|upsert|delete|undelete)\s+[\w[(]/gi))
    dml.add(match[1]!.toLowerCase());
  for (const match of body.matchAll(/\bDatabase\s*\.\s*(insert|update|upsert|delete|undelete)\s*\(/gi))
    dml.add(match[1]!.toLowerCase());
  const delivers = /\bEventBus\s*\.\s*publish\s*\(|\bgetEventBus\s*\(\s*\)\s*\.\s*deliver\s*\(/i.test(body);
  return triggers.filter((trigger) => {
    if (trigger.object.endsWith('__e')) return delivers && new RegExp(`\\b${trigger.object}\\b`).test(body);
    // The object of a DML statement is not known statically: a matching operation in a class that
    // works with the trigger's object counts.
    return (
      trigger.operations.some((op) => dml.has(op)) &&
      new RegExp(`\\b${trigger.object}\\b`).test(method.source.bare)
    );
  });
}

/** The test rules over the project's package folders and the extras. */
export function runTestRules(options: GateOptions): ApexFinding[] {
  const project = readProject(options.projectRoot);
  const dirs = [
    ...project.packageDirectories.map((dir) => path.resolve(options.projectRoot, dir.path)),
    ...(options.extraPackageDirs ?? []),
  ];
  const sources = readSources(dirs);
  const triggers = analyseTriggers(sources).filter((trigger) => trigger.enqueuesCallouts);
  const methods = sources.filter((s) => s.kind === 'class').flatMap(methodsOf);
  const mocking = mockingMethods(methods);
  const findings: ApexFinding[] = [];
  const finding = (source: ApexSource, offset: number, rule: string, message: string): ApexFinding => {
    const line = lineOf(source.code, offset);
    const lineStart = source.code.lastIndexOf('\n', offset - 1) + 1;
    return {
      tool: 'test-rules',
      file: source.file,
      line,
      column: offset - lineStart + 1,
      rule,
      severity: 'High',
      message,
    };
  };
  for (const method of methods.filter((m) => m.isTest)) {
    const fired = firedTriggers(method, triggers);
    if (fired.length === 0) continue;
    const stop = method.body.search(/\bTest\s*\.\s*stopTest\s*\(/i);
    const mock = Math.min(
      ...[method.body.search(/\bTest\s*\.\s*setMock\s*\(/i), firstCall(method, method.body, mocking)].map(
        (at) => (at < 0 ? Infinity : at),
      ),
    );
    if (stop < 0 || mock === Infinity || mock > stop) {
      findings.push(
        finding(
          method.source,
          method.start,
          'TestWithoutCalloutMock',
          `${method.name} fires ${fired.map((t) => t.name).join(', ')}, whose path enqueues a callout Queueable: call Test.setMock (or a helper that does) before Test.stopTest(), which runs the job`,
        ),
      );
    }
  }
  for (const source of sources.filter((s) => s.kind === 'class')) {
    const patterns = [
      /\bFROM\s+Profile\b[^\]]*?\bWHERE\b[^\]]*?\bName\s*(?:=|!=|\bIN\b|\bLIKE\b)/gi,
      /\bProfile\s*\.\s*Name\s*(?:=|!=|\bIN\b|\bLIKE\b)/gi,
    ];
    for (const pattern of patterns) {
      for (const match of source.code.matchAll(pattern)) {
        findings.push(
          finding(
            source,
            match.index,
            'ProfileByName',
            'Finds a profile by its name, which is translated in non-English orgs: select it by UserType and permission fields (e.g. PermissionsModifyAllData) instead',
          ),
        );
      }
    }
  }
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** One line per finding: `file:line:column tool/rule (severity) message`. */
export function formatFinding(finding: ApexFinding, relativeTo: string): string {
  return `${path.relative(relativeTo, finding.file)}:${finding.line}:${finding.column} ${finding.tool}/${finding.rule} (${finding.severity}) ${finding.message}`;
}

/** True when the gate passes: both tools ran and found nothing. */
export function gatePassed(report: GateReport): boolean {
  return [report.apexLs, report.pmd, report.testRules].every(
    (tool) => tool.error === undefined && tool.findings.length === 0,
  );
}

const USAGE = `Usage: npx tsx scripts/apex-gate.ts [--project <dir>] [--extra <dir>...]

Runs the Apex semantic check (apex-ls) and PMD over force-app (and each --extra package folder).`;

/** `--help`: usage on stdout, exit 0; an unknown or incomplete argument: stderr, exit 2. */
function parseCli(argv: readonly string[]): GateOptions {
  const { values } = parseCommandLine(
    USAGE,
    {
      options: {
        project: { type: 'string' },
        extra: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    },
    [...argv],
  );
  return {
    projectRoot: path.resolve(values.project ?? path.resolve(__dirname, '..')),
    extraPackageDirs: (values.extra ?? []).map((dir) => path.resolve(dir)),
  };
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = parseCli(argv);
  const java = checkJava();
  if (!java.ok) {
    const message = `Apex gate: ${java.reason}. ${JAVA_INSTALL_HINT}`;
    const rules = runTestRules(options);
    for (const finding of rules) console.error(formatFinding(finding, options.projectRoot));
    console.log(`Test rules: ${rules.length} finding(s)`);
    if (env.CI === 'true') {
      console.error(`${message}\nFailing because CI=true.`);
      return 1;
    }
    console.warn(`WARNING: ${message}\nThe Apex semantic check and PMD were skipped.`);
    return rules.length > 0 ? 1 : 0;
  }
  const report = await runGate(options);
  for (const [name, tool] of [
    ['apex-ls', report.apexLs],
    ['PMD', report.pmd],
    ['Test rules', report.testRules],
  ] as const) {
    if (tool.error) console.error(`${name} could not run: ${tool.error}`);
    for (const finding of tool.findings) console.error(formatFinding(finding, options.projectRoot));
    console.log(
      `${name}: ${tool.error ? 'failed to run' : `${tool.findings.length} finding(s)`} in ${(tool.durationMs / 1000).toFixed(1)} s`,
    );
  }
  console.log(
    `Apex gate ${gatePassed(report) ? 'passed' : 'FAILED'} in ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  return gatePassed(report) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
