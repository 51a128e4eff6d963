/**
 * The emulated org's web server flow (http/web-login.ts): the authorize endpoint's checks and
 * redirects, login and consent, and the code grant with PKCE, with Salesforce's error codes.
 */
import { createHash } from 'node:crypto';
import { startSalesforceEmulator, type SalesforceEmulator } from '.';
import { DEFAULT_PASSWORD, webLogin } from './http/web-login';

const CALLBACK = 'https://console.example/console/auth/callback';

describe('emulated org: OAuth 2.0 web server flow', () => {
  let sf: SalesforceEmulator;
  beforeAll(async () => {
    sf = await startSalesforceEmulator();
    webLogin(sf.org).registerApp({ clientId: sf.clientId, callbackUrls: [CALLBACK] });
  });
  afterAll(async () => {
    await sf.close();
  });

  const verifier = 'v'.repeat(20) + 'erifier-0123456789-abcdefghijklmnop';
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = (params: Record<string, string>) =>
    fetch(`${sf.url}/services/oauth2/authorize?${new URLSearchParams(params).toString()}`, {
      redirect: 'manual',
    });
  const good = {
    response_type: 'code',
    client_id: '',
    redirect_uri: CALLBACK,
    state: 's-1',
    code_challenge: '',
  };

  /** Logs in through the pages and returns the callback URL the org redirects to. */
  async function codeFor(username: string, decision = 'allow', password = DEFAULT_PASSWORD): Promise<URL> {
    const page = await (
      await authorize({ ...good, client_id: sf.clientId, code_challenge: challenge })
    ).text();
    const login = /name="login" value="([^"]+)"/.exec(page)![1]!;
    const form = (body: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
      redirect: 'manual' as const,
    });
    const consent = await fetch(
      `${sf.url}/services/oauth2/authorize/login`,
      form({ login, username, password }),
    );
    expect(await consent.text()).toContain('Allow Access?');
    const back = await fetch(`${sf.url}/services/oauth2/authorize/consent`, form({ login, decision }));
    expect(back.status).toBe(302);
    return new URL(back.headers.get('location')!);
  }
  const token = (params: Record<string, string>) =>
    fetch(`${sf.url}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: sf.clientId,
        client_secret: sf.clientSecret,
        redirect_uri: CALLBACK,
        ...params,
      }).toString(),
    });

  it('shows invalid_client_id and redirect_uri_mismatch on its own page, other errors on the callback', async () => {
    const unknown = await authorize({ ...good, client_id: 'nope', code_challenge: challenge });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('invalid_client_id');
    const mismatch = await authorize({
      ...good,
      client_id: sf.clientId,
      redirect_uri: 'https://evil.example/cb',
    });
    expect(await mismatch.text()).toContain('redirect_uri_mismatch');
    const wrongType = await authorize({
      ...good,
      client_id: sf.clientId,
      response_type: 'token',
      code_challenge: challenge,
    });
    expect(wrongType.status).toBe(302);
    const location = new URL(wrongType.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      error: 'unsupported_response_type',
      state: 's-1',
    });
    const plain = await authorize({
      ...good,
      client_id: sf.clientId,
      code_challenge: challenge,
      code_challenge_method: 'plain',
    });
    expect(new URL(plain.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses a wrong password and reports a denial as access_denied with the state', async () => {
    const page = await (
      await authorize({ ...good, client_id: sf.clientId, code_challenge: challenge })
    ).text();
    const login = /name="login" value="([^"]+)"/.exec(page)![1]!;
    const wrong = await fetch(`${sf.url}/services/oauth2/authorize/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login, username: sf.adminUsername, password: 'wrong' }).toString(),
    });
    expect(await wrong.text()).toContain('Please check your username and password');
    const denied = await codeFor(sf.adminUsername, 'deny');
    expect(Object.fromEntries(denied.searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'end-user denied authorization',
      state: 's-1',
    });
  });

  it('exchanges a code once, with the matching verifier, for a token of that user', async () => {
    const callback = await codeFor(sf.adminUsername);
    expect(callback.origin + callback.pathname).toBe(CALLBACK);
    expect(callback.searchParams.get('state')).toBe('s-1');
    const code = callback.searchParams.get('code')!;
    const answer = await token({ code, code_verifier: verifier });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as Record<string, string>;
    expect(body).toMatchObject({ token_type: 'Bearer', instance_url: sf.url });
    const info = await fetch(`${sf.url}/services/oauth2/userinfo`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(((await info.json()) as { preferred_username: string }).preferred_username).toBe(sf.adminUsername);
    const again = await token({ code, code_verifier: verifier });
    expect(await again.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'invalid authorization code',
    });
  });

  it('fails a wrong verifier with invalid_request and a missing one with invalid_grant', async () => {
    const first = (await codeFor(sf.adminUsername)).searchParams.get('code')!;
    expect(await (await token({ code: first, code_verifier: `${verifier}x` })).json()).toMatchObject({
      error: 'invalid_request',
    });
    const second = (await codeFor(sf.adminUsername)).searchParams.get('code')!;
    expect(await (await token({ code: second })).json()).toMatchObject({ error: 'invalid_grant' });
    const third = (await codeFor(sf.adminUsername)).searchParams.get('code')!;
    expect(
      await (
        await token({ code: third, code_verifier: verifier, redirect_uri: 'https://other.example/cb' })
      ).json(),
    ).toMatchObject({
      error: 'redirect_uri_mismatch',
    });
  });

  it('answers the permission-set question for the token’s user', async () => {
    const code = (await codeFor(sf.adminUsername)).searchParams.get('code')!;
    const { access_token: accessToken } = (await (await token({ code, code_verifier: verifier })).json()) as {
      access_token: string;
    };
    const userId = sf.org.adminUserId;
    const ask = async (name: string) => {
      const q = `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${userId}' AND PermissionSet.Name = '${name}' LIMIT 1`;
      const response = await fetch(`${sf.url}/services/data/v65.0/query?q=${encodeURIComponent(q)}`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      return ((await response.json()) as { totalSize: number }).totalSize;
    };
    expect(await ask('Custompms_Admin')).toBe(1);
    expect(await ask('Custompms_Integration')).toBe(0);
  });
});
