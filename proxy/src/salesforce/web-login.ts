/**
 * "Sign in with Salesforce" for the operator console: the OAuth 2.0 web server flow with PKCE
 * (Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration"; RFC 7636), then one
 * question asked of the org with the user's own token — does this user hold the permission set
 * that admits them? The token is used for that check and revoked; the console keeps its own
 * session, not the user's Salesforce token.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface WebLoginClient {
  /** Where users log in: https://login.salesforce.com, https://test.salesforce.com or My Domain. */
  loginUrl: string;
  clientId: string;
  /** Sent when the app requires a secret for the web server flow. */
  clientSecret: string | undefined;
  apiVersion: string;
  timeoutMs?: number;
}

/** A sign-in the org refused or that failed on the way; `code` is the OAuth error code. */
export class WebLoginError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WebLoginError';
  }
}

/** A PKCE pair: the verifier stays with us, its S256 challenge goes to the authorize URL. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The URL that starts the flow (`response_type=code`, S256 challenge, opaque `state`). */
export function authorizeUrl(
  client: WebLoginClient,
  params: { redirectUri: string; state: string; codeChallenge: string },
): string {
  const url = new URL('/services/oauth2/authorize', client.loginUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('state', params.state);
  url.searchParams.set('code_challenge', params.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('scope', 'api id');
  url.searchParams.set('prompt', 'login consent');
  return url.toString();
}

export interface SignedInUser {
  userId: string;
  username: string;
  displayName: string;
  organizationId: string;
  accessToken: string;
  instanceUrl: string;
}

async function postForm(url: string, form: Record<string, string>, timeoutMs: number): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Exchanges the callback's code (with the PKCE verifier) for a token, then reads who it is. */
export async function exchangeCode(
  client: WebLoginClient,
  params: { code: string; redirectUri: string; codeVerifier: string },
): Promise<SignedInUser> {
  const timeoutMs = client.timeoutMs ?? 15_000;
  const response = await postForm(
    new URL('/services/oauth2/token', client.loginUrl).toString(),
    {
      grant_type: 'authorization_code',
      code: params.code,
      client_id: client.clientId,
      ...(client.clientSecret ? { client_secret: client.clientSecret } : {}),
      redirect_uri: params.redirectUri,
      code_verifier: params.codeVerifier,
    },
    timeoutMs,
  );
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== 'string' || typeof body.instance_url !== 'string') {
    throw new WebLoginError(
      typeof body.error === 'string' ? body.error : 'token_failed',
      typeof body.error_description === 'string'
        ? body.error_description
        : `token request: ${response.status}`,
    );
  }
  const accessToken = body.access_token;
  const instanceUrl = body.instance_url;
  const info = await fetch(new URL('/services/oauth2/userinfo', instanceUrl), {
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const user = (await info.json().catch(() => ({}))) as Record<string, unknown>;
  if (!info.ok || typeof user.user_id !== 'string') {
    throw new WebLoginError('userinfo_failed', `userinfo: ${info.status}`);
  }
  return {
    userId: user.user_id,
    username: text(user.preferred_username) ?? user.user_id,
    displayName: text(user.name) ?? text(user.preferred_username) ?? user.user_id,
    organizationId: text(user.organization_id) ?? '',
    accessToken,
    instanceUrl,
  };
}

/**
 * Whether the signed-in user holds a permission set, asked with their own token:
 * `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = :me AND PermissionSet.Name = :name`.
 */
export async function holdsPermissionSet(
  client: WebLoginClient,
  user: Pick<SignedInUser, 'userId' | 'accessToken' | 'instanceUrl'>,
  permissionSet: string,
): Promise<boolean> {
  if (!/^[A-Za-z0-9]{15,18}$/.test(user.userId) || !/^[A-Za-z0-9_]+$/.test(permissionSet)) return false;
  const soql =
    `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${user.userId}' ` +
    `AND PermissionSet.Name = '${permissionSet}' LIMIT 1`;
  const url = new URL(`/services/data/v${client.apiVersion}/query`, user.instanceUrl);
  url.searchParams.set('q', soql);
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${user.accessToken}`, accept: 'application/json' },
    signal: AbortSignal.timeout(client.timeoutMs ?? 15_000),
  });
  if (!response.ok) {
    throw new WebLoginError('permission_check_failed', `permission set query: ${response.status}`);
  }
  const body = (await response.json()) as { totalSize?: number };
  return (body.totalSize ?? 0) > 0;
}

/** Revokes the user's token (best effort: the console does not keep it). */
export async function revokeToken(
  client: WebLoginClient,
  user: Pick<SignedInUser, 'accessToken' | 'instanceUrl'>,
): Promise<void> {
  await postForm(
    new URL('/services/oauth2/revoke', user.instanceUrl).toString(),
    { token: user.accessToken },
    client.timeoutMs ?? 15_000,
  ).catch(() => undefined);
}
