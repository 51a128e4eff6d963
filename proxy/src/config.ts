/**
 * Every setting comes from the environment, parsed once at start. A bad or missing value stops
 * the process with one message naming every offending variable. Nothing else in the code reads
 * `process.env`.
 */
import { z } from 'zod';
import { weakSecretReason } from './secret-strength';

const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const secret = (minLength: number) =>
  z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .optional()
    .refine((value) => value === undefined || value.length >= minLength, {
      message: `must be at least ${minLength} characters`,
    });

/** zod's issue kind for our own checks (a constant: it is not one of the proxy's problem codes). */
const CUSTOM_ISSUE = 'custom' as const;

/**
 * A comma-separated list of secrets we issue (several while rotating: new first, then old). Each
 * must be long enough and random-looking (secret-strength.ts); the value is never echoed.
 */
const secretList = (minLength: number, pattern?: { regex: RegExp; message: string }) =>
  z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    )
    .superRefine((values, ctx) => {
      values.forEach((value, index) => {
        const which = values.length > 1 ? `value ${index + 1} ` : '';
        if (value.length < minLength) {
          ctx.addIssue({ code: CUSTOM_ISSUE, message: `${which}must be at least ${minLength} characters` });
          return;
        }
        if (pattern && !pattern.regex.test(value)) {
          ctx.addIssue({ code: CUSTOM_ISSUE, message: `${which}${pattern.message}` });
          return;
        }
        const weak = weakSecretReason(value);
        if (weak) ctx.addIssue({ code: CUSTOM_ISSUE, message: `${which}${weak}` });
      });
      if (new Set(values).size !== values.length) {
        ctx.addIssue({ code: CUSTOM_ISSUE, message: 'lists the same value twice' });
      }
    });

const url = z.url({ protocol: /^https?$/ });

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== ''),
);

const conflictPolicy = z.enum(['latest', 'custompms', 'salesforce']);
const deletePolicy = z.enum(['delete', 'unlink', 'ignore']);

/** The documented environment: name → schema. README's config table mirrors this list. */
export const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'a size such as 512kb or 1mb')
    .default('1mb'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(25_000),

  DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATABASE_SSL: z.enum(['auto', 'off', 'no-verify', 'verify']).default('auto'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  EMBEDDED_POSTGRES_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(0).max(65535).default(54329),

  RUN_WORKER: booleanFromString.default(true),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(50).default(4),

  SALESFORCE_LOGIN_URL: url.default('https://login.salesforce.com'),
  SALESFORCE_INSTANCE_URL: optionalString.pipe(url.optional()),
  SALESFORCE_API_VERSION: z
    .string()
    .regex(/^\d{2}\.0$/, 'an API version such as 65.0')
    .default('65.0'),
  SALESFORCE_AUTH: z.enum(['client_credentials', 'jwt', 'sf_cli', 'none']).default('none'),
  SALESFORCE_CLIENT_ID: optionalString,
  SALESFORCE_CLIENT_SECRET: secret(8),
  SALESFORCE_USERNAME: optionalString,
  SALESFORCE_PRIVATE_KEY: optionalString,
  SALESFORCE_ORG_ALIAS: optionalString,
  SALESFORCE_ORG_ID: optionalString.pipe(
    z
      .string()
      .regex(/^00D[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$/, 'an org id starting with 00D')
      .optional(),
  ),
  SALESFORCE_WRITE_PATH: z.enum(['apex', 'api']).default('apex'),
  SALESFORCE_API_BUDGET_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  OUTBOUND_MESSAGE_TOKEN: secretList(24, {
    regex: /^[A-Za-z0-9_-]+$/,
    message: 'may hold only A-Z, a-z, 0-9, _ and - (it is part of a URL path)',
  }),
  PROXY_API_KEY: secretList(32, { regex: /^\S+$/, message: 'may not contain spaces' }),
  ADMIN_API_KEY: secretList(32, { regex: /^\S+$/, message: 'may not contain spaces' }),
  PUBLIC_URL: optionalString.pipe(url.optional()),
  METRICS_API_KEY: secretList(32, { regex: /^\S+$/, message: 'may not contain spaces' }),
  CONSOLE_CLIENT_ID: optionalString,
  CONSOLE_CLIENT_SECRET: secret(8),
  CONSOLE_SESSION_MINUTES: z.coerce.number().int().min(5).max(1440).default(480),

  CUSTOMPMS_BASE_URL: optionalString.pipe(url.optional()),
  CUSTOMPMS_API_TOKEN: secret(8),
  CUSTOMPMS_WEBHOOK_SECRETS: optionalString.pipe(commaList.optional()),
  CUSTOMPMS_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  CUSTOMPMS_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),

  CONFLICT_POLICY: conflictPolicy.default('latest'),
  DELETE_POLICY: deletePolicy.default('delete'),
  CREATE_CUSTOMERS_FROM_DIVISIONS: booleanFromString.default(false),
  POLL_INTERVAL_SECONDS: z.coerce.number().int().min(10).default(60),
  MASS_DELETE_LIMIT: z.coerce.number().int().min(1).default(100),
  MASS_DELETE_WINDOW_MINUTES: z.coerce.number().int().min(1).max(1440).default(10),
  RETENTION_DAYS: z.coerce.number().int().min(2).max(3650).default(30),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  env: Environment['NODE_ENV'];
  port: number;
  logLevel: Environment['LOG_LEVEL'];
  bodyLimit: string;
  shutdownTimeoutMs: number;
  /** The proxy's public base URL (e.g. https://cps-sync.herokuapp.com); `doctor` checks the org's endpoints against it. */
  publicUrl: string | undefined;
  database: {
    url: string | undefined;
    ssl: Environment['DATABASE_SSL'];
    poolMax: number;
    embeddedDir: string;
    embeddedPort: number;
  };
  worker: { enabled: boolean; concurrency: number };
  salesforce: {
    loginUrl: string;
    instanceUrl: string | undefined;
    apiVersion: string;
    auth: Environment['SALESFORCE_AUTH'];
    clientId: string | undefined;
    clientSecret: string | undefined;
    username: string | undefined;
    privateKey: string | undefined;
    orgAlias: string | undefined;
    orgId: string | undefined;
    writePath: Environment['SALESFORCE_WRITE_PATH'];
    /** Share (%) of the org's daily API allowance the proxy may use before its pollers slow down. */
    apiBudgetPercent: number;
    /** The current outbound-message token (the first of OUTBOUND_MESSAGE_TOKEN). */
    outboundMessageToken: string | undefined;
    /** Every accepted outbound-message token (several during a rotation). */
    outboundMessageTokens: string[];
    /** The current key the org's Apex sends (the first of PROXY_API_KEY). */
    proxyApiKey: string | undefined;
    /** Every accepted Apex key (several during a rotation). */
    proxyApiKeys: string[];
    /**
     * Why the proxy cannot reach Salesforce although the process runs (no credentials yet), or
     * undefined when it is configured. `auth` is then `none`.
     */
    notConfigured: string | undefined;
  };
  custompms: {
    baseUrl: string | undefined;
    apiToken: string | undefined;
    webhookSecrets: string[];
    timeoutMs: number;
    maxConcurrency: number;
  };
  /** Bearer key of the admin API (problems, conflicts, replay); unset: the admin API is off. */
  adminApiKey: string | undefined;
  /** Every accepted admin key (several during a rotation, or one per admin). */
  adminApiKeys: string[];
  /** Bearer keys of `GET /metrics` (several during a rotation); none: the endpoint is off. */
  metricsApiKeys: string[];
  /**
   * The operator console's "Sign in with Salesforce": the app users sign in through (the web
   * server flow; default: the proxy's own SALESFORCE_CLIENT_ID/SECRET) and how long a session lasts.
   */
  console: { clientId: string | undefined; clientSecret: string | undefined; sessionMinutes: number };
  sync: {
    conflictPolicy: Environment['CONFLICT_POLICY'];
    deletePolicy: Environment['DELETE_POLICY'];
    createCustomersFromDivisions: boolean;
    pollIntervalSeconds: number;
    /** Mass-delete brake: more deletes than `massDeleteLimit` within the window pause deletes. */
    massDeleteLimit: number;
    massDeleteWindowMinutes: number;
    /** Processed inbox messages, finished batches, conflicts and resolved problems older than this are purged. */
    retentionDays: number;
  };
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration: ' +
        problems.map((problem) => `${problem.variable} ${problem.message}`).join('; '),
    );
    this.name = 'ConfigError';
  }
}

const PRODUCTION_DATABASE_MESSAGE =
  'is required when NODE_ENV=production: without it the proxy would start an embedded PostgreSQL ' +
  "on the dyno's disk, which is thrown away at every restart with the sync state in it " +
  '(attach Heroku Postgres: heroku addons:create heroku-postgresql:essential-0)';

/** Hosts shared by every org: client credentials need the org's own My Domain instead. */
const SHARED_LOGIN_HOSTS = new Set(['login.salesforce.com', 'test.salesforce.com']);

function isSharedLoginHost(value: string | undefined): boolean {
  return value !== undefined && SHARED_LOGIN_HOSTS.has(new URL(value).hostname.toLowerCase());
}

/** The credentials an auth mode needs; none of them set means "not configured yet", not an error. */
const CREDENTIALS: Partial<Record<Environment['SALESFORCE_AUTH'], (keyof Environment)[]>> = {
  client_credentials: ['SALESFORCE_CLIENT_ID', 'SALESFORCE_CLIENT_SECRET'],
  jwt: ['SALESFORCE_CLIENT_ID', 'SALESFORCE_USERNAME', 'SALESFORCE_PRIVATE_KEY'],
};

/** Why Salesforce is not configured although SALESFORCE_AUTH names a mode, or undefined. */
export function salesforceNotConfigured(env: Environment): string | undefined {
  if (env.SALESFORCE_AUTH === 'none') return 'SALESFORCE_AUTH=none';
  const needed = CREDENTIALS[env.SALESFORCE_AUTH];
  if (needed && needed.every((variable) => env[variable] === undefined)) {
    return `SALESFORCE_AUTH=${env.SALESFORCE_AUTH} but ${needed.join(', ')} are not set yet`;
  }
  return undefined;
}

/** Cross-field rules zod's per-variable schema cannot express. */
function crossFieldProblems(env: Environment): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  const need = (variable: keyof Environment, when: string) => {
    if (env[variable] === undefined) problems.push({ variable, message: `is required ${when}` });
  };
  if (env.NODE_ENV === 'production' && env.DATABASE_URL === undefined) {
    problems.push({ variable: 'DATABASE_URL', message: PRODUCTION_DATABASE_MESSAGE });
  }
  // A mode with none of its credentials is "not configured yet" (a fresh Heroku app); a mode
  // with some of them is a mistake worth stopping for.
  if (salesforceNotConfigured(env) === undefined) {
    if (env.SALESFORCE_AUTH === 'client_credentials') {
      need('SALESFORCE_CLIENT_ID', 'when SALESFORCE_AUTH=client_credentials');
      need('SALESFORCE_CLIENT_SECRET', 'when SALESFORCE_AUTH=client_credentials');
      if (env.SALESFORCE_INSTANCE_URL === undefined || isSharedLoginHost(env.SALESFORCE_INSTANCE_URL)) {
        problems.push({
          variable: 'SALESFORCE_INSTANCE_URL',
          message:
            "must be the org's My Domain URL (e.g. https://acme.my.salesforce.com) when " +
            'SALESFORCE_AUTH=client_credentials: Salesforce serves the client-credentials flow only on ' +
            'the My Domain host, never on login.salesforce.com or test.salesforce.com (Setup → My Domain shows it)',
        });
      }
    }
    if (env.SALESFORCE_AUTH === 'jwt') {
      need('SALESFORCE_CLIENT_ID', 'when SALESFORCE_AUTH=jwt');
      need('SALESFORCE_USERNAME', 'when SALESFORCE_AUTH=jwt');
      need('SALESFORCE_PRIVATE_KEY', 'when SALESFORCE_AUTH=jwt');
    }
    if (env.SALESFORCE_AUTH === 'sf_cli') need('SALESFORCE_ORG_ALIAS', 'when SALESFORCE_AUTH=sf_cli');
  }
  if (env.CUSTOMPMS_BASE_URL !== undefined) need('CUSTOMPMS_API_TOKEN', 'when CUSTOMPMS_BASE_URL is set');
  problems.push(...sharedSecretProblems(env));
  return problems;
}

/**
 * One value used for two purposes would let whoever holds one credential use the other (the org's
 * Apex key opening the admin API, say). Every secret we hold must be distinct.
 */
function sharedSecretProblems(env: Environment): { variable: string; message: string }[] {
  const owners = new Map<string, string>();
  const problems: { variable: string; message: string }[] = [];
  const lists: [string, readonly string[]][] = [
    ['OUTBOUND_MESSAGE_TOKEN', env.OUTBOUND_MESSAGE_TOKEN],
    ['PROXY_API_KEY', env.PROXY_API_KEY],
    ['ADMIN_API_KEY', env.ADMIN_API_KEY],
    ['METRICS_API_KEY', env.METRICS_API_KEY],
    ['CUSTOMPMS_WEBHOOK_SECRETS', env.CUSTOMPMS_WEBHOOK_SECRETS ?? []],
    ['CUSTOMPMS_API_TOKEN', env.CUSTOMPMS_API_TOKEN === undefined ? [] : [env.CUSTOMPMS_API_TOKEN]],
    [
      'SALESFORCE_CLIENT_SECRET',
      env.SALESFORCE_CLIENT_SECRET === undefined ? [] : [env.SALESFORCE_CLIENT_SECRET],
    ],
  ];
  for (const [variable, values] of lists) {
    for (const value of new Set(values)) {
      const owner = owners.get(value);
      if (owner !== undefined && owner !== variable) {
        problems.push({ variable, message: `holds the same value as ${owner}: every key must be distinct` });
      } else {
        owners.set(value, variable);
      }
    }
  }
  return problems;
}

/** The variables `migrate` reads: a release phase needs the database and nothing else. */
const DATABASE_VARIABLES = {
  NODE_ENV: true,
  LOG_LEVEL: true,
  DATABASE_URL: true,
  DATABASE_SSL: true,
  DATABASE_POOL_MAX: true,
  EMBEDDED_POSTGRES_DIR: true,
  EMBEDDED_POSTGRES_PORT: true,
} as const;

export type DatabaseConfig = Pick<Config, 'env' | 'logLevel' | 'database'>;

function issuesToError(issues: z.core.$ZodIssue[]): ConfigError {
  return new ConfigError(
    issues.map((issue) => ({ variable: String(issue.path[0] ?? '(environment)'), message: issue.message })),
  );
}

/**
 * Only the database settings (Heroku's release phase runs `migrate` before anyone has entered the
 * Salesforce or Custompms credentials; nothing else may stop it). Same rules as loadConfig for these.
 */
export function loadDatabaseConfig(source: Record<string, string | undefined> = process.env): DatabaseConfig {
  const parsed = environmentSchema.pick(DATABASE_VARIABLES).safeParse(source);
  if (!parsed.success) throw issuesToError(parsed.error.issues);
  const env = parsed.data;
  if (env.NODE_ENV === 'production' && env.DATABASE_URL === undefined) {
    throw new ConfigError([{ variable: 'DATABASE_URL', message: PRODUCTION_DATABASE_MESSAGE }]);
  }
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    database: {
      url: env.DATABASE_URL,
      ssl: env.DATABASE_SSL,
      poolMax: env.DATABASE_POOL_MAX,
      embeddedDir: env.EMBEDDED_POSTGRES_DIR,
      embeddedPort: env.EMBEDDED_POSTGRES_PORT,
    },
  };
}

/** Parses the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = environmentSchema.safeParse(source);
  if (!parsed.success) throw issuesToError(parsed.error.issues);
  const env = parsed.data;
  const problems = crossFieldProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  const notConfigured = salesforceNotConfigured(env);
  return {
    env: env.NODE_ENV,
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, ''),
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    bodyLimit: env.BODY_LIMIT,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    database: {
      url: env.DATABASE_URL,
      ssl: env.DATABASE_SSL,
      poolMax: env.DATABASE_POOL_MAX,
      embeddedDir: env.EMBEDDED_POSTGRES_DIR,
      embeddedPort: env.EMBEDDED_POSTGRES_PORT,
    },
    worker: { enabled: env.RUN_WORKER, concurrency: env.WORKER_CONCURRENCY },
    salesforce: {
      loginUrl: env.SALESFORCE_LOGIN_URL,
      instanceUrl: env.SALESFORCE_INSTANCE_URL,
      apiVersion: env.SALESFORCE_API_VERSION,
      auth: notConfigured === undefined ? env.SALESFORCE_AUTH : 'none',
      clientId: env.SALESFORCE_CLIENT_ID,
      clientSecret: env.SALESFORCE_CLIENT_SECRET,
      username: env.SALESFORCE_USERNAME,
      privateKey: env.SALESFORCE_PRIVATE_KEY,
      orgAlias: env.SALESFORCE_ORG_ALIAS,
      orgId: env.SALESFORCE_ORG_ID,
      writePath: env.SALESFORCE_WRITE_PATH,
      apiBudgetPercent: env.SALESFORCE_API_BUDGET_PERCENT,
      outboundMessageToken: env.OUTBOUND_MESSAGE_TOKEN[0],
      outboundMessageTokens: env.OUTBOUND_MESSAGE_TOKEN,
      proxyApiKey: env.PROXY_API_KEY[0],
      proxyApiKeys: env.PROXY_API_KEY,
      notConfigured,
    },
    custompms: {
      baseUrl: env.CUSTOMPMS_BASE_URL,
      apiToken: env.CUSTOMPMS_API_TOKEN,
      webhookSecrets: env.CUSTOMPMS_WEBHOOK_SECRETS ?? [],
      timeoutMs: env.CUSTOMPMS_TIMEOUT_MS,
      maxConcurrency: env.CUSTOMPMS_MAX_CONCURRENCY,
    },
    adminApiKey: env.ADMIN_API_KEY[0],
    adminApiKeys: env.ADMIN_API_KEY,
    metricsApiKeys: env.METRICS_API_KEY,
    console: {
      clientId: env.CONSOLE_CLIENT_ID ?? env.SALESFORCE_CLIENT_ID,
      clientSecret: env.CONSOLE_CLIENT_ID
        ? env.CONSOLE_CLIENT_SECRET
        : (env.CONSOLE_CLIENT_SECRET ?? env.SALESFORCE_CLIENT_SECRET),
      sessionMinutes: env.CONSOLE_SESSION_MINUTES,
    },
    sync: {
      conflictPolicy: env.CONFLICT_POLICY,
      deletePolicy: env.DELETE_POLICY,
      createCustomersFromDivisions: env.CREATE_CUSTOMERS_FROM_DIVISIONS,
      pollIntervalSeconds: env.POLL_INTERVAL_SECONDS,
      massDeleteLimit: env.MASS_DELETE_LIMIT,
      massDeleteWindowMinutes: env.MASS_DELETE_WINDOW_MINUTES,
      retentionDays: env.RETENTION_DAYS,
    },
  };
}

/**
 * What a running proxy lacks to sync (a fresh Heroku app has no credentials yet): shown by
 * `/readyz` and the admin status instead of failing. Keys are the parts, values the reason.
 */
export function missingConfiguration(config: Config): Record<string, string | undefined> {
  const missing = (what: string, set: boolean) => (set ? undefined : `${what} not set`);
  return {
    salesforce: config.salesforce.notConfigured,
    custompms: missing('CUSTOMPMS_BASE_URL', config.custompms.baseUrl !== undefined),
    outboundMessages:
      missing('OUTBOUND_MESSAGE_TOKEN', config.salesforce.outboundMessageTokens.length > 0) ??
      missing('SALESFORCE_ORG_ID', config.salesforce.orgId !== undefined),
    apexApi: missing('PROXY_API_KEY', config.salesforce.proxyApiKeys.length > 0),
    custompmsWebhooks: missing('CUSTOMPMS_WEBHOOK_SECRETS', config.custompms.webhookSecrets.length > 0),
    adminApi: missing('ADMIN_API_KEY', config.adminApiKeys.length > 0),
  };
}
