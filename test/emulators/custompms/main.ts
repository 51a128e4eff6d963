/**
 * Runs the reference Custompms server standalone, for the demo or manual poking:
 *
 *   npx tsx test/emulators/custompms/main.ts
 *
 * Environment: PORT (default 4010), HOST (127.0.0.1), CUSTOMPMS_TOKEN (default dev-token),
 * WEBHOOK_URL and WEBHOOK_SECRETS (comma-separated) to send signed webhooks,
 * SEED=customers,projectsPerCustomer,tasksPerProject (e.g. 5,2,3) to load demo data,
 * FAULTS=<JSON of Faults> to inject faults, QUIET=1 to stop logging requests.
 */
import { seedDemoData } from './fixtures';
import type { Faults } from './faults';
import { startCustompmsEmulator } from './server';

async function main(): Promise<void> {
  const env = process.env;
  const secrets = (env.WEBHOOK_SECRETS ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter(Boolean);
  if (env.WEBHOOK_URL && secrets.length === 0) throw new Error('WEBHOOK_URL needs WEBHOOK_SECRETS');
  const emulator = await startCustompmsEmulator({
    port: Number(env.PORT ?? 4010),
    host: env.HOST ?? '127.0.0.1',
    token: env.CUSTOMPMS_TOKEN ?? 'dev-token',
    ...(env.WEBHOOK_URL ? { webhook: { url: env.WEBHOOK_URL, secrets } } : {}),
    ...(env.FAULTS ? { faults: JSON.parse(env.FAULTS) as Faults } : {}),
    ...(env.QUIET ? {} : { log: (line: string) => console.log(line) }),
  });
  if (env.SEED) {
    const [customers = 0, projectsPerCustomer = 0, tasksPerProject = 0] = env.SEED.split(',').map(Number);
    const made = seedDemoData(emulator.controls, { customers, projectsPerCustomer, tasksPerProject });
    console.log(
      `seeded ${made.customers.length} customers, ${made.projects.length} projects, ${made.tasks.length} tasks`,
    );
  }
  console.log(
    `Custompms reference server on ${emulator.url} (token: ${env.CUSTOMPMS_TOKEN ? 'from CUSTOMPMS_TOKEN' : 'dev-token'})`,
  );
  const shutdown = () => {
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
