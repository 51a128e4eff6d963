/**
 * The deploy script's logic, offline: argument parsing, substitution into a temporary copy (the
 * committed source stays untouched), the sf commands it would run, and the Setup checklist.
 */
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  EMULATOR_ALIAS,
  loginCommand,
  PLACEHOLDERS,
  SUBSTITUTED_FILES,
  UsageError,
  assignmentCommands,
  deployCommand,
  main,
  normalizeProxyUrl,
  outboundEndpoint,
  parseArgs,
  prepareDeployProject,
  replaceElementText,
  setupChecklist,
  substituteNamedCredential,
  substituteSubscriberConfig,
  substituteWorkflow,
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

function snapshot(folder: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else files.set(path.relative(root, file), readFileSync(file, 'utf8'));
    }
  };
  walk(folder);
  return files;
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
    [[...BASE_ARGS, '--test-level', 'RunSpecifiedTests'], /--test-level must be one of/],
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

describe('substitution', () => {
  const workflow = readFileSync(path.join(root, SUBSTITUTED_FILES.workflow), 'utf8');

  it('sets the outbound endpoint and the integration user of the outbound message', () => {
    const result = substituteWorkflow(workflow, options());
    expect(result).toContain(
      `<endpointUrl>https://sync.acme.example/salesforce/v1/outbound-messages/${TOKEN}</endpointUrl>`,
    );
    expect(result).toContain('<integrationUser>integration@acme.example</integrationUser>');
    expect(result).not.toMatch(/\.invalid|REPLACE_WITH/);
  });

  it('sets the Named Credential URL', () => {
    const xml = readFileSync(path.join(root, SUBSTITUTED_FILES.namedCredential), 'utf8');
    expect(substituteNamedCredential(xml, 'https://sync.acme.example')).toContain(
      '<parameterValue>https://sync.acme.example</parameterValue>',
    );
  });

  it('sets the user of every subscriber config', () => {
    const folder = path.join(root, SUBSTITUTED_FILES.subscriberConfigs);
    for (const name of readdirSync(folder)) {
      const xml = readFileSync(path.join(folder, name), 'utf8');
      expect(substituteSubscriberConfig(xml, 'integration@acme.example', name)).toContain(
        '<user>integration@acme.example</user>',
      );
    }
  });

  it('fails loudly when a placeholder is missing instead of deploying it', () => {
    expect(() => replaceElementText('<a>other</a>', 'a', PLACEHOLDERS.proxyUrl, 'x', 'f.xml')).toThrow(
      /f\.xml: no <a>https:\/\/proxy\.invalid<\/a>/,
    );
  });

  it('escapes XML in substituted values', () => {
    expect(replaceElementText('<a>P</a>', 'a', 'P', 'x&y<z', 'f')).toBe('<a>x&amp;y&lt;z</a>');
  });

  it('builds the endpoint the proxy serves', () => {
    expect(outboundEndpoint('https://p.example', 't')).toBe(
      'https://p.example/salesforce/v1/outbound-messages/t',
    );
  });
});

describe('prepareDeployProject', () => {
  it('substitutes in a temporary copy and leaves the committed source untouched', () => {
    const before = snapshot(path.join(root, 'force-app'));
    const copy = prepareDeployProject(root, options());
    try {
      expect(snapshot(path.join(root, 'force-app'))).toEqual(before);
      const copied = readFileSync(path.join(copy, SUBSTITUTED_FILES.workflow), 'utf8');
      expect(copied).toContain(`/salesforce/v1/outbound-messages/${TOKEN}</endpointUrl>`);
      expect(readFileSync(path.join(copy, 'sfdx-project.json'), 'utf8')).toContain('force-app');
      // Every other file is copied as is.
      const copiedFiles = [...snapshot(path.join(copy, 'force-app')).keys()].map((file) =>
        path.relative(path.relative(root, copy), file),
      );
      expect(copiedFiles.sort()).toEqual([...before.keys()].sort());
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('sf commands', () => {
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
