/**
 * Every setting comes from the environment, parsed once at start. A bad or missing value stops
 * the process with one message naming every offending variable. Nothing else in the code reads
 * `process.env`.
 */
import { z } from 'zod';

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
  OUTBOUND_MESSAGE_TOKEN: secret(24),
  PROXY_API_KEY: secret(32),
  ADMIN_API_KEY: secret(32),

  CUSTOMPMS_BASE_URL: optionalString.pipe(url.optional()),
  CUSTOMPMS_API_TOKEN: secret(8),
  CUSTOMPMS_WEBHOOK_SECRETS: optionalString.pipe(commaList.optional()),
  CUSTOMPMS_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  CUSTOMPMS_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),

  CONFLICT_POLICY: conflictPolicy.default('latest'),
  DELETE_POLICY: deletePolicy.default('delete'),
  CREATE_CUSTOMERS_FROM_DIVISIONS: booleanFromString.default(false),
  POLL_INTERVAL_SECONDS: z.coerce.number().int().min(10).default(60),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  env: Environment['NODE_ENV'];
  port: number;
  logLevel: Environment['LOG_LEVEL'];
  bodyLimit: string;
  shutdownTimeoutMs: number;
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
    outboundMessageToken: string | undefined;
    proxyApiKey: string | undefined;
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
  sync: {
    conflictPolicy: Environment['CONFLICT_POLICY'];
    deletePolicy: Environment['DELETE_POLICY'];
    createCustomersFromDivisions: boolean;
    pollIntervalSeconds: number;
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

/** Cross-field rules zod's per-variable schema cannot express. */
function crossFieldProblems(env: Environment): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  const need = (variable: keyof Environment, when: string) => {
    if (env[variable] === undefined) problems.push({ variable, message: `is required ${when}` });
  };
  if (env.SALESFORCE_AUTH === 'client_credentials') {
    need('SALESFORCE_CLIENT_ID', 'when SALESFORCE_AUTH=client_credentials');
    need('SALESFORCE_CLIENT_SECRET', 'when SALESFORCE_AUTH=client_credentials');
  }
  if (env.SALESFORCE_AUTH === 'jwt') {
    need('SALESFORCE_CLIENT_ID', 'when SALESFORCE_AUTH=jwt');
    need('SALESFORCE_USERNAME', 'when SALESFORCE_AUTH=jwt');
    need('SALESFORCE_PRIVATE_KEY', 'when SALESFORCE_AUTH=jwt');
  }
  if (env.SALESFORCE_AUTH === 'sf_cli') need('SALESFORCE_ORG_ALIAS', 'when SALESFORCE_AUTH=sf_cli');
  if (env.CUSTOMPMS_BASE_URL !== undefined) need('CUSTOMPMS_API_TOKEN', 'when CUSTOMPMS_BASE_URL is set');
  return problems;
}

/** Parses the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = environmentSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(environment)'),
        message: issue.message,
      })),
    );
  }
  const env = parsed.data;
  const problems = crossFieldProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    env: env.NODE_ENV,
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
      auth: env.SALESFORCE_AUTH,
      clientId: env.SALESFORCE_CLIENT_ID,
      clientSecret: env.SALESFORCE_CLIENT_SECRET,
      username: env.SALESFORCE_USERNAME,
      privateKey: env.SALESFORCE_PRIVATE_KEY,
      orgAlias: env.SALESFORCE_ORG_ALIAS,
      orgId: env.SALESFORCE_ORG_ID,
      writePath: env.SALESFORCE_WRITE_PATH,
      outboundMessageToken: env.OUTBOUND_MESSAGE_TOKEN,
      proxyApiKey: env.PROXY_API_KEY,
    },
    custompms: {
      baseUrl: env.CUSTOMPMS_BASE_URL,
      apiToken: env.CUSTOMPMS_API_TOKEN,
      webhookSecrets: env.CUSTOMPMS_WEBHOOK_SECRETS ?? [],
      timeoutMs: env.CUSTOMPMS_TIMEOUT_MS,
      maxConcurrency: env.CUSTOMPMS_MAX_CONCURRENCY,
    },
    adminApiKey: env.ADMIN_API_KEY,
    sync: {
      conflictPolicy: env.CONFLICT_POLICY,
      deletePolicy: env.DELETE_POLICY,
      createCustomersFromDivisions: env.CREATE_CUSTOMERS_FROM_DIVISIONS,
      pollIntervalSeconds: env.POLL_INTERVAL_SECONDS,
    },
  };
}
