/**
 * Server-to-server tokens for the proxy (SALESFORCE.md "Server-to-server auth"): the OAuth 2.0
 * client-credentials flow (run-as user of an External Client App) or the JWT bearer flow
 * (certificate, pre-authorised user). Both answer with an access token and an instance URL.
 */
import { createSign } from 'node:crypto';
import { SalesforceAuthError } from './errors';

export interface TokenResponse {
  accessToken: string;
  instanceUrl: string;
  /** Identity URL: `…/id/<orgId>/<userId>`. */
  id: string | undefined;
}

export type TokenSource =
  | { kind: 'client_credentials'; tokenBaseUrl: string; clientId: string; clientSecret: string }
  | {
      kind: 'jwt';
      tokenBaseUrl: string;
      audience: string;
      clientId: string;
      username: string;
      privateKey: string;
    };

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** An RS256 JWT for the bearer flow; Salesforce wants iss=client id, sub=username, aud=login host. */
export function signJwtAssertion(
  source: Extract<TokenSource, { kind: 'jwt' }>,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = base64url(
    JSON.stringify({
      iss: source.clientId,
      sub: source.username,
      aud: source.audience,
      exp: nowSeconds + 180,
    }),
  );
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(source.privateKey);
  return `${header}.${claims}.${base64url(signature)}`;
}

export async function requestToken(
  source: TokenSource,
  fetchImpl: typeof fetch = fetch,
): Promise<TokenResponse> {
  const body =
    source.kind === 'client_credentials'
      ? new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: source.clientId,
          client_secret: source.clientSecret,
        })
      : new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: signJwtAssertion(source),
        });
  const url = `${source.tokenBaseUrl.replace(/\/+$/, '')}/services/oauth2/token`;
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new SalesforceAuthError(`token request to ${url} failed: ${(error as Error).message}`);
  }
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // fall through with an empty body: the status decides
  }
  if (!response.ok || typeof json.access_token !== 'string' || typeof json.instance_url !== 'string') {
    const reason =
      typeof json.error_description === 'string' ? json.error_description : `HTTP ${response.status}`;
    const code = typeof json.error === 'string' ? `${json.error}: ` : '';
    throw new SalesforceAuthError(`Salesforce refused the ${source.kind} token request: ${code}${reason}`);
  }
  return {
    accessToken: json.access_token,
    instanceUrl: json.instance_url,
    id: typeof json.id === 'string' ? json.id : undefined,
  };
}
