import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig, loadDatabaseConfig, missingConfiguration } from '../../proxy/src/config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => problem.variable);
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('starts with sane defaults and no configuration at all', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.database.url).toBeUndefined();
    expect(config.database.embeddedDir).toBe('.data/postgres');
    expect(config.salesforce.apiVersion).toBe('65.0');
    expect(config.salesforce.writePath).toBe('apex');
    expect(config.sync.conflictPolicy).toBe('latest');
    expect(config.sync.createCustomersFromDivisions).toBe(false);
    expect(config.custompms.webhookSecrets).toEqual([]);
  });

  it('parses typed values', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db.example.com:5432/app',
      RUN_WORKER: 'false',
      CUSTOMPMS_WEBHOOK_SECRETS: 'whsec_new_secret_1, whsec_old_secret_2',
      SALESFORCE_ORG_ID: '00D5g000004ABCDEAA',
    });
    expect(config.port).toBe(8080);
    expect(config.database.url).toBe('postgres://u:p@db.example.com:5432/app');
    expect(config.worker.enabled).toBe(false);
    expect(config.custompms.webhookSecrets).toEqual(['whsec_new_secret_1', 'whsec_old_secret_2']);
  });

  it('names every offending variable in one error', () => {
    expect(
      problemsOf({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        SALESFORCE_ORG_ID: '123',
      }).sort(),
    ).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'PORT', 'SALESFORCE_ORG_ID']);
  });

  it('requires the credentials an auth mode needs once any of them is given', () => {
    expect(
      problemsOf({ SALESFORCE_AUTH: 'client_credentials', SALESFORCE_CLIENT_ID: '3MVG9abc' }).sort(),
    ).toEqual(['SALESFORCE_CLIENT_SECRET', 'SALESFORCE_INSTANCE_URL']);
    expect(problemsOf({ SALESFORCE_AUTH: 'jwt', SALESFORCE_CLIENT_ID: 'abc' }).sort()).toEqual([
      'SALESFORCE_PRIVATE_KEY',
      'SALESFORCE_USERNAME',
    ]);
  });

  it('refuses short secrets without echoing them', () => {
    try {
      loadConfig({ PROXY_API_KEY: 'short-key' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as Error).message).toContain('PROXY_API_KEY');
      expect((error as Error).message).not.toContain('short-key');
    }
  });

  it('treats an auth mode with none of its credentials as not configured yet (a fresh Heroku app)', () => {
    const config = loadConfig({
      SALESFORCE_AUTH: 'client_credentials',
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u:p@db:5432/x',
    });
    expect(config.salesforce.auth).toBe('none');
    expect(config.salesforce.notConfigured).toMatch(
      /SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET are not set/,
    );
    expect(missingConfiguration(config)).toEqual(
      expect.objectContaining({ salesforce: expect.any(String), custompms: 'CUSTOMPMS_BASE_URL not set' }),
    );
  });

  it('wants the My Domain URL for client credentials, never the shared login hosts', () => {
    const base = {
      SALESFORCE_AUTH: 'client_credentials',
      SALESFORCE_CLIENT_ID: '3MVG9abc',
      SALESFORCE_CLIENT_SECRET: 'F3A1B2C3D4',
    };
    for (const host of ['https://login.salesforce.com', 'https://test.salesforce.com/']) {
      try {
        loadConfig({ ...base, SALESFORCE_INSTANCE_URL: host });
        throw new Error('expected a ConfigError');
      } catch (error) {
        expect((error as Error).message).toMatch(/SALESFORCE_INSTANCE_URL must be the org's My Domain URL/);
      }
    }
    expect(problemsOf(base)).toEqual(['SALESFORCE_INSTANCE_URL']);
    const config = loadConfig({ ...base, SALESFORCE_INSTANCE_URL: 'https://acme.my.salesforce.com' });
    expect(config.salesforce.auth).toBe('client_credentials');
    expect(config.salesforce.notConfigured).toBeUndefined();
  });

  it('refuses to run in production without DATABASE_URL (no embedded PostgreSQL on a dyno disk)', () => {
    try {
      loadConfig({ NODE_ENV: 'production' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as Error).message).toMatch(/DATABASE_URL is required when NODE_ENV=production/);
    }
    expect(() => loadDatabaseConfig({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL is required/);
  });

  it('reads only the database settings for migrations', () => {
    const config = loadDatabaseConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u:p@db.example.com:5432/app',
      SALESFORCE_AUTH: 'jwt',
      PROXY_API_KEY: 'short',
    });
    expect(config.database.url).toBe('postgres://u:p@db.example.com:5432/app');
    expect(config.database.ssl).toBe('auto');
  });

  it('accepts several keys for rotation and refuses weak, duplicated or shared ones', () => {
    const a = randomBytes(32).toString('hex');
    const b = randomBytes(32).toString('hex');
    const c = randomBytes(24).toString('hex');
    const config = loadConfig({
      PROXY_API_KEY: `${a}, ${b}`,
      ADMIN_API_KEY: c,
      OUTBOUND_MESSAGE_TOKEN: `${c.slice(0, 30)}x_y-z,${b.slice(0, 40)}`,
    });
    expect(config.salesforce.proxyApiKeys).toEqual([a, b]);
    expect(config.salesforce.proxyApiKey).toBe(a);
    expect(config.adminApiKeys).toEqual([c]);
    expect(config.salesforce.outboundMessageTokens).toHaveLength(2);

    expect(problemsOf({ ADMIN_API_KEY: 'a'.repeat(40) })).toEqual(['ADMIN_API_KEY']);
    expect(problemsOf({ ADMIN_API_KEY: '0123456789abcdefghijklmnopqrstuvwxyz' })).toEqual(['ADMIN_API_KEY']);
    expect(problemsOf({ PROXY_API_KEY: 'aabbaabbccddccddaabbaabbccddccddaabbccdd' })).toEqual([
      'PROXY_API_KEY',
    ]);
    expect(problemsOf({ PROXY_API_KEY: `${a},${a}` })).toEqual(['PROXY_API_KEY']);
    expect(problemsOf({ OUTBOUND_MESSAGE_TOKEN: `${a.slice(0, 30)}/x` })).toEqual(['OUTBOUND_MESSAGE_TOKEN']);
    expect(problemsOf({ PROXY_API_KEY: a, ADMIN_API_KEY: `${b},${a}` })).toEqual(['ADMIN_API_KEY']);
    try {
      loadConfig({ PROXY_API_KEY: b, ADMIN_API_KEY: b });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as Error).message).toContain('ADMIN_API_KEY holds the same value as PROXY_API_KEY');
      expect((error as Error).message).not.toContain(b);
    }
  });
});
