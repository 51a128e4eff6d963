/**
 * Worker process (Heroku `worker` dyno): background jobs only, no HTTP.
 */
import { loadConfigOrExit, onShutdownSignal, startRuntime, stopRuntime } from './runtime';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const runtime = await startRuntime(config, { worker: true });
  runtime.logger.info({ concurrency: config.worker.concurrency }, 'worker running');
  onShutdownSignal(
    runtime.logger,
    config.shutdownTimeoutMs,
    () => stopRuntime(runtime),
    async () => runtime.heartbeat?.stop({ dead: true }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
