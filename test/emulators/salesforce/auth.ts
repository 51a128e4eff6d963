/**
 * OAuth 2.0 for the emulated org: the client-credentials flow (run-as user of an External Client
 * App) and the JWT bearer flow (RS256 assertion signed with the app's certificate key; `iss` =
 * consumer key, `sub` = username, `aud` = login URL, `exp` within minutes), as Salesforce Help
 * describes them ("OAuth 2.0 Client Credentials Flow for Server-to-Server Integration",
 * "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration"). Access tokens look like real ones
 * — the 15-character org id, `!`, then opaque characters — because the sf CLI checks that shape.
 * Sessions expire after a set time; an expired or unknown token gets INVALID_SESSION_ID.
 */
import { X509Certificate, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { UserDirectory } from './users';

export interface ConnectedApp {
  name: string;
  clientId: string;
  /** Required for client credentials. */
  clientSecret?: string;
  /** PEM certificate (or public key) that verifies JWT bearer assertions. */
  certificate?: string;
  /** Username the client-credentials flow runs as. */
  runAs?: string;
  /** Usernames pre-authorised for the JWT flow (undefined: every active user). */
  preAuthorizedUsers?: string[];
}

export interface Session {
  accessToken: string;
  userId: string;
  clientId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const oauthError = (status: number, error: string, description: string): TokenAnswer => ({
  status,
  body: { error, error_description: description },
});

function base64urlDecode(part: string): Buffer {
  return Buffer.from(part, 'base64url');
}

export class OAuthServer {
  private readonly sessions = new Map<string, Session>();
  readonly apps: ConnectedApp[] = [];

  constructor(
    private readonly orgId: string,
    private readonly users: UserDirectory,
    private readonly now: () => number,
    public tokenTtlMs: number,
    /** Accepted JWT audiences besides the emulator's own URL. */
    private readonly audiences: string[] = ['https://login.salesforce.com', 'https://test.salesforce.com'],
  ) {}

  addApp(app: ConnectedApp): void {
    if (app.certificate) this.publicKey(app.certificate);
    this.apps.push(app);
  }

  private publicKey(pem: string): KeyObject {
    return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  }

  /** Issues a session for a user (also usable directly by tests). */
  issue(userId: string, clientId = 'emulator'): Session {
    const accessToken = `${this.orgId.slice(0, 15)}!AQ${randomBytes(60).toString('base64url').replace(/-/g, '.')}`;
    const issuedAt = this.now();
    const session = { accessToken, userId, clientId, issuedAt, expiresAt: issuedAt + this.tokenTtlMs };
    this.sessions.set(accessToken, session);
    return session;
  }

  /** The live session of a token, or undefined (unknown, revoked or expired). */
  validate(token: string): Session | undefined {
    const session = this.sessions.get(token);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    return session;
  }

  revoke(token: string): boolean {
    return this.sessions.delete(token);
  }

  /** Expires every session (or those of one user) at once. */
  expireAll(userId?: string): void {
    for (const [token, session] of this.sessions) {
      if (!userId || session.userId === userId) this.sessions.delete(token);
    }
  }

  /** POST /services/oauth2/token */
  token(
    params: Record<string, string>,
    basicAuth: { id: string; secret: string } | undefined,
    baseUrl: string,
  ): TokenAnswer {
    const grant = params.grant_type;
    if (grant === 'client_credentials') return this.clientCredentials(params, basicAuth, baseUrl);
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') return this.jwtBearer(params, baseUrl);
    if (!grant) return oauthError(400, 'invalid_request', 'grant type not specified');
    return oauthError(400, 'unsupported_grant_type', 'grant type not supported');
  }

  private answer(userId: string, app: ConnectedApp, baseUrl: string): TokenAnswer {
    const session = this.issue(userId, app.clientId);
    return {
      status: 200,
      body: {
        access_token: session.accessToken,
        signature: randomBytes(32).toString('base64'),
        scope: 'api',
        instance_url: baseUrl,
        id: `${baseUrl}/id/${this.orgId}/${userId}`,
        token_type: 'Bearer',
        issued_at: String(session.issuedAt),
      },
    };
  }

  private clientCredentials(
    params: Record<string, string>,
    basicAuth: { id: string; secret: string } | undefined,
    baseUrl: string,
  ): TokenAnswer {
    const clientId = basicAuth?.id ?? params.client_id;
    const secret = basicAuth?.secret ?? params.client_secret;
    const app = this.apps.find((a) => a.clientId === clientId);
    if (!app) return oauthError(400, 'invalid_client_id', 'client identifier invalid');
    if (!app.clientSecret || app.clientSecret !== secret) {
      return oauthError(400, 'invalid_client', 'invalid client credentials');
    }
    const user = app.runAs ? this.users.byUsername(app.runAs) : undefined;
    if (!user) return oauthError(400, 'invalid_grant', 'no client credentials user enabled');
    if (user.IsActive !== true) return oauthError(400, 'invalid_grant', 'user is inactive');
    return this.answer(user.Id as string, app, baseUrl);
  }

  private jwtBearer(params: Record<string, string>, baseUrl: string): TokenAnswer {
    const assertion = params.assertion ?? '';
    const parts = assertion.split('.');
    if (parts.length !== 3) return oauthError(400, 'invalid_grant', 'invalid assertion');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(base64urlDecode(parts[0]!).toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(base64urlDecode(parts[1]!).toString('utf8')) as Record<string, unknown>;
    } catch {
      return oauthError(400, 'invalid_grant', 'invalid assertion');
    }
    if (header.alg !== 'RS256') return oauthError(400, 'invalid_grant', 'invalid assertion');
    const app = this.apps.find((a) => a.clientId === claims.iss);
    if (!app) return oauthError(400, 'invalid_client_id', 'client identifier invalid');
    if (!app.certificate) return oauthError(400, 'invalid_grant', 'invalid assertion');
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const good = verify('RSA-SHA256', signed, this.publicKey(app.certificate), base64urlDecode(parts[2]!));
    if (!good) return oauthError(400, 'invalid_grant', 'invalid assertion');
    const audiences = [...this.audiences, baseUrl].map((a) => a.replace(/\/+$/, ''));
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && audiences.includes(a.replace(/\/+$/, '')))) {
      return oauthError(400, 'invalid_grant', 'audience is invalid');
    }
    const nowSeconds = this.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) {
      return oauthError(400, 'invalid_grant', 'expired authorization code');
    }
    const user = typeof claims.sub === 'string' ? this.users.byUsername(claims.sub) : undefined;
    if (!user || user.IsActive !== true)
      return oauthError(400, 'invalid_grant', "user hasn't approved this consumer");
    if (app.preAuthorizedUsers && !app.preAuthorizedUsers.includes(String(user.Username))) {
      return oauthError(400, 'invalid_grant', "user hasn't approved this consumer");
    }
    return this.answer(user.Id as string, app, baseUrl);
  }
}
