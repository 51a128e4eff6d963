/**
 * `custompms-sync doctor`: checks a live configuration end to end and says, for every failure,
 * what to do. Each check reads only (the one write is a platform event naming a ping batch, which
 * the org's Apex fetches and skips); a check whose prerequisite failed is skipped, not failed
 * again. Checks the org's API cannot answer (an org without the Tooling API, say) are skipped with
 * the reason, never passed.
 */
import { randomUUID } from 'node:crypto';
import type { Connection } from 'jsforce';
import type pg from 'pg';
import type { Logger } from 'pino';
import { missingConfiguration, type Config } from '../config';
import { createCustompmsClient } from '../custompms/client';
import { SalesforceClient } from '../salesforce/client';
import { normaliseSalesforceError } from '../salesforce/errors';
import { SALESFORCE_RETRY_POLICY } from '../salesforce/retry';
import { createPing, pingReceivedAt, PING_BATCH_PREFIX } from '../store/doctor-pings';
import { appliedMigrationId, latestMigrationId } from '../store/migrate';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about a failure or warning. */
  fix?: string;
  ms: number;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

export interface DoctorOptions {
  config: Config;
  pool: pg.Pool;
  logger: Logger;
  /** How long to wait for the org's Apex to fetch the ping batch. */
  roundTripTimeoutMs?: number;
  /** Check ids not to run (reported as skipped). */
  skip?: readonly string[];
  /** Progress lines (stderr on a terminal). */
  onProgress?: (line: string) => void;
  fetchImpl?: typeof fetch;
}

/** The Task fields the proxy reads and writes that force-app adds (Activity fields). */
export const SYNC_FIELDS = [
  'Custompms_Id__c',
  'Custompms_Type__c',
  'Custompms_Project_Id__c',
  'Custompms_Sync_Status__c',
  'Custompms_Sync_Error__c',
  'Custompms_Last_Synced__c',
];
const FLOW_NAME = 'Custompms_Task_Outbound_Message';
const OUTBOUND_MESSAGE_NAME = 'Custompms_Task_Changed';
const INTEGRATION_PERMISSION_SET = 'Custompms_Integration';
const EVENT = 'Custompms_Change__e';
/** Below these shares of the daily API allowance left, the check warns / fails. */
const USAGE_WARN_REMAINING = 0.2;
const USAGE_FAIL_REMAINING = 0.05;

const DEPLOY_FIX =
  'deploy force-app to the org (scripts/deploy-org.ts, README "Deploying the org metadata") and assign ' +
  `${INTEGRATION_PERMISSION_SET} to the integration user (the client-credentials run-as user)`;

class Skip extends Error {}
class Warn extends Error {
  constructor(
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}
class Fail extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** An API answer meaning "this org does not serve that object or resource". */
function unsupported(error: unknown): boolean {
  const code = normaliseSalesforceError(error).errorCode;
  return ['INVALID_TYPE', 'NOT_FOUND', 'ERROR_HTTP_404', 'INVALID_FIELD', 'API_DISABLED_FOR_ORG'].includes(
    code,
  );
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code =
      (error as { code?: unknown; errorCode?: unknown }).errorCode ?? (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${code}: ${error.message}`
      : error.message;
  }
  return String(error);
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { config, pool } = options;
  const skip = new Set(options.skip ?? []);
  const results: CheckResult[] = [];
  const passed = new Set<string>();
  const fetchImpl = options.fetchImpl ?? fetch;

  const check = async (
    id: string,
    title: string,
    needs: string[],
    run: () => Promise<string> | string,
  ): Promise<void> => {
    const started = Date.now();
    const done = (status: CheckStatus, detail: string, fix?: string) => {
      const result: CheckResult = {
        id,
        title,
        status,
        detail,
        ...(fix ? { fix } : {}),
        ms: Date.now() - started,
      };
      results.push(result);
      if (status === 'pass' || status === 'warn') passed.add(id);
      options.onProgress?.(`${status.padEnd(4)} ${title}${status === 'pass' ? '' : `: ${detail}`}`);
    };
    if (skip.has(id)) return done('skip', 'skipped on request (--skip)');
    const missing = needs.filter((need) => !passed.has(need));
    if (missing.length > 0) return done('skip', `needs ${missing.join(', ')} to pass first`);
    try {
      done('pass', await run());
    } catch (error) {
      if (error instanceof Skip) done('skip', error.message);
      else if (error instanceof Warn) done('warn', error.message, error.fix);
      else if (error instanceof Fail) done('fail', error.message, error.fix);
      else done('fail', describeError(error), 'see docs/troubleshooting.md for the error code');
    }
  };

  // ------------------------------------------------------------------ the proxy itself
  await check('database', 'Database reachable', [], async () => {
    try {
      const result = await pool.query<{ version: string }>('SHOW server_version');
      return `PostgreSQL ${result.rows[0]?.version ?? '?'}${config.database.url ? '' : ' (embedded: DATABASE_URL not set)'}`;
    } catch (error) {
      throw new Fail(
        `cannot query the database: ${describeError(error)}`,
        'check DATABASE_URL (heroku config:get DATABASE_URL) and DATABASE_SSL (auto or no-verify for Heroku Postgres; verify only with Enhanced Certificates)',
      );
    }
  });

  await check('migrations', 'Database migrated', ['database'], async () => {
    const applied = await appliedMigrationId(pool);
    const expected = latestMigrationId();
    if (applied < expected) {
      throw new Fail(
        `schema at migration ${applied}, this build expects ${expected}`,
        'run the migrations: heroku run custompms-sync migrate (the release phase runs them on every deploy: check the release log with heroku releases:output)',
      );
    }
    return `schema at migration ${applied}`;
  });

  await check('configuration', 'Every part configured', [], () => {
    const missing = Object.entries(missingConfiguration(config)).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (missing.length === 0)
      return 'Salesforce, Custompms, outbound messages, Apex API, webhooks and admin API';
    const sync = missing.filter(([part]) => part !== 'adminApi');
    const list = missing.map(([part, reason]) => `${part}: ${reason}`).join('; ');
    const fix =
      'set the missing config vars (heroku config:set …; README "Configuration", docs/setup.md); ' +
      'secrets: openssl rand -hex 32';
    if (sync.length === 0) throw new Warn(list, fix);
    throw new Fail(list, fix);
  });

  await check('public_url', 'Proxy reachable at PUBLIC_URL', [], async () => {
    if (!config.publicUrl) {
      throw new Warn(
        'PUBLIC_URL is not set: the org endpoints cannot be compared with this proxy',
        'heroku config:set PUBLIC_URL=https://<app>.herokuapp.com (the URL Salesforce and Custompms call)',
      );
    }
    const url = `${config.publicUrl}/readyz`;
    let status: number;
    let body: { migration?: number } = {};
    try {
      const response = await fetchImpl(url, { signal: AbortSignal.timeout(10_000) });
      status = response.status;
      body = (await response.json().catch(() => ({}))) as typeof body;
    } catch (error) {
      throw new Fail(
        `GET ${url} failed: ${describeError(error)}`,
        'PUBLIC_URL must be the URL of this app (heroku apps:info shows the web URL) and a web dyno must run (heroku ps)',
      );
    }
    if (status !== 200) {
      throw new Fail(
        `GET ${url} answered ${status}`,
        'the web dyno is not ready: heroku logs --tail --dyno web; is the database migrated?',
      );
    }
    return `${url} ready (migration ${body.migration ?? '?'})`;
  });

  // ------------------------------------------------------------------ Salesforce
  let salesforce: SalesforceClient | undefined;
  let conn: Connection | undefined;
  const version = config.salesforce.apiVersion;

  await check('salesforce.auth', 'Salesforce authentication', [], async () => {
    if (config.salesforce.notConfigured !== undefined) {
      throw new Fail(
        `not configured (${config.salesforce.notConfigured})`,
        'create the External Client App with the client-credentials flow and its run-as user (docs/setup.md, step 1), then ' +
          'heroku config:set SALESFORCE_AUTH=client_credentials SALESFORCE_INSTANCE_URL=https://<my-domain>.my.salesforce.com ' +
          'SALESFORCE_CLIENT_ID=<consumer key> SALESFORCE_CLIENT_SECRET=<consumer secret>',
      );
    }
    try {
      salesforce = await SalesforceClient.connect(config.salesforce, {
        logger: options.logger,
        retryPolicy: { ...SALESFORCE_RETRY_POLICY, maxAttempts: 1 },
      });
    } catch (error) {
      const message = describeError(error);
      const fix = /invalid_client|client identifier|client secret/i.test(message)
        ? 'SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET do not match the External Client App (Setup → External Client App Manager → the app → Settings → OAuth Settings → Consumer Key and Secret); a new app takes up to 10 minutes to work'
        : /no client credentials user|run-as|user/i.test(message)
          ? 'the External Client App has no client-credentials run-as user: Setup → External Client App Manager → the app → Policies → OAuth Policies → Enable Client Credentials Flow, Run As = the integration user'
          : 'check SALESFORCE_INSTANCE_URL (the My Domain URL) and that the org is reachable; see docs/troubleshooting.md SALESFORCE_AUTH_FAILED';
      throw new Fail(message, fix);
    }
    conn = salesforce.conn;
    return `connected to ${conn.instanceUrl} as user ${salesforce.userId ?? '?'}`;
  });

  await check('salesforce.org_id', 'Org id matches SALESFORCE_ORG_ID', ['salesforce.auth'], () => {
    const actual = salesforce!.organizationId;
    if (actual === undefined) throw new Skip('the token response named no org (sf_cli auth)');
    const configured = config.salesforce.orgId;
    if (configured === undefined) {
      throw new Fail(
        `SALESFORCE_ORG_ID is not set; this org is ${actual}`,
        `heroku config:set SALESFORCE_ORG_ID=${actual} (outbound messages from any other org are refused)`,
      );
    }
    if (configured.slice(0, 15) !== actual.slice(0, 15)) {
      throw new Fail(
        `SALESFORCE_ORG_ID is ${configured} but the credentials log in to ${actual}`,
        `if the credentials are right: heroku config:set SALESFORCE_ORG_ID=${actual}; otherwise the client id/secret belong to another org (a refreshed sandbox has a new org id: docs/runbooks/sandbox-refresh.md)`,
      );
    }
    return actual;
  });

  await check('salesforce.api_version', 'API version served', ['salesforce.auth'], async () => {
    const versions = await conn!.request<{ version: string }[]>('/services/data');
    const served = versions.map((entry) => entry.version);
    const latest = served.at(-1) ?? '?';
    if (!served.includes(version)) {
      throw new Fail(
        `SALESFORCE_API_VERSION=${version} is not served by this org (latest ${latest})`,
        `heroku config:set SALESFORCE_API_VERSION=${latest} (or any version the org lists at /services/data)`,
      );
    }
    return `${version} (the org serves up to ${latest})`;
  });

  await check(
    'salesforce.fields',
    'Sync fields deployed and visible to the integration user',
    ['salesforce.api_version'],
    async () => {
      const describe = await conn!.request<{ fields: { name: string; updateable: boolean }[] }>(
        `/services/data/v${version}/sobjects/Task/describe`,
      );
      const fields = new Map(describe.fields.map((field) => [field.name, field]));
      const missing = SYNC_FIELDS.filter((name) => !fields.has(name));
      const readOnly = SYNC_FIELDS.filter((name) => fields.has(name) && !fields.get(name)!.updateable);
      if (missing.length > 0) {
        throw new Fail(
          `Task has no ${missing.join(', ')} for the integration user (not deployed, or no field access)`,
          DEPLOY_FIX,
        );
      }
      if (readOnly.length > 0) {
        throw new Fail(`the integration user cannot edit ${readOnly.join(', ')}`, DEPLOY_FIX);
      }
      return `${SYNC_FIELDS.length} fields on Task, editable`;
    },
  );

  await check(
    'salesforce.permission_set',
    `${INTEGRATION_PERMISSION_SET} assigned to the integration user`,
    ['salesforce.auth'],
    async () => {
      const userId = salesforce!.userId;
      if (userId === undefined) throw new Skip('the integration user is not known (sf_cli auth)');
      let count: number;
      try {
        const result = await conn!.query<{ Id: string }>(
          `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${userId}' AND PermissionSet.Name = '${INTEGRATION_PERMISSION_SET}'`,
        );
        count = result.totalSize;
      } catch (error) {
        if (unsupported(error)) {
          throw new Skip(
            `the org does not answer PermissionSetAssignment queries (${describeError(error)}); the fields check covers field access`,
          );
        }
        throw error;
      }
      if (count === 0) throw new Fail(`not assigned to user ${userId}`, DEPLOY_FIX);
      return `assigned to ${userId}`;
    },
  );

  await check('salesforce.flow', `Flow ${FLOW_NAME} active`, ['salesforce.auth'], async () => {
    let rows: { ActiveVersionId: string | null; LatestVersionId: string | null }[];
    try {
      rows = (
        await conn!.tooling.query<{ ActiveVersionId: string | null; LatestVersionId: string | null }>(
          `SELECT Id, DeveloperName, ActiveVersionId, LatestVersionId FROM FlowDefinition WHERE DeveloperName = '${FLOW_NAME}'`,
        )
      ).records;
    } catch (error) {
      if (unsupported(error))
        throw new Skip(
          `the org does not answer Tooling API FlowDefinition queries (${describeError(error)})`,
        );
      throw error;
    }
    if (rows.length === 0) throw new Fail('the Flow is not in the org', DEPLOY_FIX);
    if (!rows[0]!.ActiveVersionId) {
      throw new Fail(
        'the Flow is deployed but inactive: Task changes send no outbound message',
        `Setup → Flows → ${FLOW_NAME} → open the latest version → Activate (production orgs deploy Flows inactive unless "Deploy processes and flows as active" is on in Process Automation Settings)`,
      );
    }
    if (rows[0]!.LatestVersionId && rows[0]!.ActiveVersionId !== rows[0]!.LatestVersionId) {
      throw new Warn(
        'an older version of the Flow is active; the latest deployed version is not',
        `Setup → Flows → ${FLOW_NAME} → activate the latest version`,
      );
    }
    return 'active (latest version)';
  });

  await check(
    'salesforce.outbound_endpoint',
    'Outbound message points at this proxy',
    ['salesforce.auth'],
    async () => {
      let rows: { Metadata?: { endpointUrl?: string } }[];
      try {
        rows = (
          await conn!.tooling.query<{ Metadata?: { endpointUrl?: string } }>(
            `SELECT Id, Name, Metadata FROM WorkflowOutboundMessage WHERE Name = '${OUTBOUND_MESSAGE_NAME}'`,
          )
        ).records;
      } catch (error) {
        if (unsupported(error))
          throw new Skip(
            `the org does not answer Tooling API WorkflowOutboundMessage queries (${describeError(error)})`,
          );
        throw error;
      }
      if (rows.length === 0)
        throw new Fail(`no outbound message ${OUTBOUND_MESSAGE_NAME} in the org`, DEPLOY_FIX);
      const endpoint = rows[0]!.Metadata?.endpointUrl ?? '';
      const verdict = outboundEndpointVerdict(
        endpoint,
        config.publicUrl,
        config.salesforce.outboundMessageTokens,
      );
      if (verdict.status === 'fail') throw new Fail(verdict.detail, verdict.fix ?? REDEPLOY);
      if (verdict.status === 'warn') throw new Warn(verdict.detail, verdict.fix);
      return verdict.detail;
    },
  );

  await check(
    'salesforce.named_credential',
    'Named Credential round trip (event → Apex → proxy)',
    ['salesforce.fields', 'migrations'],
    async () => {
      if (config.salesforce.writePath !== 'apex') {
        throw new Skip('SALESFORCE_WRITE_PATH=api: the org never calls the proxy back');
      }
      const id = `${PING_BATCH_PREFIX}${randomUUID()}`;
      await createPing(pool, id);
      try {
        await conn!.sobject(EVENT).create({ Batch_Id__c: id, Record_Count__c: 0 });
      } catch (error) {
        throw new Fail(`publishing ${EVENT} failed: ${describeError(error)}`, DEPLOY_FIX);
      }
      const timeoutMs = options.roundTripTimeoutMs ?? 60_000;
      const deadline = Date.now() + timeoutMs;
      for (let wait = 100; Date.now() < deadline; wait = Math.min(wait * 2, 2_000)) {
        const received = await pingReceivedAt(pool, id);
        if (received) return `the org fetched the ping batch through Custompms_Proxy`;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(wait, Math.max(0, deadline - Date.now()))),
        );
      }
      throw new Fail(
        `published ${EVENT} for a ping batch, but no GET reached this proxy's database within ${Math.round(timeoutMs / 1000)} s`,
        'Setup → Named Credentials → Custompms Proxy: the URL must be PUBLIC_URL; External Credentials → Custompms Proxy → principal ' +
          'Custompms_Proxy_Principal: ApiKey must be one of PROXY_API_KEY; the integration user needs Custompms_Integration ' +
          '(principal access); Setup → Apex Jobs shows CustompmsPullJob failures; a 401 in heroku logs means the ApiKey differs',
      );
    },
  );

  await check('salesforce.api_usage', 'Daily API allowance left', ['salesforce.api_version'], async () => {
    const limits = await conn!.request<{ DailyApiRequests?: { Max: number; Remaining: number } }>(
      `/services/data/v${version}/limits`,
    );
    const daily = limits.DailyApiRequests;
    if (!daily || daily.Max <= 0) throw new Skip('the org reports no DailyApiRequests limit');
    const share = daily.Remaining / daily.Max;
    const detail = `${daily.Remaining} of ${daily.Max} calls left today (${Math.round(share * 100)} %)`;
    const fix =
      'the allowance resets over a rolling 24 h; lower the poll rate (POLL_INTERVAL_SECONDS), run backfills off-hours, or buy more API calls';
    if (share < USAGE_FAIL_REMAINING) throw new Fail(detail, fix);
    if (share < USAGE_WARN_REMAINING) throw new Warn(detail, fix);
    return detail;
  });

  // ------------------------------------------------------------------ Custompms
  await check('custompms.api', 'Custompms reachable with CUSTOMPMS_API_TOKEN', [], async () => {
    if (config.custompms.baseUrl === undefined) {
      throw new Fail(
        'CUSTOMPMS_BASE_URL is not set',
        'heroku config:set CUSTOMPMS_BASE_URL=https://<tenant> CUSTOMPMS_API_TOKEN=<token from Custompms>',
      );
    }
    const client = createCustompmsClient(config.custompms, {
      retry: { maxAttempts: 1 },
      ...(options.fetchImpl ? { fetch: options.fetchImpl } : {}),
    });
    try {
      await client.listPage('customers', { limit: 1 });
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      throw new Fail(
        `GET ${config.custompms.baseUrl}/api/v1/customers failed: ${describeError(error)}`,
        code === 'CUSTOMPMS_UNAUTHORIZED' || code === 'CUSTOMPMS_FORBIDDEN'
          ? 'CUSTOMPMS_API_TOKEN is refused: issue a new token in Custompms and heroku config:set CUSTOMPMS_API_TOKEN=…'
          : 'check CUSTOMPMS_BASE_URL and that Custompms is up (docs/troubleshooting.md for the code)',
      );
    }
    return config.custompms.baseUrl;
  });

  await check('custompms.webhook', 'Custompms webhook registered', [], async () => {
    const last = await pool
      .query<{ at: Date | null }>(
        `SELECT max(received_at) AS at FROM inbox_messages WHERE source = 'custompms.webhook'`,
      )
      .then((result) => result.rows[0]?.at ?? null)
      .catch(() => null);
    throw new Skip(
      'the Custompms contract (proxy/openapi/custompms.yaml) has no endpoint to list or register webhooks, so this cannot be checked; ' +
        (last
          ? `the last signed webhook arrived ${last.toISOString()}`
          : 'no signed webhook has arrived yet') +
        '. Register <PUBLIC_URL>/custompms/v1/webhooks with a secret from CUSTOMPMS_WEBHOOK_SECRETS in Custompms',
    );
  });

  return { ok: results.every((result) => result.status !== 'fail'), checks: results };
}

const REDEPLOY =
  'run scripts/deploy-org.ts again with --proxy-url <PUBLIC_URL> and OUTBOUND_MESSAGE_TOKEN set to the current (first) token; it rewrites the endpoint';

/**
 * Whether the org's outbound-message endpoint reaches this proxy with a token it accepts: the
 * current one passes, an older one of a rotation warns, anything else fails. Never echoes a token.
 */
export function outboundEndpointVerdict(
  endpoint: string,
  publicUrl: string | undefined,
  tokens: readonly string[],
): { status: 'pass' | 'warn' | 'fail'; detail: string; fix?: string } {
  const match = /^(.*)\/salesforce\/v1\/outbound-messages\/([^/?#]+)$/.exec(endpoint);
  if (!match)
    return { status: 'fail', detail: 'the endpoint is not a proxy outbound-message URL', fix: REDEPLOY };
  const base = match[1]!.replace(/\/+$/, '');
  if (publicUrl !== undefined && base !== publicUrl) {
    return {
      status: 'fail',
      detail: `the endpoint goes to ${base}, not PUBLIC_URL ${publicUrl}`,
      fix: REDEPLOY,
    };
  }
  const index = tokens.indexOf(match[2]!);
  if (index === -1) {
    return {
      status: 'fail',
      detail: 'the endpoint carries a token the proxy does not accept',
      fix: REDEPLOY,
    };
  }
  if (index > 0) {
    return {
      status: 'warn',
      detail: 'the endpoint still carries an older token (a rotation is half done)',
      fix: `${REDEPLOY}; then drop the old token from OUTBOUND_MESSAGE_TOKEN (docs/runbooks/secret-rotation.md)`,
    };
  }
  return { status: 'pass', detail: `${base}/salesforce/v1/outbound-messages/<current token>` };
}

/** The checklist for people: one line per check, the fix under each failure or warning. */
export function formatDoctorReport(report: DoctorReport): string {
  const mark: Record<CheckStatus, string> = {
    pass: '[ok]  ',
    fail: '[FAIL]',
    warn: '[warn]',
    skip: '[skip]',
  };
  const lines = report.checks.flatMap((check) => [
    `${mark[check.status]} ${check.title} — ${check.detail}`,
    ...(check.fix && (check.status === 'fail' || check.status === 'warn')
      ? [`       fix: ${check.fix}`]
      : []),
  ]);
  const failed = report.checks.filter((check) => check.status === 'fail').length;
  lines.push('', failed === 0 ? 'doctor: every check passed' : `doctor: ${failed} check(s) failed`);
  return `${lines.join('\n')}\n`;
}
