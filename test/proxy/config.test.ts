import { ConfigError, loadConfig } from '../../proxy/src/config';

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

  it('requires the credentials an auth mode needs', () => {
    expect(problemsOf({ SALESFORCE_AUTH: 'client_credentials' }).sort()).toEqual([
      'SALESFORCE_CLIENT_ID',
      'SALESFORCE_CLIENT_SECRET',
    ]);
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
});
