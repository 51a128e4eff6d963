/**
 * OAuth against the emulated org through jsforce: client credentials, JWT bearer (RS256, checked
 * against the app's certificate), token expiry → INVALID_SESSION_ID, and jsforce's refresh path.
 */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from 'jsforce';
import { API_VERSION, rejection } from './helpers';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { ShiftedClock } from './time';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

function assertion(privateKey: string, claims: Record<string, unknown>): string {
  const unsigned = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${unsigned}.${b64url(createSign('RSA-SHA256').update(unsigned).sign(privateKey))}`;
}

/** A self-signed X.509 certificate for the key (what an admin uploads to the External Client App). */
function selfSignedCertificate(privateKey: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sfe-cert-'));
  try {
    writeFileSync(path.join(dir, 'key.pem'), privateKey);
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-x509',
        '-key',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '2',
        '-subj',
        '/CN=custompms-proxy',
      ],
      {
        cwd: dir,
        stdio: 'ignore',
      },
    );
    return readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('OAuth and sessions', () => {
  const clock = new ShiftedClock();
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  let emulator: SalesforceEmulator;

  beforeAll(async () => {
    emulator = await startSalesforceEmulator({
      deployForceApp: true,
      clock,
      tokenTtlMs: 60 * 60 * 1000,
      connectedApp: {
        name: 'Proxy',
        clientId: '3MVG9-test-client',
        clientSecret: 'a-long-client-secret',
        runAs: 'integration@custompms.example',
        certificate: selfSignedCertificate(privateKey),
      },
    });
  });

  afterAll(async () => {
    await emulator.close();
  });

  const oauthConnection = (): Connection =>
    new Connection({
      version: API_VERSION,
      oauth2: { clientId: '3MVG9-test-client', clientSecret: 'a-long-client-secret', loginUrl: emulator.url },
    });

  it('issues client-credentials tokens for the run-as user, shaped like Salesforce tokens', async () => {
    const conn = oauthConnection();
    const user = await conn.authorize({ grant_type: 'client_credentials' });
    expect(user).toMatchObject({ id: emulator.org.integrationUserId, organizationId: emulator.orgId });
    expect(conn.accessToken).toMatch(/^00D[A-Za-z0-9]{12}![\w.]+$/);
    expect(conn.instanceUrl).toBe(emulator.url);
    const identity = await conn.identity();
    expect(identity).toMatchObject({
      username: 'integration@custompms.example',
      organization_id: emulator.orgId,
    });
    const wrong = new Connection({
      version: API_VERSION,
      oauth2: { clientId: '3MVG9-test-client', clientSecret: 'nope', loginUrl: emulator.url },
    });
    const refused = await rejection(wrong.authorize({ grant_type: 'client_credentials' }));
    expect(refused).toMatchObject({ name: 'invalid_client', message: 'invalid client credentials' });
  });

  it('accepts an RS256 JWT bearer assertion signed with the certificate key, for the sub user', async () => {
    const now = Math.floor(clock.now() / 1000);
    const claims = {
      iss: '3MVG9-test-client',
      sub: 'admin@custompms.example',
      aud: emulator.url,
      exp: now + 180,
    };
    const conn = new Connection({ version: API_VERSION, loginUrl: emulator.url });
    const user = await conn.authorize({ grant_type: JWT_GRANT, assertion: assertion(privateKey, claims) });
    expect(user.id).toBe(emulator.org.adminUserId);
    const me = await conn.query<{ Username: string }>(`SELECT Username FROM User WHERE Id = '${user.id}'`);
    expect(me.records[0]!.Username).toBe('admin@custompms.example');

    const tryWith = (key: string, overrides: Record<string, unknown>) =>
      rejection(
        new Connection({ version: API_VERSION, loginUrl: emulator.url }).authorize({
          grant_type: JWT_GRANT,
          assertion: assertion(key, { ...claims, ...overrides }),
        }),
      );
    expect(await tryWith(otherKey, {})).toMatchObject({
      name: 'invalid_grant',
      message: 'invalid assertion',
    });
    expect(await tryWith(privateKey, { aud: 'https://elsewhere.example' })).toMatchObject({
      name: 'invalid_grant',
      message: 'audience is invalid',
    });
    expect(await tryWith(privateKey, { exp: now - 10 })).toMatchObject({ name: 'invalid_grant' });
    expect(await tryWith(privateKey, { sub: 'nobody@example.com' })).toMatchObject({ name: 'invalid_grant' });
    expect(await tryWith(privateKey, { iss: 'unknown' })).toMatchObject({ name: 'invalid_client_id' });
    // The login hosts are valid audiences too.
    await expect(
      new Connection({ version: API_VERSION, loginUrl: emulator.url }).authorize({
        grant_type: JWT_GRANT,
        assertion: assertion(privateKey, { ...claims, aud: 'https://login.salesforce.com' }),
      }),
    ).resolves.toMatchObject({ id: emulator.org.adminUserId });
  });

  it('answers 401 INVALID_SESSION_ID for unknown and expired tokens', async () => {
    const unknown = new Connection({
      version: API_VERSION,
      instanceUrl: emulator.url,
      accessToken: `${emulator.orgId.slice(0, 15)}!AQnotatoken`,
    });
    expect(await rejection(unknown.query('SELECT Id FROM Task'))).toMatchObject({
      errorCode: 'INVALID_SESSION_ID',
      message: 'Session expired or invalid',
    });
    expect(emulator.org.requestLog.at(-1)).toMatchObject({ status: 401 });

    const conn = new Connection({
      version: API_VERSION,
      instanceUrl: emulator.url,
      accessToken: emulator.tokenFor(),
    });
    await conn.query('SELECT Id FROM Task LIMIT 1');
    clock.advance(60 * 60 * 1000 + 1);
    expect((await rejection(conn.query('SELECT Id FROM Task LIMIT 1'))).errorCode).toBe('INVALID_SESSION_ID');
  });

  it('lets jsforce refresh an expired session once and repeat the call', async () => {
    const source = oauthConnection();
    let refreshes = 0;
    const conn = new Connection({
      version: API_VERSION,
      instanceUrl: emulator.url,
      accessToken: emulator.tokenFor(),
      refreshFn: (_c, callback) => {
        refreshes += 1;
        source.oauth2.requestToken({ grant_type: 'client_credentials' }).then(
          (token) => callback(null, token.access_token),
          (error: Error) => callback(error),
        );
      },
    });
    const first = conn.accessToken;
    await conn.query('SELECT Id FROM Organization');
    emulator.org.oauth.expireAll();
    const rows = await conn.query<{ Id: string }>('SELECT Id FROM Organization');
    expect(rows.totalSize).toBe(1);
    expect(refreshes).toBe(1);
    expect(conn.accessToken).not.toBe(first);
    await conn.query('SELECT Id FROM Task LIMIT 1');
    expect(refreshes).toBe(1);
    // Fault injection: the session dies on the next composite call; jsforce refreshes and repeats.
    emulator.org.faults.failNext('composite', 'sessionExpired');
    // The client-credentials user has API access only (no force-app here): let it create Tasks.
    emulator.org.users.grantSystemPermission(emulator.org.integrationUserId, 'EditTask');
    const saved = await conn.sobject('Task').create([{ Status: 'Deferred' }]);
    expect(saved[0]!.success).toBe(true);
    expect(refreshes).toBe(2);
  });
});
