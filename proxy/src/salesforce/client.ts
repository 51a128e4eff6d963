/**
 * The proxy's Salesforce connection: jsforce with a pinned API version, a token source that
 * jsforce's refresh delegate calls once per expiry (one in-flight refresh shared by all callers),
 * our retry policy around each call, and API usage read from `Sforce-Limit-Info`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from 'jsforce';
import { setDefaults } from 'jsforce/lib/request';
import type { Logger } from 'pino';
import { requestToken, type TokenSource } from './auth';
import { SalesforceApiError, SalesforceNotConfiguredError } from './errors';
import { SALESFORCE_RETRY_POLICY, withSalesforceRetry, type RetryPolicy } from './retry';
import { metrics } from '../metrics';

export interface SalesforceSettings {
  loginUrl: string;
  instanceUrl: string | undefined;
  apiVersion: string;
  auth: 'client_credentials' | 'jwt' | 'sf_cli' | 'none';
  clientId: string | undefined;
  clientSecret: string | undefined;
  username: string | undefined;
  privateKey: string | undefined;
  orgAlias: string | undefined;
  /** Why there is no Salesforce access yet (config.ts), for the not-configured error. */
  notConfigured?: string | undefined;
}

export interface ApiUsage {
  used: number;
  limit: number;
}

// jsforce retries GET/PUT/DELETE on 5xx by itself (up to 5 times, ~15 s for one 503), stacking
// under our own policy; our policy is the only one, so jsforce's is switched off.
setDefaults({ followRedirect: true, retry: { maxRetries: 0 } });

/**
 * No Salesforce call may hang a job for ever (a half-open connection never answers): past this,
 * the call fails as SALESFORCE_TIMEOUT, an ambiguous failure (retried only when idempotent).
 */
export const SALESFORCE_CALL_TIMEOUT_MS = 60_000;

/**
 * The call, or a SALESFORCE_TIMEOUT after `ms`, or the abort (the worker shutting down). jsforce
 * cannot cancel its request: a call given up on may still reach Salesforce, which is why only
 * idempotent calls are retried after one (retry.ts `ambiguous`).
 */
function withTimeout<T>(call: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new SalesforceApiError('SALESFORCE_TIMEOUT', `no answer from Salesforce within ${ms} ms`)),
      ms,
    );
    timer.unref();
    onAbort = () => reject(abortedError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([call, timeout]).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort!);
  });
}

function abortedError(signal: AbortSignal): SalesforceApiError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new SalesforceApiError('SALESFORCE_CALL_ABORTED', `Salesforce call abandoned: ${reason}`);
}

export class SalesforceClient {
  private constructor(
    readonly conn: Connection,
    private readonly retryPolicy: RetryPolicy,
    private readonly logger: Logger | undefined,
    /** The authenticated user's id (the integration user), when known. */
    readonly userId: string | undefined,
    readonly organizationId: string | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  static async connect(
    settings: SalesforceSettings,
    options: {
      logger?: Logger;
      retryPolicy?: RetryPolicy;
      /** Abandons every call of this client (the worker shutting down). */
      signal?: AbortSignal;
    } = {},
  ): Promise<SalesforceClient> {
    const retryPolicy = options.retryPolicy ?? SALESFORCE_RETRY_POLICY;
    if (settings.auth === 'none') {
      throw new SalesforceNotConfiguredError(
        settings.notConfigured === undefined
          ? undefined
          : `Salesforce access is not configured (${settings.notConfigured})`,
      );
    }
    if (settings.auth === 'sf_cli') {
      const conn = await connectThroughSfCli(settings);
      return new SalesforceClient(conn, retryPolicy, options.logger, undefined, undefined, options.signal);
    }
    const source = tokenSource(settings);
    const first = await requestToken(source);
    const conn = new Connection({
      version: settings.apiVersion,
      instanceUrl: first.instanceUrl,
      accessToken: first.accessToken,
      refreshFn: (_conn, callback) => {
        options.logger?.info({ auth: settings.auth }, 'refreshing Salesforce access token');
        requestToken(source).then(
          (token) => {
            callback(null, token.accessToken);
          },
          (error: Error) => {
            callback(error);
          },
        );
      },
    });
    const [orgId, userId] = first.id?.split('/').slice(-2) ?? [];
    return new SalesforceClient(conn, retryPolicy, options.logger, userId, orgId, options.signal);
  }

  /**
   * Runs one Salesforce call under the retry policy (each attempt counts in /metrics).
   * `idempotent: false` (creates, event publishes): not retried after an ambiguous failure.
   */
  call<T>(operation: (conn: Connection) => Promise<T>, options: { idempotent?: boolean } = {}): Promise<T> {
    const signal = this.signal;
    const attempt = () => {
      if (signal?.aborted) return Promise.reject(abortedError(signal));
      metrics.salesforceApiCalls();
      return withTimeout(operation(this.conn), SALESFORCE_CALL_TIMEOUT_MS, signal);
    };
    return withSalesforceRetry(this.retryPolicy, attempt, {
      // A backoff ends with the abort too; the next attempt then fails as abandoned.
      sleep: (ms) => delay(ms, undefined, signal ? { signal } : undefined).catch(() => undefined),
      idempotent: options.idempotent ?? true,
      onRetry: (error, attempt, delayMs) =>
        this.logger?.warn({ errorCode: error.errorCode, attempt, delayMs }, 'retrying Salesforce call'),
    });
  }

  /** Daily API usage as Salesforce last reported it (`Sforce-Limit-Info`). */
  apiUsage(): ApiUsage | undefined {
    const usage = (this.conn as unknown as { limitInfo?: { apiUsage?: ApiUsage } }).limitInfo?.apiUsage;
    return usage ? { used: usage.used, limit: usage.limit } : undefined;
  }
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new SalesforceNotConfiguredError(`${name} is required for this auth mode`);
  return value;
}

export function tokenSource(settings: SalesforceSettings): TokenSource {
  // Client credentials must go to the org's own (My Domain) host, not the shared login host.
  if (settings.auth === 'client_credentials') {
    return {
      kind: 'client_credentials',
      tokenBaseUrl: settings.instanceUrl ?? settings.loginUrl,
      clientId: required(settings.clientId, 'SALESFORCE_CLIENT_ID'),
      clientSecret: required(settings.clientSecret, 'SALESFORCE_CLIENT_SECRET'),
    };
  }
  if (settings.auth === 'jwt') {
    return {
      kind: 'jwt',
      tokenBaseUrl: settings.instanceUrl ?? settings.loginUrl,
      audience: settings.loginUrl.replace(/\/+$/, ''),
      clientId: required(settings.clientId, 'SALESFORCE_CLIENT_ID'),
      username: required(settings.username, 'SALESFORCE_USERNAME'),
      privateKey: required(settings.privateKey, 'SALESFORCE_PRIVATE_KEY').replace(/\\n/g, '\n'),
    };
  }
  throw new SalesforceNotConfiguredError(`auth mode ${settings.auth} has no token source`);
}

/** Local development: reuse an admin's `sf org login web --alias X` through @salesforce/core. */
async function connectThroughSfCli(settings: SalesforceSettings): Promise<Connection> {
  const { Org } = await import('@salesforce/core');
  const org = await Org.create({ aliasOrUsername: required(settings.orgAlias, 'SALESFORCE_ORG_ALIAS') });
  const conn = org.getConnection(settings.apiVersion);
  // @salesforce/core's Connection extends jsforce-node's, the same API as jsforce's Connection.
  return conn as unknown as Connection;
}
