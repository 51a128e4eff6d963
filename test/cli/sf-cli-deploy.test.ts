/**
 * The real sf CLI (the project's @salesforce/cli dev dependency) against the Salesforce emulator:
 * the deploy script logs in and deploys force-app (every component in the Deployed Source
 * table), `--validate` changes nothing, a broken copy fails with a row per fault (file and line),
 * Apex tests get an honest refusal, and the deployed org runs the Flow → outbound message path.
 * Slow by nature (each CLI start takes seconds on two cores): few, meaningful cases.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ComponentSet } from '@salesforce/source-deploy-retrieve';
import { SUBSTITUTED_FILES } from '../../scripts/deploy-org';
import { startSalesforceEmulator, type SalesforceEmulator } from '../emulators/salesforce';
import { findField } from '../emulators/salesforce/schema/types';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '../..');
const SF = path.join(ROOT, 'node_modules', '.bin', 'sf');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const OUTBOUND_TOKEN = 'cli-test-outbound-token-0123456789';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the emulator answers from this process). */
function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: {
        ...process.env,
        SF_DISABLE_TELEMETRY: 'true',
        SF_SKIP_NEW_VERSION_CHECK: 'true',
        SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
        FORCE_COLOR: '0',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The environment README "Deploying the org metadata" documents for a plain `sf project deploy start`. */
function documentedEnv(integrationUser: string): Record<string, string> {
  return {
    CUSTOMPMS_REPLACE_PLACEHOLDERS: 'true',
    CUSTOMPMS_PROXY_URL: 'http://127.0.0.1:9',
    CUSTOMPMS_INTEGRATION_USER: integrationUser,
    OUTBOUND_MESSAGE_TOKEN: OUTBOUND_TOKEN,
  };
}

describe('the real sf CLI against the Salesforce emulator', () => {
  let sf: SalesforceEmulator;
  let token: string;

  beforeAll(async () => {
    sf = await startSalesforceEmulator();
    token = sf.tokenFor(sf.adminUsername);
  });

  afterAll(async () => {
    await sf.close();
  });

  const deployScript = (...extra: string[]): Promise<Run> =>
    run(
      TSX,
      [
        'scripts/deploy-org.ts',
        '--emulator',
        sf.url,
        '--proxy-url',
        'http://127.0.0.1:9',
        '--integration-user',
        sf.integrationUsername,
        '--outbound-token',
        OUTBOUND_TOKEN,
        ...extra,
      ],
      { env: { SF_ACCESS_TOKEN: token } },
    );

  it('starts with standard objects only; --validate changes nothing; the deploy lists every component and changes the org', async () => {
    const task = () => sf.org.schema.object('Task')!;
    expect(findField(task(), 'Custompms_Type__c')).toBeUndefined();
    expect(sf.org.schema.object('Custompms_Change__e')).toBeUndefined();

    const validation = await deployScript('--validate');
    expect(validation.code).toBe(0);
    expect(findField(task(), 'Custompms_Type__c')).toBeUndefined();
    expect(sf.org.schema.flows.size).toBe(0);

    const deploy = await deployScript();
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain('Deployed Source');
    const components = ComponentSet.fromSource(path.join(ROOT, 'force-app'));
    // A terminal gets a boxed table; with CI=true the CLI prints plain columns.
    const table = deploy.stdout
      .slice(deploy.stdout.indexOf('Deployed Source'))
      .split('\n')
      .map((line) =>
        (line.includes('│') ? line.split('│') : line.trim().split(/\s{2,}/)).map((cell) => cell.trim()),
      );
    for (const c of components.getSourceComponents()) {
      const row = table.find((cells) => cells.includes(c.fullName) && cells.includes(c.type.name));
      expect(row ? `${c.type.name} ${c.fullName}` : `missing ${c.type.name} ${c.fullName}`).toBe(
        `${c.type.name} ${c.fullName}`,
      );
    }

    expect(findField(task(), 'Custompms_Type__c')!.picklistValues.map((v) => v.value)).toEqual([
      'Project',
      'Task',
    ]);
    expect(sf.org.schema.object('Custompms_Change__e')?.kind).toBe('platformEvent');
    expect(sf.org.schema.outboundMessages.get('Task.Custompms_Task_Changed')?.endpointUrl).toBe(
      `http://127.0.0.1:9/salesforce/v1/outbound-messages/${OUTBOUND_TOKEN}`,
    );
    expect(sf.org.schema.flows.get('Custompms_Task_Outbound_Message')?.start.filters).toEqual([
      expect.objectContaining({ field: 'Custompms_Type__c', operator: 'IsNull' }),
    ]);
    expect(sf.org.warnings).toEqual([]);

    // The deployed Flow and outbound message now drive the org: a typed Task queues a notification.
    sf.org.setOutboundEndpoint('http://127.0.0.1:9/unreachable');
    const created = await fetch(`${sf.url}/services/data/v65.0/sobjects/Task`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${sf.tokenFor(sf.adminUsername)}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ Subject: 'From the CLI-deployed org', Custompms_Type__c: 'Task' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const queued = [
      ...sf.org.outbound.queue,
      ...sf.org.outbound.attempts.map((a) => ({ recordId: a.recordIds[0] })),
    ];
    expect(queued.some((n) => n.recordId === id)).toBe(true);
  });

  it('fails a broken copy with a component-failure row per fault, file and line included, and applies none of it', async () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'sf-cli-broken-'));
    for (const entry of ['sfdx-project.json', '.forceignore', 'force-app']) {
      cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
    }
    const home = mkdtempSync(path.join(tmpdir(), 'sf-cli-home-'));
    try {
      const metadata = path.join(copy, 'force-app', 'main', 'default');
      const edit = (relative: string, change: (text: string) => string) => {
        const file = path.join(metadata, relative);
        writeFileSync(file, change(readFileSync(file, 'utf8')));
      };
      // 1. Malformed field XML: an unclosed <label> swallows the elements after it.
      edit('objects/Activity/fields/Custompms_Project_Id__c.field-meta.xml', (x) =>
        x.replace('<label>Custompms Project Id</label>', '<label>Custompms Project Id'),
      );
      // 2. An Apex syntax error: a stray closing brace after the class.
      let braceLine = 0;
      edit('classes/CustompmsQueue.cls', (x) => {
        const text = `${x.trimEnd()}\n}\n`;
        braceLine = text.trimEnd().split('\n').length;
        return text;
      });
      // 3. An outbound message naming a field Task does not have.
      edit(path.relative(path.join('force-app', 'main', 'default'), SUBSTITUTED_FILES.workflow), (x) =>
        x.replace(
          '<fields>Subject</fields>',
          '<fields>Subject</fields>\n        <fields>No_Such_Field__c</fields>',
        ),
      );
      const env = { HOME: home, SF_ACCESS_TOKEN: token, ...documentedEnv(sf.integrationUsername) };
      const login = await run(
        SF,
        ['org', 'login', 'access-token', '--instance-url', sf.url, '--no-prompt', '--alias', 'emu'],
        { cwd: copy, env },
      );
      expect(login.code).toBe(0);
      const before = sf.org.schema.apexClasses.size;
      const deploy = await run(
        SF,
        [
          'project',
          'deploy',
          'start',
          '--source-dir',
          'force-app',
          '--target-org',
          'emu',
          '--test-level',
          'NoTestRun',
          '--wait',
          '5',
          '--json',
        ],
        { cwd: copy, env },
      );
      expect(deploy.code).not.toBe(0);
      const json = JSON.parse(deploy.stdout) as {
        result?: {
          files: {
            state: string;
            fullName: string;
            type: string;
            filePath?: string;
            lineNumber?: number;
            error?: string;
          }[];
        };
        data?: {
          files: {
            state: string;
            fullName: string;
            type: string;
            filePath?: string;
            lineNumber?: number;
            error?: string;
          }[];
        };
      };
      const files = (json.result ?? json.data)!.files.filter((f) => f.state === 'Failed');
      const row = (type: string, fullName: string) =>
        files.find((f) => f.type === type && f.fullName === fullName);
      expect(row('CustomField', 'Activity.Custompms_Project_Id__c')).toEqual(
        expect.objectContaining({
          filePath: expect.stringContaining('Custompms_Project_Id__c.field-meta.xml'),
          lineNumber: expect.any(Number),
        }),
      );
      expect(row('ApexClass', 'CustompmsQueue')).toEqual(
        expect.objectContaining({
          filePath: expect.stringContaining('CustompmsQueue.cls'),
          lineNumber: braceLine,
        }),
      );
      expect(
        row('WorkflowOutboundMessage', 'Task.Custompms_Task_Changed') ?? row('Workflow', 'Task'),
      ).toEqual(
        expect.objectContaining({
          filePath: expect.stringContaining('Task.workflow-meta.xml'),
          lineNumber: expect.any(Number),
          error: expect.stringContaining('No_Such_Field__c'),
        }),
      );
      expect(sf.org.schema.apexClasses.size).toBe(before);
      expect(sf.org.schema.outboundMessages.get('Task.Custompms_Task_Changed')?.fields).not.toContain(
        'No_Such_Field__c',
      );

      // Apex tests: an honest refusal, never invented results.
      const tests = await run(SF, ['apex', 'run', 'test', '--target-org', 'emu', '--wait', '1'], {
        cwd: copy,
        env,
      });
      expect(tests.code).not.toBe(0);
      expect(`${tests.stdout}${tests.stderr}`).toContain('Apex tests cannot run in the Salesforce emulator');
    } finally {
      rmSync(copy, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('deploys force-app with a plain `sf project deploy start` and only the documented environment; deploy-org --post-deploy then checks the Flow', async () => {
    const plain = await startSalesforceEmulator();
    const home = mkdtempSync(path.join(tmpdir(), 'sf-cli-home-'));
    try {
      const env = { HOME: home, SF_ACCESS_TOKEN: plain.tokenFor(plain.adminUsername) };
      const login = await run(
        SF,
        ['org', 'login', 'access-token', '--instance-url', plain.url, '--no-prompt', '--alias', 'plain'],
        { env },
      );
      expect(login.code).toBe(0);
      const deployArgs = ['project', 'deploy', 'start', '--source-dir', 'force-app', '--target-org', 'plain'];
      // Without the variables the placeholders would reach the org: the integration user placeholder
      // names no user, so the deploy fails instead of deploying a dead endpoint.
      const withoutEnv = await run(
        SF,
        [...deployArgs, '--test-level', 'NoTestRun', '--wait', '5', '--json'],
        {
          env,
        },
      );
      expect(withoutEnv.code).not.toBe(0);
      expect(plain.org.schema.apexClasses.size).toBe(0);

      const deploy = await run(SF, [...deployArgs, '--test-level', 'NoTestRun', '--wait', '5'], {
        env: { ...env, ...documentedEnv(plain.integrationUsername) },
      });
      expect(deploy.code).toBe(0);
      expect(plain.org.schema.outboundMessages.get('Task.Custompms_Task_Changed')).toMatchObject({
        endpointUrl: `http://127.0.0.1:9/salesforce/v1/outbound-messages/${OUTBOUND_TOKEN}`,
      });
      const committed = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');
      expect(committed(SUBSTITUTED_FILES.workflow)).toContain('REPLACE_WITH_TOKEN');
      expect(committed(SUBSTITUTED_FILES.namedCredential)).toContain('https://proxy.invalid');

      // The script's checks on top of the plain deploy: the Flow is verified active.
      const post = await run(
        TSX,
        [
          'scripts/deploy-org.ts',
          '--emulator',
          plain.url,
          '--proxy-url',
          'http://127.0.0.1:9',
          '--integration-user',
          plain.integrationUsername,
          '--outbound-token',
          OUTBOUND_TOKEN,
          '--post-deploy',
        ],
        { env: { SF_ACCESS_TOKEN: plain.tokenFor(plain.adminUsername) } },
      );
      expect(`${post.code} ${post.stdout}`).toMatch(
        /^0 [\s\S]*Flow Custompms_Task_Outbound_Message is active/,
      );
      expect(post.stdout).not.toContain('project deploy start');
    } finally {
      rmSync(home, { recursive: true, force: true });
      await plain.close();
    }
  });
});
