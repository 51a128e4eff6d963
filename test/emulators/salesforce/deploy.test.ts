/**
 * Metadata API deploys without the CLI: a new org has only standard objects; the SOAP and REST
 * deploy calls run asynchronously (Pending → InProgress → done), can be canceled and
 * quick-deployed after a validation; the validator rejects each kind of fault with a
 * component failure (line and column where the file has one) and applies nothing; a test level
 * that runs Apex tests fails honestly.
 */
import JSZip from 'jszip';
import { DEFAULT_FORCE_APP, SalesforceOrg } from './org';
import { APEX_TESTS_UNAVAILABLE } from './metadata/jobs';
import { convertSource } from './metadata/source';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { findField } from './schema/types';

const SUBSTITUTE = (files: Map<string, string>, org: SalesforceOrg): Map<string, string> =>
  new Map(
    [...files].map(([name, text]) => [
      name,
      text
        .split('replace-with-integration-username@custompms.invalid')
        .join(org.options.integrationUser.username),
    ]),
  );

async function forceApp(org: SalesforceOrg): Promise<Map<string, string>> {
  return SUBSTITUTE(await convertSource(DEFAULT_FORCE_APP), org);
}

function edit(
  files: Map<string, string>,
  name: string,
  change: (text: string) => string,
): Map<string, string> {
  const copy = new Map(files);
  const text = copy.get(name);
  if (text === undefined) throw new Error(`no ${name} in the package`);
  copy.set(name, change(text));
  return copy;
}

describe('a new org', () => {
  it('has only standard objects until a deploy brings force-app', async () => {
    const org = new SalesforceOrg();
    const task = org.schema.object('Task')!;
    expect(task.fields.filter((f) => f.custom)).toEqual([]);
    expect(org.schema.object('Custompms_Change__e')).toBeUndefined();
    expect(org.schema.flows.size + org.schema.outboundMessages.size + org.schema.apexTriggers.size).toBe(0);
    await org.deploySource();
    expect(findField(org.schema.object('Task')!, 'Custompms_Type__c')).toBeDefined();
    expect(org.schema.object('Custompms_Change__e')?.kind).toBe('platformEvent');
    expect(org.warnings).toEqual([]);
    await org.stop();
  });
});

describe('the validator', () => {
  let org: SalesforceOrg;
  let files: Map<string, string>;

  beforeAll(async () => {
    org = new SalesforceOrg();
    files = await forceApp(org);
  });

  afterAll(async () => {
    await org.stop();
  });

  const failuresOf = (package_: Map<string, string>) => {
    const outcome = org.deployFiles(package_, { checkOnly: false });
    expect(outcome.success).toBe(false);
    expect(outcome.applied).toBe(0);
    expect(org.schema.apexClasses.size).toBe(0);
    return outcome.messages.filter((m) => !m.success);
  };

  it('accepts force-app as it is (check only: nothing applied)', () => {
    const outcome = org.deployFiles(files, { checkOnly: true });
    expect(outcome.messages.filter((m) => !m.success)).toEqual([]);
    expect(outcome.success).toBe(true);
    expect(org.schema.object('Custompms_Change__e')).toBeUndefined();
  });

  it.each([
    [
      'a Text field longer than 255',
      'objects/Activity.object',
      (x: string) => x.replace('<length>64</length>', '<length>300</length>'),
      {
        componentType: 'CustomField',
        fullName: 'Activity.Custompms_Id__c',
        problem: expect.stringContaining('between 1 and 255'),
      },
    ],
    [
      'an unknown field type',
      'objects/Custompms_Change__e.object',
      (x: string) => x.replace('<type>Number</type>', '<type>Numbr</type>'),
      {
        componentType: 'CustomField',
        fullName: 'Custompms_Change__e.Record_Count__c',
        problem: expect.stringContaining("'Numbr'"),
      },
    ],
    [
      'a duplicate picklist value',
      'objects/Activity.object',
      (x: string) => x.replace('<fullName>Task</fullName>', '<fullName>Project</fullName>'),
      {
        componentType: 'CustomField',
        fullName: 'Activity.Custompms_Type__c',
        problem: expect.stringContaining("duplicate picklist value 'Project'"),
      },
    ],
    [
      'an external id on a platform event field',
      'objects/Custompms_Change__e.object',
      (x: string) =>
        x.replace(
          '<fullName>Batch_Id__c</fullName>',
          '<fullName>Batch_Id__c</fullName><externalId>true</externalId>',
        ),
      {
        componentType: 'CustomField',
        fullName: 'Custompms_Change__e.Batch_Id__c',
        problem: expect.stringContaining("can't be externalId"),
      },
    ],
    [
      'a Flow entry condition on a missing field',
      'flows/Custompms_Task_Outbound_Message.flow',
      (x: string) => x.replace('<field>Custompms_Type__c</field>', '<field>Nope__c</field>'),
      {
        componentType: 'Flow',
        fullName: 'Custompms_Task_Outbound_Message',
        problem: expect.stringContaining('Task.Nope__c does not exist'),
      },
    ],
    [
      'a Flow connector to no element',
      'flows/Custompms_Task_Outbound_Message.flow',
      (x: string) =>
        x.replace(
          /<targetReference>([^<]+)<\/targetReference>/,
          '<targetReference>Nowhere</targetReference>',
        ),
      { componentType: 'Flow', problem: expect.stringContaining('Nowhere is not an element') },
    ],
    [
      'a custom metadata record with a value outside its picklist',
      'customMetadata/Custompms_Sync_Setting.Tasks.md',
      (x: string) => x.replace(/(<field>Conflict_Policy__c<\/field>\s*<value[^>]*>)[^<]*/, '$1Sometimes'),
      {
        componentType: 'CustomMetadata',
        fullName: 'Custompms_Sync_Setting.Tasks',
        problem: expect.stringContaining("'Sometimes'"),
      },
    ],
    [
      'a page layout naming a field the object does not have',
      'layouts/Task-Custompms Task Layout.layout',
      (x: string) => x.replace('<field>Custompms_Sync_Error__c</field>', '<field>Nope__c</field>'),
      {
        componentType: 'Layout',
        fullName: 'Task-Custompms Task Layout',
        problem: 'In field: field - no CustomField named Task.Nope__c found',
      },
    ],
    [
      'a list view filtering on a field the object does not have',
      'objects/Task.object',
      (x: string) => x.replace('<field>Custompms_Sync_Status__c</field>', '<field>Nope__c</field>'),
      {
        componentType: 'ListView',
        fullName: 'Task.Custompms_Sync_Errors',
        problem: expect.stringContaining('Nope__c'),
      },
    ],
    [
      'a DOCTYPE',
      'customPermissions/Custompms_Sync_Bypass.customPermission',
      (x: string) => x.replace(/^(<\?xml[^>]*\?>)/, '$1<!DOCTYPE x [<!ENTITY a "b">]>'),
      { componentType: 'CustomPermission', problem: expect.stringContaining('DOCTYPE') },
    ],
  ])('rejects %s', (_name, file, change, expected) => {
    const failures = failuresOf(edit(files, file, change));
    expect(failures).toEqual([
      expect.objectContaining({ ...expected, problemType: 'Error', success: false }),
    ]);
  });

  it('reports an Apex syntax error with its line and column, in the .cls file', () => {
    const source = files.get('classes/CustompmsQueue.cls')!;
    const line = source.slice(0, source.indexOf('{')).split('\n').length + 1;
    const failures = failuresOf(
      edit(files, 'classes/CustompmsQueue.cls', (x) => x.replace(/\{/, '{\n  Integer broken = ;')),
    );
    expect(failures).toEqual([
      expect.objectContaining({
        componentType: 'ApexClass',
        fullName: 'CustompmsQueue',
        fileName: 'classes/CustompmsQueue.cls',
        lineNumber: line,
        // '  Integer broken = ;': the ';' is the 20th character.
        columnNumber: 20,
        problem: "Unexpected token ';'.",
      }),
    ]);
  });

  it('rejects an unknown type in package.xml and a file in an unknown folder', () => {
    let changed = edit(files, 'package.xml', (x) =>
      x.replace('<version>', '<types><members>X</members><name>ApexPage</name></types><version>'),
    );
    changed = new Map(changed).set('pages/X.page', '<apex:page/>');
    const failures = failuresOf(changed);
    expect(failures.map((f) => f.problem)).toEqual([
      "Unknown type name 'ApexPage' specified in package.xml",
      expect.stringContaining('pages/X.page'),
    ]);
  });
});

describe('Metadata API over HTTP', () => {
  let sf: SalesforceEmulator;
  let zip: string;

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ deployStepMs: 30 });
    const package_ = SUBSTITUTE(await convertSource(DEFAULT_FORCE_APP), sf.org);
    const archive = new JSZip();
    for (const [name, text] of package_) archive.file(name, text);
    zip = (await archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' })).toString('base64');
  });

  afterAll(async () => {
    await sf.close();
  });

  const soap = async (body: string, session = sf.tokenFor(sf.adminUsername)) => {
    const response = await fetch(`${sf.url}//services/Soap/m/65.0`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', soapaction: '""' },
      body:
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="http://soap.sforce.com/2006/04/metadata">' +
        `<soapenv:Header><SessionHeader><sessionId>${session}</sessionId></SessionHeader></soapenv:Header><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`,
    });
    return { status: response.status, text: await response.text() };
  };
  const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  const deploy = async (options: string) => {
    const answer = await soap(
      `<deploy><ZipFile>${zip}</ZipFile><DeployOptions>${options}</DeployOptions></deploy>`,
    );
    expect(answer.status).toBe(200);
    expect(tag(answer.text, 'state')).toBe('Queued');
    return tag(answer.text, 'id')!;
  };
  const waitFor = async (id: string) => {
    const states: string[] = [];
    for (;;) {
      const answer = await soap(
        `<checkDeployStatus><asyncProcessId>${id}</asyncProcessId><includeDetails>true</includeDetails></checkDeployStatus>`,
      );
      states.push(tag(answer.text, 'status')!);
      if (tag(answer.text, 'done') === 'true') return { text: answer.text, states };
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('refuses a SOAP call without a valid session', async () => {
    const answer = await soap(
      '<checkDeployStatus><asyncProcessId>0Af</asyncProcessId></checkDeployStatus>',
      'nope',
    );
    expect(answer.status).toBe(500);
    expect(answer.text).toContain('<faultcode>sf:INVALID_SESSION_ID</faultcode>');
  });

  it('fails a deploy that asks for Apex tests, saying they cannot run here, and applies nothing', async () => {
    const { text } = await waitFor(await deploy('<testLevel>RunLocalTests</testLevel>'));
    expect(tag(text, 'status')).toBe('Failed');
    expect(text).toContain('Apex tests cannot run in the Salesforce emulator');
    expect(text).not.toContain('<runTestResult>');
    expect(sf.org.schema.object('Custompms_Change__e')).toBeUndefined();
  });

  it('cancels a pending deploy', async () => {
    const id = await deploy('<checkOnly>true</checkOnly>');
    const answer = await soap(`<cancelDeploy><String>${id}</String></cancelDeploy>`);
    expect(tag(answer.text, 'done')).toBe('true');
    expect(tag((await waitFor(id)).text, 'status')).toBe('Canceled');
  });

  it('validates (Pending → InProgress → Succeeded, nothing applied), then quick-deploys the validation', async () => {
    const bad = await soap(
      '<deployRecentValidation><validationId>0AfNOPE</validationId></deployRecentValidation>',
    );
    expect(bad.text).toContain('sf:INVALID_ID_FIELD');
    const validation = await waitFor(await deploy('<checkOnly>true</checkOnly>'));
    expect(validation.states).toContain('InProgress');
    expect(tag(validation.text, 'status')).toBe('Succeeded');
    expect(sf.org.schema.object('Custompms_Change__e')).toBeUndefined();
    const id = /<id>([^<]+)<\/id>/.exec(validation.text)![1];
    const quick = await soap(
      `<deployRecentValidation><validationId>${id}</validationId></deployRecentValidation>`,
    );
    const quickId = tag(quick.text, 'result')!;
    expect(quickId).toMatch(/^0Af/);
    expect(tag((await waitFor(quickId)).text, 'status')).toBe('Succeeded');
    expect(sf.org.schema.object('Custompms_Change__e')?.kind).toBe('platformEvent');
  });

  it('answers the REST deployRequest variant and refuses Tooling test runs honestly', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from(zip, 'base64')]), 'deploy.zip');
    form.append(
      'entity_content',
      new Blob([JSON.stringify({ deployOptions: { checkOnly: true } })], { type: 'application/json' }),
    );
    const auth = { authorization: `Bearer ${sf.tokenFor(sf.adminUsername)}` };
    const created = await fetch(`${sf.url}/services/data/v65.0/metadata/deployRequest`, {
      method: 'POST',
      headers: auth,
      body: form,
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    let result: {
      deployResult: { done: boolean; status: string; details?: { componentSuccesses: unknown[] } };
    };
    do {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const polled = await fetch(
        `${sf.url}/services/data/v65.0/metadata/deployRequest/${id}?includeDetails=true`,
        { headers: auth },
      );
      result = (await polled.json()) as typeof result;
    } while (!result.deployResult.done);
    expect(result.deployResult.status).toBe('Succeeded');
    expect(result.deployResult.details!.componentSuccesses.length).toBeGreaterThan(50);

    const tests = await fetch(`${sf.url}/services/data/v65.0/tooling/runTestsAsynchronous`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ testLevel: 'RunLocalTests' }),
    });
    expect(tests.status).toBe(400);
    expect(await tests.json()).toEqual([expect.objectContaining({ message: APEX_TESTS_UNAVAILABLE })]);
  });
});
