/**
 * The deploy script's logic, offline: argument parsing, sfdx-project.json's replacements (checked
 * against force-app and applied by source-deploy-retrieve itself, the CLI's converter), the sf
 * commands it would run, the production and Flow checks, and the Setup checklist.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ComponentSet, MetadataConverter } from '@salesforce/source-deploy-retrieve';
import JSZip from 'jszip';
import {
  EMULATOR_ALIAS,
  FLOW_ACTIVATION_STEP,
  FLOW_NAME,
  loginCommand,
  PLACEHOLDERS,
  REPLACEMENT_ENV,
  UsageError,
  activateFlowCommand,
  assignmentCommands,
  checkReplacements,
  deployCommand,
  flowQuery,
  flowState,
  hasRecordAccess,
  isProduction,
  main,
  normalizeProxyUrl,
  organizationQuery,
  outboundEndpoint,
  parseArgs,
  projectTestClasses,
  queryRecords,
  replacementEnvironment,
  setupChecklist,
  type DeployOptions,
} from '../../scripts/deploy-org';

const root = path.resolve(__dirname, '../..');
const TOKEN = 'tok_0123456789abcdefghijklmnop';
const BASE_ARGS = [
  '--target-org',
  'acme-prod',
  '--proxy-url',
  'https://sync.acme.example/',
  '--integration-user',
  'integration@acme.example',
];

function options(overrides: Partial<DeployOptions> = {}): DeployOptions {
  return { ...parseArgs(BASE_ARGS, { OUTBOUND_MESSAGE_TOKEN: TOKEN }), ...overrides };
}

/** force-app converted to a metadata zip by source-deploy-retrieve, with `env` set meanwhile. */
async function convert(env: Record<string, string>): Promise<Map<string, string>> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    const set = ComponentSet.fromSource(path.join(root, 'force-app'));
    set.projectDirectory = root;
    const converted = await new MetadataConverter().convert(set, 'metadata', { type: 'zip' });
    const zip = await JSZip.loadAsync(converted.zipBuffer!);
    const files = new Map<string, string>();
    for (const entry of Object.values(zip.files))
      if (!entry.dir) files.set(entry.name, await entry.async('string'));
    return files;
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

describe('parseArgs', () => {
  it('reads the required options, the token from the environment, and defaults', () => {
    const parsed = parseArgs(BASE_ARGS, { OUTBOUND_MESSAGE_TOKEN: TOKEN });
    expect(parsed).toEqual({
      targetOrg: 'acme-prod',
      proxyUrl: 'https://sync.acme.example',
      outboundToken: TOKEN,
      integrationUser: 'integration@acme.example',
      adminUsers: [],
      validate: false,
      testLevel: 'RunLocalTests',
      waitMinutes: 60,
      printOnly: false,
      postDeploy: false,
    });
  });

  it('accepts --name=value, admin lists, validate, test level, wait and an explicit token', () => {
    const parsed = parseArgs(
      [
        ...BASE_ARGS,
        '--admin-users=alice@acme.example, bob@acme.example',
        '--validate',
        '--test-level',
        'RunAllTestsInOrg',
        '--wait=15',
        '--outbound-token',
        'x'.repeat(30),
        '--print-only',
      ],
      {},
    );
    expect(parsed.adminUsers).toEqual(['alice@acme.example', 'bob@acme.example']);
    expect(parsed.validate).toBe(true);
    expect(parsed.testLevel).toBe('RunAllTestsInOrg');
    expect(parsed.waitMinutes).toBe(15);
    expect(parsed.outboundToken).toBe('x'.repeat(30));
    expect(parsed.printOnly).toBe(true);
  });

  it.each([
    [['--proxy-url', 'https://a.example', '--integration-user', 'i@a.example'], /--target-org is required/],
    [[...BASE_ARGS, '--bogus'], /Unknown argument --bogus/],
    [[...BASE_ARGS, '--wait'], /--wait needs a value/],
    [[...BASE_ARGS, '--wait', '0'], /--wait must be/],
    [[...BASE_ARGS, '--test-level', 'RunSomeTests'], /--test-level must be one of/],
    [[...BASE_ARGS, '--validate', '--post-deploy'], /cannot be combined with --validate/],
    [[...BASE_ARGS, '--validate', '--test-level', 'NoTestRun'], /--validate runs the Apex tests/],
    [[...BASE_ARGS, '--admin-users', 'not-a-user'], /not a username/],
    [
      ['--target-org', 'x', '--proxy-url', 'https://a.example', '--integration-user', 'nobody'],
      /not a username/,
    ],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv, { OUTBOUND_MESSAGE_TOKEN: TOKEN })).toThrow(message);
  });

  it('requires a token of at least 24 URL-safe characters', () => {
    expect(() => parseArgs(BASE_ARGS, {})).toThrow(UsageError);
    expect(() => parseArgs(BASE_ARGS, { OUTBOUND_MESSAGE_TOKEN: 'short' })).toThrow(/at least 24/);
    expect(() => parseArgs(BASE_ARGS, { OUTBOUND_MESSAGE_TOKEN: `${'a'.repeat(24)}/x` })).toThrow(
      /at least 24/,
    );
  });

  it('answers --help with the usage', () => {
    expect(() => parseArgs(['--help'], {})).toThrow(/Usage: npx tsx scripts\/deploy-org.ts/);
  });
});

describe('normalizeProxyUrl', () => {
  it('drops trailing slashes and keeps a base path', () => {
    expect(normalizeProxyUrl('https://sync.acme.example/base//')).toBe('https://sync.acme.example/base');
  });

  it('allows http only for a local proxy', () => {
    expect(normalizeProxyUrl('http://localhost:3000')).toBe('http://localhost:3000');
    expect(() => normalizeProxyUrl('http://sync.acme.example')).toThrow(/must use https/);
  });

  it.each([
    'not a url',
    'https://user:pw@sync.acme.example',
    'https://sync.acme.example/?a=1',
    'ftp://x.example',
  ])('rejects %s', (url) => {
    expect(() => normalizeProxyUrl(url)).toThrow(UsageError);
  });
});

describe('sfdx-project.json replacements', () => {
  const values = replacementEnvironment(options());

  it('cover every placeholder in force-app, gated by CUSTOMPMS_REPLACE_PLACEHOLDERS, never allowing an unset variable', () => {
    expect(checkReplacements(root)).toEqual([]);
  });

  it('are applied by source-deploy-retrieve (what the CLI sends) when the variables are set', async () => {
    const files = await convert(values);
    const all = [...files.values()].join('\n');
    expect(all).not.toMatch(/proxy\.invalid|custompms\.invalid|REPLACE_WITH_/);
    expect(files.get('workflows/Task.workflow')).toContain(
      `<endpointUrl>https://sync.acme.example/salesforce/v1/outbound-messages/${TOKEN}</endpointUrl>`,
    );
    expect(files.get('workflows/Task.workflow')).toContain(
      '<integrationUser>integration@acme.example</integrationUser>',
    );
    expect(files.get('namedCredentials/Custompms_Proxy.namedCredential')).toContain(
      '<parameterValue>https://sync.acme.example</parameterValue>',
    );
    const configs = [...files].filter(([name]) => /platformEventSubscriberConfig$/i.test(name));
    expect(configs.length).toBe(2);
    for (const [, xml] of configs) expect(xml).toContain('<user>integration@acme.example</user>');
  }, 60_000);

  it('leave the placeholders alone without CUSTOMPMS_REPLACE_PLACEHOLDERS (the emulator and offline checks convert the same project)', async () => {
    const { [REPLACEMENT_ENV.enable]: _enable, ...rest } = values;
    const files = await convert({ ...rest, [REPLACEMENT_ENV.enable]: 'false' });
    expect(files.get('namedCredentials/Custompms_Proxy.namedCredential')).toContain(PLACEHOLDERS.proxyUrl);
    expect(files.get('workflows/Task.workflow')).toContain(PLACEHOLDERS.outboundEndpoint);
  }, 60_000);

  it('escapes XML in the values and keeps the token as it is', () => {
    expect(replacementEnvironment({ ...options(), proxyUrl: 'https://a.example/x&y' })).toMatchObject({
      CUSTOMPMS_REPLACE_PLACEHOLDERS: 'true',
      CUSTOMPMS_PROXY_URL: 'https://a.example/x&amp;y',
      OUTBOUND_MESSAGE_TOKEN: TOKEN,
      CUSTOMPMS_INTEGRATION_USER: 'integration@acme.example',
    });
  });

  it('reports a placeholder without a replacement, and an ungated or unset-allowing entry', () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'replacements-'));
    try {
      cpSync(path.join(root, 'force-app'), path.join(copy, 'force-app'), { recursive: true });
      const project = JSON.parse(readFileSync(path.join(root, 'sfdx-project.json'), 'utf8')) as {
        replacements: Record<string, unknown>[];
      };
      project.replacements = project.replacements.filter(
        (r) => r.replaceWithEnv !== 'OUTBOUND_MESSAGE_TOKEN',
      );
      delete project.replacements[0]!.replaceWhenEnv;
      project.replacements[1]!.allowUnsetEnvVariable = true;
      writeFileSync(path.join(copy, 'sfdx-project.json'), JSON.stringify(project));
      expect(checkReplacements(copy)).toEqual([
        'replacements[0] is not gated by CUSTOMPMS_REPLACE_PLACEHOLDERS=true',
        'replacements[1] allows an unset variable',
        'force-app/main/default/workflows/Task.workflow-meta.xml: no replacement of REPLACE_WITH_TOKEN by $OUTBOUND_MESSAGE_TOKEN',
      ]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('builds the endpoint the proxy serves', () => {
    expect(outboundEndpoint('https://p.example', 't')).toBe(
      'https://p.example/salesforce/v1/outbound-messages/t',
    );
  });
});

describe('production orgs and the Flow', () => {
  it('treats only a non-sandbox, non-Developer-Edition org as production', () => {
    expect(isProduction({ IsSandbox: false, OrganizationType: 'Enterprise Edition' })).toBe(true);
    expect(isProduction({ IsSandbox: true, OrganizationType: 'Enterprise Edition' })).toBe(false);
    expect(isProduction({ IsSandbox: false, OrganizationType: 'Developer Edition' })).toBe(false);
  });

  it('reads the org, the Flow definition and activates the latest version through the Tooling API', () => {
    expect(organizationQuery(options()).args).toEqual([
      'api',
      'request',
      'rest',
      `/services/data/v65.0/query?q=${encodeURIComponent('SELECT IsSandbox, OrganizationType FROM Organization')}`,
      '--target-org',
      'acme-prod',
    ]);
    expect(decodeURIComponent(flowQuery(options()).args[3]!)).toBe(
      `/services/data/v65.0/tooling/query?q=SELECT Id, ActiveVersionId, LatestVersion.VersionNumber FROM FlowDefinition WHERE DeveloperName = '${FLOW_NAME}'`,
    );
    expect(activateFlowCommand(options(), '300000000000001AAA', 3).args).toEqual([
      'api',
      'request',
      'rest',
      '/services/data/v65.0/tooling/sobjects/FlowDefinition/300000000000001AAA',
      '--method',
      'PATCH',
      '--body',
      '{"Metadata":{"activeVersionNumber":3}}',
      '--target-org',
      'acme-prod',
    ]);
  });

  it('parses the CLI answers', () => {
    const answer = (records: unknown[]) => JSON.stringify({ totalSize: records.length, done: true, records });
    expect(
      flowState(
        queryRecords(answer([{ Id: '300x', ActiveVersionId: null, LatestVersion: { VersionNumber: 2 } }])),
      ),
    ).toEqual({ id: '300x', active: false, latestVersion: 2 });
    expect(
      flowState(queryRecords(answer([{ Id: '300x', ActiveVersionId: '301y', LatestVersion: null }]))),
    ).toEqual({
      id: '300x',
      active: true,
      latestVersion: null,
    });
    expect(flowState([])).toBeNull();
    expect(() => queryRecords(JSON.stringify([{ errorCode: 'INVALID_TYPE', message: 'no Bogus' }]))).toThrow(
      /INVALID_TYPE: no Bogus/,
    );
    expect(
      hasRecordAccess([
        { PermissionSet: { PermissionsViewAllData: true, PermissionsModifyAllData: false } },
        { PermissionSet: { PermissionsViewAllData: false, PermissionsModifyAllData: true } },
      ]),
    ).toEqual({ viewAll: true, modifyAll: true });
    expect(hasRecordAccess([])).toEqual({ viewAll: false, modifyAll: false });
  });

  it('names the Setup step when the Flow cannot be activated', () => {
    expect(FLOW_ACTIVATION_STEP).toMatch(/Flows → "Custompms Task Outbound Message" → .*Activate/);
    expect(FLOW_ACTIVATION_STEP).toMatch(/Deploy processes and flows as active/);
  });
});

describe('sf commands', () => {
  it('runs exactly the project test classes with RunSpecifiedTests', () => {
    const classes = projectTestClasses(root);
    expect(classes).toEqual(
      expect.arrayContaining(['CustompmsPullJob_Tests', 'CustompmsRecordWriter_Tests']),
    );
    expect(classes.every((name) => name.endsWith('_Tests'))).toBe(true);
    const args = deployCommand(options({ testLevel: 'RunSpecifiedTests' }), classes).args;
    expect(args.filter((arg) => arg === '--tests')).toHaveLength(classes.length);
    expect(args).toEqual(
      expect.arrayContaining(['--test-level', 'RunSpecifiedTests', '--tests', classes[0]!]),
    );
    expect(deployCommand(options(), classes).args).not.toContain('--tests');
  });

  it('deploys with RunLocalTests by default and assigns the integration permission set', () => {
    expect(deployCommand(options()).args).toEqual([
      'project',
      'deploy',
      'start',
      '--source-dir',
      'force-app',
      '--target-org',
      'acme-prod',
      '--test-level',
      'RunLocalTests',
      '--wait',
      '60',
    ]);
    const assignments = assignmentCommands(options({ adminUsers: ['a@acme.example', 'b@acme.example'] }));
    expect(assignments.map((command) => command.display)).toEqual([
      'sf org assign permset --name Custompms_Integration --on-behalf-of integration@acme.example --target-org acme-prod',
      'sf org assign permset --name Custompms_Admin --on-behalf-of a@acme.example --on-behalf-of b@acme.example --target-org acme-prod',
    ]);
  });

  it('validates as a check-only deploy that runs the tests and assigns nothing', () => {
    const validate = options({ validate: true });
    expect(deployCommand(validate).args.slice(0, 4)).toEqual(['project', 'deploy', 'start', '--dry-run']);
    expect(deployCommand(validate).args).toContain('RunLocalTests');
    expect(assignmentCommands(validate)).toEqual([]);
  });

  it('never shows the token in a printed command or the checklist', () => {
    const printed = [
      deployCommand(options()).display,
      ...assignmentCommands(options()).map((c) => c.display),
      ...setupChecklist(options()),
    ].join('\n');
    expect(printed).not.toContain(TOKEN);
  });
});

describe('setupChecklist', () => {
  it('names the credential secret, the divisions check and the integration user', () => {
    const steps = setupChecklist(options()).join('\n');
    expect(steps).toMatch(/ApiKey/);
    expect(steps).toMatch(/PROXY_API_KEY/);
    expect(steps).toMatch(/[Dd]ivisions/);
    expect(steps).toMatch(/integration@acme\.example/);
    expect(steps).toMatch(/SALESFORCE_ORG_ID/);
  });
});

describe('main', () => {
  let log: jest.SpiedFunction<typeof console.log>;
  let error: jest.SpiedFunction<typeof console.error>;
  beforeEach(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    log.mockRestore();
    error.mockRestore();
  });

  it('prints the commands and the checklist with --print-only, without the token', () => {
    expect(main([...BASE_ARGS, '--print-only'], { OUTBOUND_MESSAGE_TOKEN: TOKEN })).toBe(0);
    const output = log.mock.calls.map((call) => String(call[0])).join('\n');
    expect(output).toContain('sf project deploy start --source-dir force-app --target-org acme-prod');
    expect(output).toMatch(/still to do in Setup/i);
    expect(output).not.toContain(TOKEN);
  });

  it('with --post-deploy prints no deploy, only the Flow check and the assignments', () => {
    expect(main([...BASE_ARGS, '--print-only', '--post-deploy'], { OUTBOUND_MESSAGE_TOKEN: TOKEN })).toBe(0);
    const output = log.mock.calls.map((call) => String(call[0])).join('\n');
    expect(output).not.toContain('project deploy start');
    expect(output).toContain('FlowDefinition');
    expect(output).toContain('org assign permset --name Custompms_Integration');
  });

  it('exits 2 with the reason on a bad command line', () => {
    expect(main(['--target-org'], {})).toBe(2);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/--target-org needs a value/);
  });
});

describe('the emulator target', () => {
  const ACCESS = '00D8d0000000001!AQ_token.value';
  const EMULATOR_ARGS = [
    '--emulator',
    'http://127.0.0.1:8484/',
    '--proxy-url',
    'http://127.0.0.1:3000',
    '--integration-user',
    'integration@custompms.example',
  ];

  it('logs in under its own alias with the token from SF_ACCESS_TOKEN and deploys without tests', () => {
    const parsed = parseArgs(EMULATOR_ARGS, { OUTBOUND_MESSAGE_TOKEN: TOKEN, SF_ACCESS_TOKEN: ACCESS });
    expect(parsed).toMatchObject({
      targetOrg: EMULATOR_ALIAS,
      testLevel: 'NoTestRun',
      emulator: { instanceUrl: 'http://127.0.0.1:8484', accessToken: ACCESS },
    });
    const login = loginCommand(parsed)!;
    expect(login.args).toEqual([
      'org',
      'login',
      'access-token',
      '--instance-url',
      'http://127.0.0.1:8484',
      '--no-prompt',
      '--alias',
      EMULATOR_ALIAS,
    ]);
    expect(login.display).not.toContain(ACCESS);
    expect(deployCommand(parsed).args).toEqual(expect.arrayContaining(['--test-level', 'NoTestRun']));
    expect(assignmentCommands(parsed)).toEqual([]);
  });

  it('validates without tests on the emulator only', () => {
    expect(
      parseArgs([...EMULATOR_ARGS, '--validate'], { OUTBOUND_MESSAGE_TOKEN: TOKEN, SF_ACCESS_TOKEN: ACCESS })
        .validate,
    ).toBe(true);
    expect(() =>
      parseArgs([...BASE_ARGS, '--validate', '--test-level', 'NoTestRun'], { OUTBOUND_MESSAGE_TOKEN: TOKEN }),
    ).toThrow(/--validate runs the Apex tests/);
  });

  it.each([
    [[...EMULATOR_ARGS], {}, /needs an access token/],
    [[...EMULATOR_ARGS, '--access-token', 'not-a-token'], {}, /shaped like 00D/],
    [['--emulator', 'ftp://x', ...EMULATOR_ARGS.slice(2)], { SF_ACCESS_TOKEN: ACCESS }, /http\(s\) URL/],
    [[...BASE_ARGS, '--access-token', ACCESS], {}, /only used with --emulator/],
  ])('rejects %j', (argv, env, message) => {
    expect(() => parseArgs(argv, { OUTBOUND_MESSAGE_TOKEN: TOKEN, ...env })).toThrow(message);
  });

  it('leaves a real org without a login step', () => {
    expect(loginCommand(options())).toBeUndefined();
  });
});
