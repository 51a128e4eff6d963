/**
 * Starts an emulated org on a port (0: any free one) and hands back the controls tests and the
 * integrator use. `main.ts` runs the same thing standalone.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEmulatorApp } from './http/app';
import type { ApiUsageSnapshot } from './limits';
import { SalesforceOrg, type OrgOptions } from './org';

export interface EmulatorOptions extends Partial<OrgOptions> {
  port?: number;
  host?: string;
  /**
   * Deploy force-app (or this source directory) in-process before serving, through the same
   * validate-and-apply path as a Metadata API deploy. Without it the org has only Salesforce's
   * standard objects until something deploys to it (e.g. the sf CLI).
   */
  deployForceApp?: boolean | string;
}

export interface SalesforceEmulator {
  org: SalesforceOrg;
  /** Instance URL (also the login URL and the JWT audience the emulator accepts). */
  url: string;
  orgId: string;
  clientId: string;
  clientSecret: string;
  integrationUsername: string;
  adminUsername: string;
  /** A valid access token for a user (default: the integration user), without an OAuth round trip. */
  tokenFor(idOrUsername?: string): string;
  /** API calls counted so far (what `Sforce-Limit-Info` reports), per route category too. */
  apiUsage(): ApiUsageSnapshot;
  /** The proxy's Salesforce settings (README.md variables) for this org: client credentials, org id. */
  proxyEnv(): Record<string, string>;
  close(): Promise<void>;
}

export async function startSalesforceEmulator(options: EmulatorOptions = {}): Promise<SalesforceEmulator> {
  const { port = 0, host = '127.0.0.1', deployForceApp = false, ...orgOptions } = options;
  const org = new SalesforceOrg(orgOptions);
  if (deployForceApp) await org.deploySource(typeof deployForceApp === 'string' ? deployForceApp : undefined);
  const app = createEmulatorApp(org);
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${host}:${address.port}`;
  org.baseUrl = url;
  org.start();
  const app0 = org.options.connectedApp;
  return {
    org,
    url,
    orgId: org.id,
    clientId: app0.clientId,
    clientSecret: app0.clientSecret ?? '',
    integrationUsername: org.options.integrationUser.username,
    adminUsername: org.options.adminUser.username,
    tokenFor: (idOrUsername = org.integrationUserId) => {
      const user = org.users.resolve(idOrUsername);
      if (!user) throw new Error(`no such user ${idOrUsername}`);
      return org.oauth.issue(user.Id as string).accessToken;
    },
    apiUsage: () => org.limits.snapshot(),
    proxyEnv: () => ({
      SALESFORCE_AUTH: 'client_credentials',
      SALESFORCE_LOGIN_URL: url,
      SALESFORCE_INSTANCE_URL: url,
      SALESFORCE_CLIENT_ID: app0.clientId,
      SALESFORCE_CLIENT_SECRET: app0.clientSecret ?? '',
      SALESFORCE_ORG_ID: org.id,
    }),
    close: async () => {
      await org.stop();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
