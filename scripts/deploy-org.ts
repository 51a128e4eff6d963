/**
 * Deploys `force-app` to a Salesforce org with the sf CLI, makes sure the Flow is active, assigns
 * the permission sets, checks what the integration user needs, and prints what an admin still has
 * to do in Setup.
 *
 *   npx tsx scripts/deploy-org.ts --target-org acme-prod \
 *     --proxy-url https://custompms-sync.herokuapp.com \
 *     --integration-user integration@acme.com [--admin-users alice@acme.com,bob@acme.com] \
 *     [--validate] [--test-level RunLocalTests|RunSpecifiedTests|RunAllTestsInOrg|NoTestRun]
 *     [--wait 60] [--print-only] [--post-deploy]
 *
 * The committed source keeps placeholders; `sfdx-project.json` `replacements` fill them from the
 * environment when the CLI converts the source (so a plain `sf project deploy start --source-dir
 * force-app` works too, README "Deploying the org metadata"): CUSTOMPMS_PROXY_URL,
 * CUSTOMPMS_INTEGRATION_USER and OUTBOUND_MESSAGE_TOKEN, each only while
 * CUSTOMPMS_REPLACE_PLACEHOLDERS=true ("replaceWhenEnv"), so no other conversion of the project
 * (the emulator, the offline checks) is affected ("string replacement occurs when source-formatted
 * files are converted to metadata API format … The changes … are never written to your project
 * source", Salesforce DX Developer Guide, "Replace Strings in Code Before Deploying or Packaging";
 * schema: @salesforce/core ReplacementsSchema). This script sets them from its options, checks
 * first that every placeholder in force-app has its replacement, and deploys the project itself.
 * The outbound-message token is a secret and is never printed.
 *
 * Production orgs (Organization.IsSandbox false, OrganizationType not Developer Edition) deploy
 * Flows as inactive unless Setup → Process Automation Settings → "Deploy processes and flows as
 * active" is on (Salesforce Help, "Deploy Processes and Flows as Active"). So after every deploy the
 * script reads the Flow's FlowDefinition (Tooling API), activates its latest version when none is
 * active (`Metadata.activeVersionNumber`, Tooling API "FlowDefinition") and fails, naming the Setup
 * step, if it is still inactive. `--post-deploy` runs only these steps and what follows (for a
 * deploy made with the plain CLI or a pipeline). `--test-level RunSpecifiedTests` runs exactly the
 * project's `*_Tests` classes (each class and trigger then needs 75 % coverage from them).
 *
 * `--validate` runs `sf project deploy start --dry-run` (a check-only deploy that runs the Apex tests
 * and changes nothing); `--print-only` prints the sf commands without running them.
 *
 * The Salesforce emulator (test/emulators/salesforce) is a target too:
 *
 *   SF_ACCESS_TOKEN=<token> npx tsx scripts/deploy-org.ts --emulator http://127.0.0.1:8484 \
 *     --proxy-url http://127.0.0.1:3000 --integration-user integration@custompms.example
 *
 * logs the real sf CLI in to the emulator with the access token (in a throwaway HOME, so nothing
 * lands in ~/.sf) and runs the same commands. Apex tests cannot run there, so the test level
 * defaults to NoTestRun (asking for tests makes the emulator fail the deploy, saying so), and
 * permission sets are not assigned (the emulator's integration user has them from the start).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Placeholders in the committed metadata, replaced when the CLI converts the source. */
export const PLACEHOLDERS = {
  proxyUrl: 'https://proxy.invalid',
  outboundEndpoint: 'https://proxy.invalid/salesforce/v1/outbound-messages/REPLACE_WITH_TOKEN',
  outboundToken: 'REPLACE_WITH_TOKEN',
  integrationUser: 'replace-with-integration-username@custompms.invalid',
} as const;

/** The environment variables sfdx-project.json's `replacements` read. */
export const REPLACEMENT_ENV = {
  /** Must be `true` for any replacement to apply (`replaceWhenEnv`). */
  enable: 'CUSTOMPMS_REPLACE_PLACEHOLDERS',
  proxyUrl: 'CUSTOMPMS_PROXY_URL',
  outboundToken: 'OUTBOUND_MESSAGE_TOKEN',
  integrationUser: 'CUSTOMPMS_INTEGRATION_USER',
} as const;

/** Which variable replaces which placeholder string. */
const REPLACED_BY: Record<string, string> = {
  [PLACEHOLDERS.proxyUrl]: REPLACEMENT_ENV.proxyUrl,
  [PLACEHOLDERS.outboundToken]: REPLACEMENT_ENV.outboundToken,
  [PLACEHOLDERS.integrationUser]: REPLACEMENT_ENV.integrationUser,
};

const METADATA = path.join('force-app', 'main', 'default');
/** Files that carry placeholders, relative to the project root. */
export const SUBSTITUTED_FILES = {
  workflow: path.join(METADATA, 'workflows', 'Task.workflow-meta.xml'),
  namedCredential: path.join(METADATA, 'namedCredentials', 'Custompms_Proxy.namedCredential-meta.xml'),
  subscriberConfigs: path.join(METADATA, 'platformEventSubscriberConfigs'),
} as const;

/** The Flow that sends the outbound message; it must be active. */
export const FLOW_NAME = 'Custompms_Task_Outbound_Message';
export const INTEGRATION_PERMISSION_SET = 'Custompms_Integration';
export const ADMIN_PERMISSION_SET = 'Custompms_Admin';
export const TEST_LEVELS = ['RunLocalTests', 'RunSpecifiedTests', 'RunAllTestsInOrg', 'NoTestRun'] as const;
export type TestLevel = (typeof TEST_LEVELS)[number];

export interface DeployOptions {
  targetOrg: string;
  /** Proxy base URL, no trailing slash. */
  proxyUrl: string;
  outboundToken: string;
  integrationUser: string;
  adminUsers: string[];
  validate: boolean;
  testLevel: TestLevel;
  waitMinutes: number;
  printOnly: boolean;
  /** Skip the deploy; activate and verify the Flow, assign, check (after a plain CLI deploy). */
  postDeploy: boolean;
  /** Deploy to the Salesforce emulator at this instance URL, logging in with the access token. */
  emulator?: { instanceUrl: string; accessToken: string };
}

/** A problem with the command line; the message says what to fix. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The alias the emulator target logs in under. */
export const EMULATOR_ALIAS = 'custompms-emulator';
/** The shape the sf CLI requires of an access token (it refuses others before sending anything). */
const ACCESS_TOKEN = /^00D\w{12,15}![\w.]+$/;

export const USAGE = `Usage: npx tsx scripts/deploy-org.ts --target-org <alias|username> --proxy-url <https://...>
       --integration-user <username> [--admin-users <u1,u2>] [--outbound-token <token>]
       [--validate] [--test-level RunLocalTests|RunSpecifiedTests|RunAllTestsInOrg|NoTestRun] [--wait <minutes>]
       [--print-only] [--post-deploy] [--emulator <instance URL> [--access-token <token>]]
--post-deploy skips the deploy (made with a plain sf project deploy start) and runs the rest: Flow
activation and check, permission-set assignment, the integration user's check, the Setup checklist.
The outbound-message token defaults to $OUTBOUND_MESSAGE_TOKEN (the proxy's setting of that name).
With --emulator the access token defaults to $SF_ACCESS_TOKEN and --target-org to ${EMULATOR_ALIAS}.`;

const FLAGS = new Set(['--validate', '--print-only', '--post-deploy', '--help']);
const OPTIONS = new Set([
  '--target-org',
  '--proxy-url',
  '--integration-user',
  '--admin-users',
  '--outbound-token',
  '--test-level',
  '--wait',
  '--emulator',
  '--access-token',
]);
const USERNAME = /^[^\s@<>&"']+@[^\s@<>&"']+$/;
const TOKEN = /^[A-Za-z0-9_-]{24,}$/;

/** Checks a proxy URL: https (http only for a local proxy), no credentials, query or fragment. */
export function normalizeProxyUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--proxy-url is not a URL: ${raw}`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new UsageError('--proxy-url must use https (http is accepted for localhost only)');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError('--proxy-url must not carry credentials, a query or a fragment');
  }
  return url.toString().replace(/\/+$/, '');
}

/** Parses the command line (and OUTBOUND_MESSAGE_TOKEN from `env`). Throws UsageError. */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): DeployOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (FLAGS.has(name)) {
      flags.add(name);
    } else if (OPTIONS.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
      values.set(name, value);
    } else {
      throw new UsageError(`Unknown argument ${arg}`);
    }
  }
  if (flags.has('--help')) throw new UsageError(USAGE);

  const required = (name: string): string => {
    const value = values.get(name)?.trim();
    if (!value) throw new UsageError(`${name} is required\n${USAGE}`);
    return value;
  };
  const emulatorUrl = values.get('--emulator')?.trim();
  let emulator: DeployOptions['emulator'];
  if (emulatorUrl) {
    let url: URL;
    try {
      url = new URL(emulatorUrl);
    } catch {
      throw new UsageError(`--emulator is not a URL: ${emulatorUrl}`);
    }
    if (!['http:', 'https:'].includes(url.protocol))
      throw new UsageError('--emulator must be an http(s) URL');
    const accessToken = values.get('--access-token') ?? env.SF_ACCESS_TOKEN ?? '';
    if (!ACCESS_TOKEN.test(accessToken)) {
      throw new UsageError(
        '--emulator needs an access token (--access-token or SF_ACCESS_TOKEN) shaped like 00D…!… (the sf CLI refuses others)',
      );
    }
    emulator = { instanceUrl: url.toString().replace(/\/+$/, ''), accessToken };
  } else if (values.has('--access-token')) {
    throw new UsageError(
      '--access-token is only used with --emulator (log in to a real org with sf org login)',
    );
  }
  const targetOrg = emulator
    ? (values.get('--target-org')?.trim() ?? EMULATOR_ALIAS)
    : required('--target-org');
  const proxyUrl = normalizeProxyUrl(required('--proxy-url'));
  const integrationUser = required('--integration-user');
  if (!USERNAME.test(integrationUser))
    throw new UsageError(`--integration-user is not a username: ${integrationUser}`);
  const adminUsers = (values.get('--admin-users') ?? '')
    .split(',')
    .map((user) => user.trim())
    .filter((user) => user.length > 0);
  for (const user of adminUsers) {
    if (!USERNAME.test(user))
      throw new UsageError(`--admin-users has a value that is not a username: ${user}`);
  }
  const outboundToken = values.get('--outbound-token') ?? env.OUTBOUND_MESSAGE_TOKEN ?? '';
  if (!TOKEN.test(outboundToken)) {
    throw new UsageError(
      'The outbound-message token (OUTBOUND_MESSAGE_TOKEN or --outbound-token) must be at least 24 characters of A-Z, a-z, 0-9, _ or -, the same value the proxy has',
    );
  }
  const testLevel = (values.get('--test-level') ?? (emulator ? 'NoTestRun' : 'RunLocalTests')) as TestLevel;
  if (!TEST_LEVELS.includes(testLevel))
    throw new UsageError(`--test-level must be one of ${TEST_LEVELS.join(', ')}`);
  const validate = flags.has('--validate');
  // The emulator validates without tests (it cannot run Apex); a real org's validation runs them.
  if (validate && testLevel === 'NoTestRun' && !emulator) {
    throw new UsageError(
      '--validate runs the Apex tests: use RunLocalTests, RunSpecifiedTests or RunAllTestsInOrg',
    );
  }
  if (validate && flags.has('--post-deploy')) {
    throw new UsageError('--post-deploy follows a real deploy; it cannot be combined with --validate');
  }
  const waitMinutes = Number(values.get('--wait') ?? '60');
  if (!Number.isInteger(waitMinutes) || waitMinutes < 1 || waitMinutes > 600) {
    throw new UsageError('--wait must be a whole number of minutes from 1 to 600');
  }
  return {
    targetOrg,
    proxyUrl,
    outboundToken,
    integrationUser,
    adminUsers,
    validate,
    testLevel,
    waitMinutes,
    printOnly: flags.has('--print-only'),
    postDeploy: flags.has('--post-deploy'),
    ...(emulator ? { emulator } : {}),
  };
}

/** The outbound-message endpoint the proxy serves (`POST /salesforce/v1/outbound-messages/:token`). */
export function outboundEndpoint(proxyUrl: string, token: string): string {
  return `${proxyUrl}/salesforce/v1/outbound-messages/${token}`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The environment the CLI needs for `sfdx-project.json`'s replacements. Values go verbatim into
 * XML, so they are escaped here (a plain CLI user must not use `&`, `<` or `>`; the options'
 * checks already refuse them in usernames and the token).
 */
export function replacementEnvironment(
  options: Pick<DeployOptions, 'proxyUrl' | 'outboundToken' | 'integrationUser'>,
): Record<string, string> {
  return {
    [REPLACEMENT_ENV.enable]: 'true',
    [REPLACEMENT_ENV.proxyUrl]: escapeXml(options.proxyUrl),
    [REPLACEMENT_ENV.outboundToken]: options.outboundToken,
    [REPLACEMENT_ENV.integrationUser]: escapeXml(options.integrationUser),
  };
}

/** One `replacements` entry of sfdx-project.json (the subset this project uses). */
export interface ProjectReplacement {
  filename?: string;
  glob?: string;
  stringToReplace?: string;
  replaceWithEnv?: string;
  replaceWhenEnv?: { env: string; value: string }[];
  allowUnsetEnvVariable?: boolean;
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/** Whether a replacement entry applies to a file (relative to the project root, `/` separators). */
function replacementMatches(replacement: ProjectReplacement, relative: string): boolean {
  if (replacement.filename) return relative === replacement.filename;
  if (replacement.glob) {
    const pattern = new RegExp(
      `^${replacement.glob
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('[^/]*')}$`,
    );
    return pattern.test(relative);
  }
  return false;
}

/**
 * Checks sfdx-project.json against force-app: every placeholder in every file has a replacement
 * that reads the right variable, only when CUSTOMPMS_REPLACE_PLACEHOLDERS=true, and never with an
 * unset variable allowed (that would deploy an empty value). Returns the problems (none: fine).
 */
export function checkReplacements(projectRoot: string): string[] {
  const project = JSON.parse(readFileSync(path.join(projectRoot, 'sfdx-project.json'), 'utf8')) as {
    replacements?: ProjectReplacement[];
  };
  const replacements = project.replacements ?? [];
  const problems: string[] = [];
  for (const [index, replacement] of replacements.entries()) {
    const gated = replacement.replaceWhenEnv?.some(
      (condition) => condition.env === REPLACEMENT_ENV.enable && condition.value === 'true',
    );
    if (!gated) problems.push(`replacements[${index}] is not gated by ${REPLACEMENT_ENV.enable}=true`);
    if (replacement.allowUnsetEnvVariable) problems.push(`replacements[${index}] allows an unset variable`);
  }
  const forceApp = path.join(projectRoot, 'force-app');
  for (const file of filesUnder(forceApp)) {
    const relative = path.relative(projectRoot, file).split(path.sep).join('/');
    const text = readFileSync(file, 'utf8');
    for (const [placeholder, variable] of Object.entries(REPLACED_BY)) {
      if (!text.includes(placeholder)) continue;
      const covered = replacements.some(
        (r) =>
          replacementMatches(r, relative) &&
          r.stringToReplace === placeholder &&
          r.replaceWithEnv === variable,
      );
      if (!covered) problems.push(`${relative}: no replacement of ${placeholder} by $${variable}`);
    }
    const leftover = /proxy\.invalid|custompms\.invalid|REPLACE_WITH_[A-Z_]+/.exec(
      Object.keys(REPLACED_BY).reduce((rest, placeholder) => rest.split(placeholder).join(''), text),
    );
    if (leftover) problems.push(`${relative}: placeholder ${leftover[0]} has no replacement variable`);
  }
  return problems;
}

/** One sf CLI invocation: its arguments, and a printable form with the token masked. */
export interface SfCommand {
  readonly args: string[];
  readonly display: string;
}

function sfCommand(args: string[], secret?: string): SfCommand {
  const display = ['sf', ...args]
    .map((arg) => (secret && arg.includes(secret) ? arg.replaceAll(secret, '***') : arg))
    .map((arg) => (/[\s"']/.test(arg) ? JSON.stringify(arg) : arg))
    .join(' ');
  return { args, display };
}

/** The names of the project's Apex test classes (`*_Tests.cls`), for RunSpecifiedTests. */
export function projectTestClasses(projectRoot: string): string[] {
  const classes = path.join(projectRoot, METADATA, 'classes');
  if (!existsSync(classes)) return [];
  return readdirSync(classes)
    .filter((name) => name.endsWith('_Tests.cls'))
    .map((name) => name.slice(0, -'.cls'.length))
    .sort();
}

/** The deploy (or validate) command, run in the project root. */
export function deployCommand(options: DeployOptions, testClasses: readonly string[] = []): SfCommand {
  // `deploy start --dry-run` is a check-only deploy that runs the tests; unlike `deploy validate`
  // it also runs them on sandboxes.
  const args = [
    'project',
    'deploy',
    'start',
    ...(options.validate ? ['--dry-run'] : []),
    '--source-dir',
    'force-app',
    '--target-org',
    options.targetOrg,
    '--test-level',
    options.testLevel,
    ...(options.testLevel === 'RunSpecifiedTests' ? testClasses.flatMap((name) => ['--tests', name]) : []),
    '--wait',
    String(options.waitMinutes),
  ];
  return sfCommand(args, options.outboundToken);
}

/** The emulator target's login (the token travels in SF_ACCESS_TOKEN, never on the command line). */
export function loginCommand(options: DeployOptions): SfCommand | undefined {
  if (!options.emulator) return undefined;
  return sfCommand([
    'org',
    'login',
    'access-token',
    '--instance-url',
    options.emulator.instanceUrl,
    '--no-prompt',
    '--alias',
    options.targetOrg,
  ]);
}

/**
 * A SOQL query through `sf api request rest` (the raw REST or Tooling answer; `sf data query` first
 * asks the org for column metadata, which the emulator does not serve and the script does not need).
 */
export function queryCommand(
  options: DeployOptions,
  soql: string,
  tooling = false,
  apiVersion = '65.0',
): SfCommand {
  return sfCommand([
    'api',
    'request',
    'rest',
    `/services/data/v${apiVersion}/${tooling ? 'tooling/' : ''}query?q=${encodeURIComponent(soql)}`,
    '--target-org',
    options.targetOrg,
  ]);
}

/** Reads the org's kind (production or not). */
export function organizationQuery(options: DeployOptions): SfCommand {
  return queryCommand(options, 'SELECT IsSandbox, OrganizationType FROM Organization');
}

/**
 * A production org in the sense of Flow deployment: "This setting isn't available in developer,
 * sandbox, or other non-production orgs because you can always deploy a new active version"
 * (Salesforce Help, "Deploy Processes and Flows as Active").
 */
export function isProduction(organization: { IsSandbox?: unknown; OrganizationType?: unknown }): boolean {
  return organization.IsSandbox === false && organization.OrganizationType !== 'Developer Edition';
}

/** Reads the Flow's definition: its id, active version and latest version number (Tooling API). */
export function flowQuery(options: DeployOptions): SfCommand {
  return queryCommand(
    options,
    `SELECT Id, ActiveVersionId, LatestVersion.VersionNumber FROM FlowDefinition WHERE DeveloperName = '${FLOW_NAME}'`,
    true,
  );
}

/** Activates a Flow version: Tooling API PATCH of FlowDefinition `Metadata.activeVersionNumber`. */
export function activateFlowCommand(
  options: DeployOptions,
  definitionId: string,
  versionNumber: number,
  apiVersion = '65.0',
): SfCommand {
  return sfCommand([
    'api',
    'request',
    'rest',
    `/services/data/v${apiVersion}/tooling/sobjects/FlowDefinition/${definitionId}`,
    '--method',
    'PATCH',
    '--body',
    JSON.stringify({ Metadata: { activeVersionNumber: versionNumber } }),
    '--target-org',
    options.targetOrg,
  ]);
}

/** The record-access grants the integration user holds, through its profile or permission sets. */
export function integrationAccessQuery(options: DeployOptions): SfCommand {
  return queryCommand(
    options,
    `SELECT PermissionSet.PermissionsViewAllData, PermissionSet.PermissionsModifyAllData FROM PermissionSetAssignment WHERE Assignee.Username = '${options.integrationUser}'`,
  );
}

/** Permission-set assignments (none when only validating, nor on the emulator). */
export function assignmentCommands(options: DeployOptions): SfCommand[] {
  if (options.validate || options.emulator) return [];
  const commands = [
    sfCommand([
      'org',
      'assign',
      'permset',
      '--name',
      INTEGRATION_PERMISSION_SET,
      '--on-behalf-of',
      options.integrationUser,
      '--target-org',
      options.targetOrg,
    ]),
  ];
  if (options.adminUsers.length > 0) {
    commands.push(
      sfCommand([
        'org',
        'assign',
        'permset',
        '--name',
        ADMIN_PERMISSION_SET,
        ...options.adminUsers.flatMap((user) => ['--on-behalf-of', user]),
        '--target-org',
        options.targetOrg,
      ]),
    );
  }
  return commands;
}

/** The Setup step that activates the Flow by hand (what the script says when it cannot). */
export const FLOW_ACTIVATION_STEP = `Setup → Process Automation → Flows → "Custompms Task Outbound Message" → open the latest version → Activate (or, before deploying, Setup → Process Automation Settings → "Deploy processes and flows as active", which makes production deploys run the Apex tests for the Flow too).`;

/** The Setup step that gives the integration user record access (README "What the integration user needs"). */
export const RECORD_ACCESS_STEP = `Give the integration user the system permissions "View All Data" and "Modify All Data" (its profile, or a permission set you create): Tasks are private to their owner and Task has no object-level View All / Modify All, so without them the proxy cannot read or update a Task reassigned to someone it cannot see.`;

/** What an admin still does in Setup after the deploy. */
export function setupChecklist(options: DeployOptions): string[] {
  return [
    `Setup → Named Credentials → External Credentials → Custompms Proxy → principal Custompms_Proxy_Principal: add the authentication parameter ApiKey = the proxy's PROXY_API_KEY (the secret never goes into metadata).`,
    `Check that Named Credential Custompms_Proxy points at ${options.proxyUrl} and that a test callout reaches it (the proxy's /readyz).`,
    `Integration user ${options.integrationUser}: an active user with the Salesforce licence, API access and ${INTEGRATION_PERMISSION_SET} (assigned by this script${options.validate ? ' on a real deploy' : ''}). ${RECORD_ACCESS_STEP} With divisions enabled it also manages Divisions (Modify All Data covers it).`,
    `Platform event triggers run as ${options.integrationUser} (PlatformEventSubscriberConfig); if you change the integration user, redeploy with the new --integration-user.`,
    `Divisions: Setup → Company Information shows whether divisions are enabled (enabling needs Salesforce Support). Without them the sync runs without Division and Task.Division.`,
    `Outbound message Custompms_Task_Changed: Setup → Outbound Messages shows the endpoint ${outboundEndpoint(options.proxyUrl, '***')} and its delivery status; the Flow ${FLOW_NAME} is active (this script activates and checks it).`,
    `Proxy side: set SALESFORCE_ORG_ID to this org's id and OUTBOUND_MESSAGE_TOKEN to the token used here; give admins ${ADMIN_PERMISSION_SET}${options.adminUsers.length > 0 ? ` (assigned to ${options.adminUsers.join(', ')})` : ''}.`,
    `Field maps: Setup → Custom Metadata Types → Custompms Field Map / Custompms Sync Setting hold the shipped rows, which a redeploy resets; to change a row, add a record with Override checked (the proxy prefers it, and a redeploy never touches it).`,
  ];
}

interface SfRun {
  status: number;
  stdout: string;
}

// The project's own sf CLI (a dev dependency): npx would fetch whatever version the registry has.
function runSf(
  command: SfCommand,
  projectRoot: string,
  extraEnv: Record<string, string>,
  capture = false,
): SfRun {
  console.log(`$ ${command.display}`);
  const sf = path.join(projectRoot, 'node_modules', '.bin', process.platform === 'win32' ? 'sf.cmd' : 'sf');
  const result = spawnSync(sf, command.args, {
    cwd: projectRoot,
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, SF_DISABLE_TELEMETRY: 'true', SF_SKIP_NEW_VERSION_CHECK: 'true', ...extraEnv },
  });
  if (result.error) throw result.error;
  return { status: result.status ?? 1, stdout: result.stdout ?? '' };
}

/** The records of a REST query answer as `sf api request rest` prints it. */
export function queryRecords(stdout: string): Record<string, unknown>[] {
  const start = stdout.search(/[[{]/);
  const parsed = JSON.parse(start < 0 ? 'null' : stdout.slice(start)) as
    { records?: Record<string, unknown>[] } | { message?: string; errorCode?: string }[] | null;
  if (!parsed || Array.isArray(parsed) || !Array.isArray(parsed.records)) {
    const error = Array.isArray(parsed) ? parsed[0] : undefined;
    throw new Error(`query failed: ${error ? `${error.errorCode}: ${error.message}` : stdout.slice(0, 500)}`);
  }
  return parsed.records;
}

/** What the Flow's definition says: its id, whether a version is active, the latest version. */
export function flowState(records: Record<string, unknown>[]): {
  id: string;
  active: boolean;
  latestVersion: number | null;
} | null {
  const record = records[0];
  if (!record) return null;
  const latest = record.LatestVersion as { VersionNumber?: unknown } | null | undefined;
  return {
    id: String(record.Id),
    active: typeof record.ActiveVersionId === 'string' && record.ActiveVersionId.length > 0,
    latestVersion: typeof latest?.VersionNumber === 'number' ? latest.VersionNumber : null,
  };
}

/** Whether any of the integration user's permission sets (its profile's included) grants both. */
export function hasRecordAccess(records: Record<string, unknown>[]): {
  viewAll: boolean;
  modifyAll: boolean;
} {
  const grants = records.map((r) => (r.PermissionSet ?? {}) as Record<string, unknown>);
  return {
    viewAll: grants.some((g) => g.PermissionsViewAllData === true),
    modifyAll: grants.some((g) => g.PermissionsModifyAllData === true),
  };
}

/**
 * Makes sure the Flow is active after a deploy: activates its latest version when none is, then
 * reads it back. Returns an error message naming the Setup step, or undefined when active.
 */
function ensureFlowActive(
  options: DeployOptions,
  run: (command: SfCommand, capture?: boolean) => SfRun,
  production: boolean,
): string | undefined {
  const read = () => {
    const answer = run(flowQuery(options), true);
    return answer.status === 0 ? flowState(queryRecords(answer.stdout)) : null;
  };
  let state = read();
  if (!state) return `The Flow ${FLOW_NAME} was not found after the deploy. ${FLOW_ACTIVATION_STEP}`;
  if (state.active) {
    console.log(`Flow ${FLOW_NAME} is active.`);
    return undefined;
  }
  console.log(
    `Flow ${FLOW_NAME} arrived inactive${production ? ' (a production org deploys Flows inactive unless "Deploy processes and flows as active" is on)' : ''}; activating version ${state.latestVersion}.`,
  );
  if (state.latestVersion !== null) run(activateFlowCommand(options, state.id, state.latestVersion), true);
  state = read();
  if (!state?.active) {
    return `The Flow ${FLOW_NAME} is not active, so no Task change reaches the proxy. ${FLOW_ACTIVATION_STEP}`;
  }
  console.log(`Flow ${FLOW_NAME} activated.`);
  return undefined;
}

/** Runs the whole deploy; returns the process exit code. */
export function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): number {
  let options: DeployOptions;
  try {
    options = parseArgs(argv, env);
  } catch (error) {
    if (error instanceof UsageError) {
      // --help is answered with the usage: on stdout, exit 0.
      if (error.message === USAGE) {
        console.log(USAGE);
        return 0;
      }
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const projectRoot = path.resolve(__dirname, '..');
  const problems = checkReplacements(projectRoot);
  if (problems.length > 0) {
    console.error(`sfdx-project.json replacements do not cover force-app:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  const testClasses = projectTestClasses(projectRoot);
  // The emulator target keeps the CLI's auth files in a throwaway HOME.
  const home = options.emulator ? mkdtempSync(path.join(tmpdir(), 'custompms-sf-home-')) : undefined;
  const sfEnv: Record<string, string> = {
    ...replacementEnvironment(options),
    ...(options.emulator
      ? { HOME: home!, SF_ACCESS_TOKEN: options.emulator.accessToken, SF_USE_GENERIC_UNIX_KEYCHAIN: 'true' }
      : {}),
  };
  const run = (command: SfCommand, capture = false): SfRun => runSf(command, projectRoot, sfEnv, capture);
  try {
    const login = loginCommand(options);
    const deploy = options.postDeploy ? [] : [deployCommand(options, testClasses)];
    if (options.printOnly) {
      console.log(
        `Would run, in ${projectRoot}, with ${Object.values(REPLACEMENT_ENV).join(', ')} set (the token is not shown):`,
      );
      const commands = [
        ...(login ? [login] : []),
        organizationQuery(options),
        ...deploy,
        ...(options.validate ? [] : [flowQuery(options)]),
        ...assignmentCommands(options),
      ];
      for (const command of commands) console.log(`  ${command.display}`);
      console.log('\nAfter the deploy, still to do in Setup:');
      setupChecklist(options).forEach((step, index) => console.log(`  ${index + 1}. ${step}`));
      return 0;
    }
    if (login && run(login).status !== 0) {
      console.error('sf org login failed; stopping.');
      return 1;
    }
    const organization = run(organizationQuery(options), true);
    if (organization.status !== 0) {
      console.error('Could not read the org (sf data query on Organization); stopping.');
      return organization.status;
    }
    const production = isProduction(queryRecords(organization.stdout)[0] ?? {});
    console.log(
      `Target org: ${production ? 'production' : 'not production (sandbox, developer or scratch)'}.`,
    );
    if (production && options.testLevel === 'NoTestRun' && !options.postDeploy) {
      console.error(
        'A production org runs Apex tests on every deploy with Apex: use RunLocalTests or RunSpecifiedTests.',
      );
      return 2;
    }
    for (const command of deploy) {
      const status = run(command).status;
      if (status !== 0) {
        console.error(`sf exited with ${status}; stopping.`);
        return status;
      }
    }
    if (options.validate) {
      console.log(
        options.emulator
          ? '\nValidated against the emulator (nothing changed).'
          : '\nValidated (nothing changed in the org). After the real deploy, still to do in Setup:',
      );
      if (!options.emulator)
        setupChecklist(options).forEach((step, index) => console.log(`  ${index + 1}. ${step}`));
      return 0;
    }
    const flowProblem = ensureFlowActive(options, run, production);
    if (flowProblem) {
      console.error(flowProblem);
      return 1;
    }
    for (const command of assignmentCommands(options)) {
      const status = run(command).status;
      if (status !== 0) {
        console.error(`sf exited with ${status}; stopping.`);
        return status;
      }
    }
    if (options.emulator) {
      console.log(`\nDeployed to the emulator at ${options.emulator.instanceUrl}.`);
      return 0;
    }
    const access = run(integrationAccessQuery(options), true);
    if (access.status === 0) {
      const grants = hasRecordAccess(queryRecords(access.stdout));
      if (!grants.viewAll || !grants.modifyAll)
        console.warn(
          `WARNING: ${options.integrationUser} lacks ${[grants.viewAll ? '' : 'View All Data', grants.modifyAll ? '' : 'Modify All Data'].filter(Boolean).join(' and ')}. ${RECORD_ACCESS_STEP}`,
        );
    } else {
      console.warn(`WARNING: could not read ${options.integrationUser}'s permissions. ${RECORD_ACCESS_STEP}`);
    }
    console.log('\nDeployed. Still to do in Setup:');
    setupChecklist(options).forEach((step, index) => console.log(`  ${index + 1}. ${step}`));
    return 0;
  } finally {
    if (home) rmSync(home, { recursive: true, force: true });
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), process.env);
}
