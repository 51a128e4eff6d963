/**
 * Runs the Salesforce org emulator standalone:
 *   npx tsx test/emulators/salesforce/main.ts [--port 8484] [--proxy-url URL --proxy-key KEY]
 *        [--outbound-url URL] [--deploy-force-app] [--org-type production|sandbox|developer]
 *        [--integration-system-permissions ViewAllData,ModifyAllData]
 * Environment: SF_EMULATOR_PORT, SF_EMULATOR_PROXY_URL, SF_EMULATOR_PROXY_KEY, SF_EMULATOR_OUTBOUND_URL.
 * Prints the instance URL, org id and client credentials, then serves until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import type { OrgType } from './org';
import { startSalesforceEmulator } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'proxy-url': { type: 'string' },
      'proxy-key': { type: 'string' },
      'outbound-url': { type: 'string' },
      'deploy-force-app': { type: 'boolean' },
      'org-type': { type: 'string' },
      'integration-system-permissions': { type: 'string' },
    },
  });
  const env = process.env;
  const port = Number(values.port ?? env.SF_EMULATOR_PORT ?? 8484);
  const started = Date.now();
  const orgType = values['org-type'] ?? 'sandbox';
  if (!['production', 'sandbox', 'developer'].includes(orgType))
    throw new Error(`--org-type must be production, sandbox or developer, not ${orgType}`);
  const emulator = await startSalesforceEmulator({
    port,
    orgType: orgType as OrgType,
    // What an admin grants the integration user beyond force-app (the product README's setup).
    integrationUserSystemPermissions: (values['integration-system-permissions'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    // Bare by default, as a new org is: deploy with the sf CLI, or pass --deploy-force-app to
    // deploy force-app in-process first.
    deployForceApp: values['deploy-force-app'] === true,
  });
  const proxyUrl = values['proxy-url'] ?? env.SF_EMULATOR_PROXY_URL;
  const proxyKey = values['proxy-key'] ?? env.SF_EMULATOR_PROXY_KEY;
  if (proxyUrl) emulator.org.setProxy({ url: proxyUrl, apiKey: proxyKey ?? '' });
  const outboundUrl = values['outbound-url'] ?? env.SF_EMULATOR_OUTBOUND_URL;
  if (outboundUrl) emulator.org.setOutboundEndpoint(outboundUrl);
  const info = {
    instanceUrl: emulator.url,
    orgId: emulator.orgId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    integrationUsername: emulator.integrationUsername,
    adminUsername: emulator.adminUsername,
    // For `sf org login access-token` / scripts/deploy-org.ts --emulator (SF_ACCESS_TOKEN).
    adminAccessToken: emulator.tokenFor(emulator.adminUsername),
    startedInMs: Date.now() - started,
    warnings: emulator.org.warnings.map((w) => `${w.source}: ${w.message}`),
  };
  process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  const stop = (): void => {
    void emulator.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
