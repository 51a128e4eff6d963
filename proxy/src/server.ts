/**
 * Web process: listens on $PORT, runs the worker in-process unless RUN_WORKER=false, and drains
 * in-flight requests on SIGTERM (Heroku allows about 30 s).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { loadConfigOrExit, onShutdownSignal, startRuntime, stopRuntime } from './runtime';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const runtime = await startRuntime(config, { worker: config.worker.enabled });
  const app = createApp({ config, logger: runtime.logger, pool: runtime.database.pool });
  const server = app.listen(config.port);
  await once(server, 'listening');
  runtime.logger.info({ port: (server.address() as AddressInfo).port }, 'listening');

  onShutdownSignal(
    runtime.logger,
    config.shutdownTimeoutMs,
    async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await stopRuntime(runtime);
    },
    async () => runtime.heartbeat?.stop({ dead: true }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
