/**
 * Helpers for the emulator's own suites: jsforce connections (always with a version), a local
 * HTTP receiver that records what the org sends, and small waits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Connection } from 'jsforce';
import { setDefaults } from 'jsforce/lib/request';
import type { SalesforceEmulator } from './server';
import { EMULATOR_FULL_ACCESS } from './security/profiles';

export const API_VERSION = '65.0';

// jsforce retries GET/PUT/DELETE on 5xx by itself; the fault-injection tests want to see each answer.
setDefaults({ followRedirect: true, retry: { maxRetries: 0 } });

/**
 * A user with the emulator's test-only full-access profile (every object, field and record),
 * created once per org: the wire-format suites are not about access (sharing.test.ts and
 * field-access.test.ts are). `bypass` adds the Custompms_Sync_Bypass custom permission, as the
 * integration user has it.
 */
export function fullAccessUser(emulator: SalesforceEmulator, options: { bypass?: boolean } = {}): string {
  const username = options.bypass ? 'full-access-bypass@emulator.test' : 'full-access@emulator.test';
  if (!emulator.org.users.byUsername(username)) {
    emulator.org.users.create({
      username,
      email: username,
      lastName: options.bypass ? 'Bypass Tester' : 'Tester',
      profile: EMULATOR_FULL_ACCESS,
      customPermissions: options.bypass ? ['Custompms_Sync_Bypass'] : [],
    });
  }
  return username;
}

/** A jsforce connection with a fresh token for `user` (default: the full-access test user). */
export function connect(emulator: SalesforceEmulator, user?: string): Connection {
  return new Connection({
    version: API_VERSION,
    instanceUrl: emulator.url,
    accessToken: emulator.tokenFor(user ?? fullAccessUser(emulator)),
  });
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Decides each answer; the default answers 200 with an empty JSON object. */
  handler: (request: ReceivedRequest, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    requests: [],
    handler: (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    },
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      receiver.requests.push(request);
      receiver.handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
  return receiver;
}

/** Polls `check` until it returns a value (not undefined/false) or the time runs out. */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(
  promise: PromiseLike<unknown>,
): Promise<{ errorCode?: string; name?: string; message: string; data?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as { errorCode?: string; name?: string; message: string; data?: unknown };
  }
  throw new Error('expected the call to fail');
}
