/**
 * Console sessions end: at their absolute expiry, after the idle timeout, at sign-out; the
 * cookie's id is never stored (only its hash). Pages without a session go to the sign-in page;
 * the console's JSON answers 401.
 */
import request from 'supertest';
import { createApp } from '../../../proxy/src/app';
import { loadConfig } from '../../../proxy/src/config';
import {
  createConsoleSession,
  deleteConsoleSession,
  touchConsoleSession,
} from '../../../proxy/src/store/console-sessions';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('console sessions', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => {
    await db.drop();
  });
  const session = (expiresAt: Date) => ({
    userId: '005000000000001AAA',
    username: 'admin@example.com',
    displayName: 'Ada Admin',
    csrfToken: 'csrf',
    expiresAt,
  });

  it('live until expiry or idle timeout, gone after sign-out, stored only as a hash', async () => {
    await createConsoleSession(db.pool, 'live-id', session(new Date(Date.now() + 3_600_000)));
    await createConsoleSession(db.pool, 'expired-id', session(new Date(Date.now() - 1_000)));
    expect(await touchConsoleSession(db.pool, 'live-id', 60_000)).toMatchObject({
      username: 'admin@example.com',
    });
    expect(await touchConsoleSession(db.pool, 'expired-id', 60_000)).toBeUndefined();
    await db.pool.query("UPDATE console_sessions SET last_seen_at = now() - interval '2 minutes'");
    expect(await touchConsoleSession(db.pool, 'live-id', 60_000)).toBeUndefined();
    expect(await touchConsoleSession(db.pool, 'live-id', 3_600_000)).toBeDefined();
    const stored = await db.pool.query<{ id_hash: string }>('SELECT id_hash FROM console_sessions');
    expect(stored.rows.map((row) => row.id_hash)).not.toContain('live-id');
    await deleteConsoleSession(db.pool, 'live-id');
    expect(await touchConsoleSession(db.pool, 'live-id', 3_600_000)).toBeUndefined();
  });

  it('sends pages without a session to sign-in and answers its JSON with 401', async () => {
    const app = createApp({
      config: loadConfig({ SALESFORCE_CLIENT_ID: 'cid', SALESFORCE_LOGIN_URL: 'https://login.example.com' }),
      logger: captureLogs('silent').logger,
      pool: db.pool,
    });
    const page = await request(app).get('/console/problems?kind=error');
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/console/sign-in?return_to=%2Fconsole%2Fproblems%3Fkind%3Derror');
    expect((await request(app).get('/console/api/overview')).status).toBe(401);
    const forged = await request(app)
      .post('/console/problems/bulk')
      .type('form')
      .send({ action: 'resolve', ids: '1' });
    expect(forged.status).toBe(401);
    const signIn = await request(app).get('/console/sign-in');
    expect(signIn.text).toContain('Sign in with Salesforce');
    const login = await request(app).get('/console/auth/login');
    expect(login.status).toBe(303);
    const target = new URL(login.headers.location!);
    expect(target.origin + target.pathname).toBe('https://login.example.com/services/oauth2/authorize');
    expect(Object.fromEntries(target.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'cid',
      code_challenge_method: 'S256',
    });
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP to a loopback address (tests, local runs)
    const hosted = await request(app).get('/console/auth/login').set('host', 'cps-sync.example.com');
    expect(String(hosted.headers['set-cookie'])).toMatch(/; Secure/);
    // The callback refuses a state that is not the one it set.
    const callback = await request(app)
      .get('/console/auth/callback?code=x&state=forged')
      .set('cookie', cookie.split(';')[0]!);
    expect(callback.status).toBe(400);
  });
});
