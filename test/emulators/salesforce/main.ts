/**
 * Runs the Salesforce org emulator standalone:
 *   npx tsx test/emulators/salesforce/main.ts [--port 8484] [--proxy-url URL --proxy-key KEY]
 *        [--outbound-url URL] [--deploy-force-app]
 * Environment: SF_EMULATOR_PORT, SF_EMULATOR_PROXY_URL, SF_EMULATOR_PROXY_KEY, SF_EMULATOR_OUTBOUND_URL.
 * Prints the instance URL, org id and client credentials, then serves until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startSalesforceEmulator } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'proxy-url': { type: 'string' },
      'proxy-key': { type: 'string' },
      'outbound-url': { type: 'string' },
      'deploy-force-app': { type: 'boolean' },
    },
  });
  const env = process.env;
  const port = Number(values.port ?? env.SF_EMULATOR_PORT ?? 8484);
  const started = Date.now();
  const emulator = await startSalesforceEmulator({
    port,
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
