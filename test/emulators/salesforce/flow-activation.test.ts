/**
 * Org types and the deploy rules that differ in production (metadata/jobs.ts and
 * schema/org-schema.ts, sources cited there): a Flow deployed as Active arrives inactive in a
 * production org unless "Deploy processes and flows as active" (FlowSettings
 * enableFlowDeployAsActiveEnabled) is on, and an inactive Flow sends nothing; it is activated by
 * the Tooling API's FlowDefinition (activeVersionNumber); sandboxes keep the deployed status;
 * production refuses NoTestRun and, since Apex tests cannot run here, every deploy that would run
 * them (Apex in the package, or an active Flow with deploy-as-active on).
 */
import JSZip from 'jszip';
import { connect, fullAccessUser, waitFor } from './helpers';
import { APEX_TESTS_UNAVAILABLE, NO_TEST_RUN_IN_PRODUCTION } from './metadata/jobs';
import { convertSource } from './metadata/source';
import { DEFAULT_FORCE_APP, INTEGRATION_USERNAME_PLACEHOLDER, type OrgType } from './org';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';

const FLOW = 'Custompms_Task_Outbound_Message';
const APEX_TYPES = ['ApexClass', 'ApexTrigger', 'PlatformEventSubscriberConfig'];

/** force-app as the Metadata API receives it, with or without its Apex (and what needs the Apex). */
async function forceApp(sf: SalesforceEmulator, withApex: boolean): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [name, text] of await convertSource(DEFAULT_FORCE_APP)) {
    if (!withApex && /^(classes|triggers|platformEventSubscriberConfigs)\//i.test(name)) continue;
    let out = text.split(INTEGRATION_USERNAME_PLACEHOLDER).join(sf.integrationUsername);
    if (!withApex && name === 'package.xml') {
      for (const type of APEX_TYPES)
        out = out.replace(new RegExp(`<types>(?:(?!</types>)[\\s\\S])*<name>${type}</name>\\s*</types>`), '');
    }
    files.set(name, out);
  }
  return files;
}

async function zipOf(files: Map<string, string>): Promise<string> {
  const archive = new JSZip();
  for (const [name, text] of files) archive.file(name, text);
  return (await archive.generateAsync({ type: 'nodebuffer' })).toString('base64');
}

async function start(orgType: OrgType): Promise<SalesforceEmulator> {
  return startSalesforceEmulator({
    orgType,
    deployStepMs: 10,
    outbound: {
      timeScale: 0.001,
      dispatchIntervalMs: 5,
      outOfOrder: false,
      duplicateRate: 0,
      timeoutMs: 2_000,
      seed: 1,
    },
  });
}

const soap = async (sf: SalesforceEmulator, body: string): Promise<{ status: number; text: string }> => {
  const response = await fetch(`${sf.url}/services/Soap/m/65.0`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml', soapaction: '""' },
    body:
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="http://soap.sforce.com/2006/04/metadata">' +
      `<soapenv:Header><SessionHeader><sessionId>${sf.tokenFor(sf.adminUsername)}</sessionId></SessionHeader></soapenv:Header>` +
      `<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`,
  });
  return { status: response.status, text: await response.text() };
};
const tag = (xml: string, name: string): string | undefined =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

async function deployOverSoap(sf: SalesforceEmulator, files: Map<string, string>, options: string) {
  const answer = await soap(
    sf,
    `<deploy><ZipFile>${await zipOf(files)}</ZipFile><DeployOptions>${options}</DeployOptions></deploy>`,
  );
  if (answer.status !== 200) return { fault: answer.text };
  const id = tag(answer.text, 'id')!;
  for (;;) {
    const status = await soap(
      sf,
      `<checkDeployStatus><asyncProcessId>${id}</asyncProcessId></checkDeployStatus>`,
    );
    if (tag(status.text, 'done') === 'true') return { result: status.text };
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Saves a Task the Flow qualifies (a user without the bypass, Custompms_Type__c set). */
async function saveSyncedTask(sf: SalesforceEmulator, subject: string): Promise<string> {
  const saved = await connect(sf, fullAccessUser(sf))
    .sobject('Task')
    .create({ Subject: subject, Custompms_Type__c: 'Task' });
  await sf.org.settle();
  return saved.id!;
}

const queuedFor = (sf: SalesforceEmulator, id: string): number =>
  sf.org.outbound.queue.filter((n) => n.recordId === id).length +
  sf.org.outbound.attempts.filter((a) => a.recordIds.includes(id)).length;

describe('org types: flows and deploys in production, sandbox and developer orgs', () => {
  it('marks the org in Organization (IsSandbox, OrganizationType)', async () => {
    for (const [orgType, expected] of [
      ['production', { IsSandbox: false, OrganizationType: 'Enterprise Edition' }],
      ['sandbox', { IsSandbox: true, OrganizationType: 'Enterprise Edition' }],
      ['developer', { IsSandbox: false, OrganizationType: 'Developer Edition' }],
    ] as const) {
      const sf = await start(orgType);
      try {
        const rows = await connect(sf).query('SELECT IsSandbox, OrganizationType FROM Organization');
        expect(rows.records[0]).toMatchObject(expected);
      } finally {
        await sf.close();
      }
    }
  });

  it('keeps a deployed Flow active in a sandbox', async () => {
    const sf = await start('sandbox');
    try {
      await sf.org.deploySource();
      expect(sf.org.schema.activeFlowVersion(FLOW)).toBe(1);
    } finally {
      await sf.close();
    }
  });

  describe('production', () => {
    let sf: SalesforceEmulator;

    beforeAll(async () => {
      sf = await start('production');
      sf.org.setOutboundEndpoint('http://127.0.0.1:9/unreachable');
      sf.org.faults.outboundUnreachable = true;
    });

    afterAll(async () => {
      await sf.close();
    });

    it('refuses NoTestRun at the deploy call, over SOAP, REST and in-process', async () => {
      const files = await forceApp(sf, false);
      const soapAnswer = await deployOverSoap(sf, files, '<testLevel>NoTestRun</testLevel>');
      expect(soapAnswer.fault).toContain('<faultcode>sf:INVALID_OPERATION</faultcode>');
      expect(soapAnswer.fault).toContain(NO_TEST_RUN_IN_PRODUCTION);
      const form = new FormData();
      form.append(
        'entity_content',
        new Blob([JSON.stringify({ deployOptions: { testLevel: 'NoTestRun' } })], {
          type: 'application/json',
        }),
      );
      form.append('file', new Blob([Buffer.from(await zipOf(files), 'base64')]), 'deploy.zip');
      const rest = await fetch(`${sf.url}/services/data/v65.0/metadata/deployRequest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sf.tokenFor(sf.adminUsername)}` },
        body: form,
      });
      expect(rest.status).toBe(400);
      expect(await rest.json()).toEqual([expect.objectContaining({ errorCode: 'INVALID_OPERATION' })]);
      await expect(sf.org.deploySource(undefined, { testLevel: 'NoTestRun' })).rejects.toThrow(
        NO_TEST_RUN_IN_PRODUCTION,
      );
      expect(sf.org.schema.flows.size).toBe(0);
    });

    it('runs tests for a package with Apex by default, which fails here (nothing applied)', async () => {
      const answer = await deployOverSoap(sf, await forceApp(sf, true), '');
      expect(tag(answer.result!, 'status')).toBe('Failed');
      expect(answer.result).toContain('UNSUPPORTED_APEX_TEST_RUN');
      await expect(sf.org.deploySource()).rejects.toThrow(APEX_TESTS_UNAVAILABLE);
      expect(sf.org.schema.apexClasses.size).toBe(0);
    });

    it('applies Apex in-process only when told the tests passed against a real org, and says so', async () => {
      const other = await start('production');
      try {
        await other.org.deploySource(undefined, { assumeTestsPassed: true });
        expect(other.org.schema.apexClasses.size).toBeGreaterThan(0);
        expect(other.org.schema.activeFlowVersion(FLOW)).toBeNull();
        expect(other.org.warnings).toContainEqual(
          expect.objectContaining({
            source: 'metadata',
            message: expect.stringContaining('assumeTestsPassed'),
          }),
        );
      } finally {
        await other.close();
      }
    });

    it('deploys a Flow as inactive; it sends nothing until the Tooling API activates it', async () => {
      const answer = await deployOverSoap(sf, await forceApp(sf, false), '');
      expect(tag(answer.result!, 'status')).toBe('Succeeded');
      expect(sf.org.schema.activeFlowVersion(FLOW)).toBeNull();
      const before = await saveSyncedTask(sf, 'while inactive');
      expect(queuedFor(sf, before)).toBe(0);

      const tooling = connect(sf, sf.adminUsername).tooling;
      const found = await tooling.query<{
        Id: string;
        ActiveVersionId: string | null;
        LatestVersion: { VersionNumber: number };
      }>(
        `SELECT Id, ActiveVersionId, LatestVersion.VersionNumber FROM FlowDefinition WHERE DeveloperName = '${FLOW}'`,
      );
      expect(found.records).toEqual([
        expect.objectContaining({
          ActiveVersionId: null,
          LatestVersion: expect.objectContaining({ VersionNumber: 1 }),
        }),
      ]);
      const definition = found.records[0]!;
      await tooling
        .sobject('FlowDefinition')
        .update({ Id: definition.Id, Metadata: { activeVersionNumber: 1 } } as never);
      expect(sf.org.schema.activeFlowVersion(FLOW)).toBe(1);
      const after = await saveSyncedTask(sf, 'once active');
      await waitFor(() => queuedFor(sf, after) > 0);
    });

    it('keeps the active version running when a later deploy brings an inactive new version', async () => {
      await deployOverSoap(sf, await forceApp(sf, false), '');
      expect(sf.org.schema.flowVersions.get(FLOW)).toHaveLength(2);
      expect(sf.org.schema.activeFlowVersion(FLOW)).toBe(1);
      sf.org.activateFlow(FLOW, null);
      const id = await saveSyncedTask(sf, 'deactivated');
      expect(queuedFor(sf, id)).toBe(0);
    });

    it('with "Deploy processes and flows as active" on, an active Flow needs Apex tests, which fail here', async () => {
      sf.org.setFlowDeployAsActive(true);
      const answer = await deployOverSoap(sf, await forceApp(sf, false), '');
      expect(tag(answer.result!, 'status')).toBe('Failed');
      expect(answer.result).toContain('UNSUPPORTED_APEX_TEST_RUN');
      expect(sf.org.schema.flowVersions.get(FLOW)).toHaveLength(2);
      sf.org.setFlowDeployAsActive(false);
    });
  });
});
