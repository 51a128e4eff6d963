/**
 * Benchmark: webhook signature verification (the per-request cost on the proxy), and end-to-end
 * delivery from the reference server to a local receiver that verifies every delivery.
 *
 *   npx tsx scripts/bench/custompms-webhooks.ts [verifications=50000] [deliveries=2000]
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { signWebhookPayload, verifyWebhook } from '../../proxy/src/custompms/webhook-signature';
import { startCustompmsEmulator } from '../../test/emulators/custompms/server';
import { atMost, parseCommandLine, positiveInteger } from '../lib/cli';

const USAGE = `Usage: npx tsx scripts/bench/custompms-webhooks.ts [verifications] [deliveries]

Times <verifications> webhook signature checks (default 50000) and <deliveries> signed deliveries
from the reference server to a local receiver (default 2000).`;

const SECRETS = ['whsec_bench_new_secret', 'whsec_bench_old_secret'];

function verifyRun(count: number) {
  const body = Buffer.from(
    JSON.stringify({
      id: 'evt_0123456789abcdef01234567',
      type: 'task.updated',
      occurred_at: new Date().toISOString(),
      data: { id: 'tsk_0123456789abcdef', version: 42 },
    }),
  );
  // Signed with the old secret only: the receiver tries both, the worst case while rotating.
  const header = signWebhookPayload(body, SECRETS[1]!);
  const started = performance.now();
  for (let index = 0; index < count; index++)
    verifyWebhook({ rawBody: body, signatureHeader: header, secrets: SECRETS });
  const seconds = (performance.now() - started) / 1000;
  return {
    count,
    bytes: body.length,
    seconds,
    perSecond: count / seconds,
    microsEach: (seconds * 1e6) / count,
  };
}

async function deliveryRun(count: number) {
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const app = express();
  app.post('/hook', express.raw({ type: () => true }), (req, res) => {
    verifyWebhook({ rawBody: req.body, signatureHeader: req.get('custompms-signature'), secrets: SECRETS });
    res.status(202).end();
    if (++received === count) done();
  });
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const emulator = await startCustompmsEmulator({
    webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, secret: SECRETS[0]! },
  });
  try {
    const started = performance.now();
    for (let index = 0; index < count; index++)
      emulator.controls.create('customers', { name: `Customer ${index}` });
    await all;
    const seconds = (performance.now() - started) / 1000;
    return { count, seconds, perSecond: count / seconds };
  } finally {
    await emulator.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function main() {
  const { positionals } = parseCommandLine(USAGE, {
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const [rawVerifications, rawDeliveries] = atMost(USAGE, positionals, 2);
  const verifications = positiveInteger(USAGE, 'verifications', rawVerifications, 50_000);
  const deliveries = positiveInteger(USAGE, 'deliveries', rawDeliveries, 2_000);
  const verify = verifyRun(verifications);
  console.log(
    `verify: ${verify.count} × ${verify.bytes}-byte body, 2 secrets: ${verify.seconds.toFixed(2)} s, ` +
      `${Math.round(verify.perSecond)}/s, ${verify.microsEach.toFixed(1)} µs each`,
  );
  const delivery = await deliveryRun(deliveries);
  console.log(
    `deliver: ${delivery.count} signed webhooks emulator → verifying receiver: ${delivery.seconds.toFixed(2)} s, ${Math.round(delivery.perSecond)}/s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
