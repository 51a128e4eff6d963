/**
 * Deploys `force-app` to a Salesforce org with the sf CLI, then assigns the permission sets and
 * prints what an admin still has to do in Setup.
 *
 *   npx tsx scripts/deploy-org.ts --target-org acme-prod \
 *     --proxy-url https://custompms-sync.herokuapp.com \
 *     --integration-user integration@acme.com [--admin-users alice@acme.com,bob@acme.com] \
 *     [--validate] [--test-level RunLocalTests] [--wait 60] [--print-only]
 *
 * The outbound-message token comes from OUTBOUND_MESSAGE_TOKEN (or --outbound-token); it is a
 * secret and is never printed. The committed source keeps placeholders: the script copies the
 * project to a temporary folder, substitutes the proxy URL, the outbound endpoint and the
 * integration user there, refuses to go on if any placeholder is left, and deploys the copy.
 *
 * `--validate` runs `sf project deploy start --dry-run` (a check-only deploy that runs the Apex tests
 * and changes nothing); `--print-only` prints the sf commands without running them.
 *
 * The Salesforce emulator (test/emulators/salesforce) is a target too:
 *
 *   SF_ACCESS_TOKEN=<token> npx tsx scripts/deploy-org.ts --emulator http://127.0.0.1:8484 \
 *     --proxy-url http://127.0.0.1:3000 --integration-user integration@custompms.example
 *
 * logs the real sf CLI in to the emulator with the access token (in a throwaway sf state folder,
 * so nothing lands in ~/.sf), substitutes the placeholders exactly as for a real org and runs the
 * same `sf project deploy start`. Apex tests cannot run there, so the test level defaults to
 * NoTestRun (asking for tests makes the emulator fail the deploy, saying so), and permission sets
 * are not assigned (the emulator's integration user has them from the start).
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Placeholders in the committed metadata, replaced in the deployed copy. */
export const PLACEHOLDERS = {
  proxyUrl: 'https://proxy.invalid',
  outboundEndpoint: 'https://proxy.invalid/salesforce/v1/outbound-messages/REPLACE_WITH_TOKEN',
  integrationUser: 'replace-with-integration-username@custompms.invalid',
} as const;

const METADATA = path.join('force-app', 'main', 'default');
/** Files that carry placeholders, relative to the project root. */
export const SUBSTITUTED_FILES = {
  workflow: path.join(METADATA, 'workflows', 'Task.workflow-meta.xml'),
  namedCredential: path.join(METADATA, 'namedCredentials', 'Custompms_Proxy.namedCredential-meta.xml'),
  subscriberConfigs: path.join(METADATA, 'platformEventSubscriberConfigs'),
} as const;

export const INTEGRATION_PERMISSION_SET = 'Custompms_Integration';
export const ADMIN_PERMISSION_SET = 'Custompms_Admin';
export const TEST_LEVELS = ['RunLocalTests', 'RunAllTestsInOrg', 'NoTestRun'] as const;
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
       [--validate] [--test-level RunLocalTests|RunAllTestsInOrg|NoTestRun] [--wait <minutes>] [--print-only]
       [--emulator <instance URL> [--access-token <token>]]
The outbound-message token defaults to $OUTBOUND_MESSAGE_TOKEN (the proxy's setting of that name).
With --emulator the access token defaults to $SF_ACCESS_TOKEN and --target-org to ${EMULATOR_ALIAS}.`;

const FLAGS = new Set(['--validate', '--print-only', '--help']);
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
    throw new UsageError('--validate runs the Apex tests: use RunLocalTests or RunAllTestsInOrg');
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
 * Replaces the text of every `<element>placeholder</element>` in `xml`. Throws when there is none,
 * so a renamed placeholder can never slip through to an org.
 */
export function replaceElementText(
  xml: string,
  element: string,
  placeholder: string,
  value: string,
  where: string,
): string {
  const pattern = new RegExp(
    `(<${element}>)\\s*${placeholder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*(</${element}>)`,
    'g',
  );
  if (!pattern.test(xml)) throw new Error(`${where}: no <${element}>${placeholder}</${element}> to replace`);
  return xml.replace(pattern, (_match, open: string, close: string) => `${open}${escapeXml(value)}${close}`);
}

/** The outbound message with its endpoint and integration user set. */
export function substituteWorkflow(
  xml: string,
  options: Pick<DeployOptions, 'proxyUrl' | 'outboundToken' | 'integrationUser'>,
): string {
  const withEndpoint = replaceElementText(
    xml,
    'endpointUrl',
    PLACEHOLDERS.outboundEndpoint,
    outboundEndpoint(options.proxyUrl, options.outboundToken),
    SUBSTITUTED_FILES.workflow,
  );
  return replaceElementText(
    withEndpoint,
    'integrationUser',
    PLACEHOLDERS.integrationUser,
    options.integrationUser,
    SUBSTITUTED_FILES.workflow,
  );
}

/** The Named Credential with the proxy URL. */
export function substituteNamedCredential(xml: string, proxyUrl: string): string {
  return replaceElementText(
    xml,
    'parameterValue',
    PLACEHOLDERS.proxyUrl,
    proxyUrl,
    SUBSTITUTED_FILES.namedCredential,
  );
}

/** A PlatformEventSubscriberConfig running its trigger as the integration user. */
export function substituteSubscriberConfig(xml: string, integrationUser: string, where: string): string {
  return replaceElementText(xml, 'user', PLACEHOLDERS.integrationUser, integrationUser, where);
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/**
 * Copies the project (sfdx-project.json, .forceignore, force-app) to a new temporary folder and
 * applies the substitutions there. The source project is only read. Returns the copy's root.
 */
export function prepareDeployProject(projectRoot: string, options: DeployOptions): string {
  const copy = mkdtempSync(path.join(tmpdir(), 'custompms-deploy-'));
  for (const entry of ['sfdx-project.json', '.forceignore', 'force-app']) {
    const source = path.join(projectRoot, entry);
    if (existsSync(source)) cpSync(source, path.join(copy, entry), { recursive: true });
  }
  const edit = (relative: string, change: (xml: string) => string): void => {
    const file = path.join(copy, relative);
    writeFileSync(file, change(readFileSync(file, 'utf8')));
  };
  edit(SUBSTITUTED_FILES.workflow, (xml) => substituteWorkflow(xml, options));
  edit(SUBSTITUTED_FILES.namedCredential, (xml) => substituteNamedCredential(xml, options.proxyUrl));
  const configs = readdirSync(path.join(copy, SUBSTITUTED_FILES.subscriberConfigs));
  if (configs.length === 0)
    throw new Error(`No subscriber configs in ${SUBSTITUTED_FILES.subscriberConfigs}`);
  for (const name of configs) {
    const relative = path.join(SUBSTITUTED_FILES.subscriberConfigs, name);
    edit(relative, (xml) => substituteSubscriberConfig(xml, options.integrationUser, relative));
  }
  const leftovers = filesUnder(path.join(copy, 'force-app')).filter((file) =>
    /proxy\.invalid|custompms\.invalid|REPLACE_WITH_/.test(readFileSync(file, 'utf8')),
  );
  if (leftovers.length > 0) {
    rmSync(copy, { recursive: true, force: true });
    throw new Error(
      `Placeholders left after substitution in: ${leftovers.map((f) => path.relative(copy, f)).join(', ')}`,
    );
  }
  return copy;
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

/** The deploy (or validate) command for the prepared copy. */
export function deployCommand(options: DeployOptions): SfCommand {
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

/** What an admin still does in Setup after the deploy. */
export function setupChecklist(options: DeployOptions): string[] {
  return [
    `Setup → Named Credentials → External Credentials → Custompms Proxy → principal Custompms_Proxy_Principal: add the authentication parameter ApiKey = the proxy's PROXY_API_KEY (the secret never goes into metadata).`,
    `Check that Named Credential Custompms_Proxy points at ${options.proxyUrl} and that a test callout reaches it (the proxy's /readyz).`,
    `Integration user ${options.integrationUser}: an active user with the Salesforce licence, API access and ${INTEGRATION_PERMISSION_SET} (assigned by this script${options.validate ? ' on a real deploy' : ''}). Give it access to every Task it must sync (own them, or a role/sharing that reaches them) and Division management if divisions are enabled.`,
    `Platform event triggers run as ${options.integrationUser} (PlatformEventSubscriberConfig); if you change the integration user, redeploy with the new --integration-user.`,
    `Divisions: Setup → Company Information shows whether divisions are enabled (enabling needs Salesforce Support). Without them the sync runs without Division and Task.Division.`,
    `Outbound message Custompms_Task_Changed: Setup → Outbound Messages shows the endpoint ${outboundEndpoint(options.proxyUrl, '***')} and its delivery status; the Flow Custompms_Task_Outbound_Message must be Active.`,
    `Proxy side: set SALESFORCE_ORG_ID to this org's id and OUTBOUND_MESSAGE_TOKEN to the token used here; give admins ${ADMIN_PERMISSION_SET}${options.adminUsers.length > 0 ? ` (assigned to ${options.adminUsers.join(', ')})` : ''}.`,
    `Field maps: Setup → Custom Metadata Types → Custompms Field Map / Custompms Sync Setting hold the shipped mapping; edit there to change it (the proxy reads them back).`,
  ];
}

// The project's own sf CLI (a dev dependency): the copy has no node_modules, and npx there would
// fetch whatever version the registry has.
function runSf(
  command: SfCommand,
  projectRoot: string,
  cwd: string,
  extraEnv: Record<string, string> = {},
): number {
  console.log(`$ ${command.display}`);
  const sf = path.join(projectRoot, 'node_modules', '.bin', process.platform === 'win32' ? 'sf.cmd' : 'sf');
  const result = spawnSync(sf, command.args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, SF_DISABLE_TELEMETRY: 'true', SF_SKIP_NEW_VERSION_CHECK: 'true', ...extraEnv },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
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
  const copy = prepareDeployProject(projectRoot, options);
  // The emulator target keeps the CLI's auth files in a throwaway HOME inside the copy.
  const sfEnv: Record<string, string> = options.emulator
    ? {
        HOME: path.join(copy, '.sf-home'),
        SF_ACCESS_TOKEN: options.emulator.accessToken,
        SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
      }
    : {};
  if (options.emulator) mkdirSync(sfEnv.HOME!, { recursive: true });
  try {
    const login = loginCommand(options);
    const commands = [...(login ? [login] : []), deployCommand(options), ...assignmentCommands(options)];
    if (options.printOnly) {
      console.log('Prepared a substituted copy of the project; would run there:');
      for (const command of commands) console.log(`  ${command.display}`);
    } else {
      for (const command of commands) {
        const status = runSf(command, projectRoot, copy, sfEnv);
        if (status !== 0) {
          console.error(`sf exited with ${status}; stopping.`);
          return status;
        }
      }
    }
    if (options.emulator) {
      console.log(
        options.validate
          ? '\nValidated against the emulator (nothing changed).'
          : `\nDeployed to the emulator at ${options.emulator.instanceUrl}.`,
      );
      return 0;
    }
    const heading = options.printOnly
      ? 'After the deploy, still to do in Setup:'
      : options.validate
        ? 'Validated (nothing changed in the org). After the real deploy, still to do in Setup:'
        : 'Deployed. Still to do in Setup:';
    console.log(`\n${heading}`);
    setupChecklist(options).forEach((step, index) => console.log(`  ${index + 1}. ${step}`));
    return 0;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), process.env);
}
