/**
 * The OAuth 2.0 web server flow (authorization code grant, with PKCE) of the emulated org: the
 * login page, the consent page, the redirect back with a code, and the code's exchange at
 * `/services/oauth2/token`. What a real org documents, and what this mirrors:
 *
 * - Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration"
 *   (remoteaccess_oauth_web_server_flow.htm) and the REST API Developer Guide, "Understanding the
 *   Web Server OAuth Authentication Flow": `GET /services/oauth2/authorize` with
 *   `response_type=code` (required), `client_id` = the app's consumer key, `redirect_uri` = the
 *   app's callback URL (it must match the app's configuration), optional `state` (returned as is
 *   on the callback), `code_challenge` = base64url(SHA-256(code_verifier)) (RFC 7636, method
 *   S256). The callback gets `?code=…&state=…`.
 * - Token request: `POST /services/oauth2/token` form with `grant_type=authorization_code`,
 *   `code`, `client_id`, `client_secret` (unless the app does not require it), `redirect_uri`
 *   (the same as in the authorize request) and `code_verifier`. "If the code_challenge value is
 *   provided in the authorization request and a code_verifier value is provided in the token
 *   request, Salesforce compares the code_challenge to the code_verifier. If the code_challenge
 *   is invalid or doesn't match, the login fails with the invalid_request error code. If the
 *   code_challenge value is provided in the authorization request, but a code_verifier value
 *   isn't provided in the token request, the login fails with the invalid_grant error code."
 *   The answer is the usual token JSON (`access_token`, `instance_url`, `id`, `issued_at`,
 *   `signature`, `scope`, `token_type`).
 * - Salesforce Help, "OAuth 2.0 Authorization Errors" (remoteaccess_oauth_flow_errors.htm): on an
 *   authorization error the server redirects to the callback with `error` and
 *   `error_description` (a user who denies access: `error=access_denied`, "end-user denied
 *   authorization"); `redirect_uri_mismatch` and `invalid_client_id` are shown on Salesforce's own
 *   page (the callback cannot be trusted then); token errors are JSON
 *   `{ "error": "invalid_grant", "error_description": "…" }` with status 400 (an unknown or used
 *   code: "invalid authorization code"; an expired one: "expired authorization code").
 *
 * The emulated org has no passwords: `webLogin(org).setPassword(username, password)` sets one,
 * and every active user otherwise signs in with `DEFAULT_PASSWORD`. A web app is registered with
 * `webLogin(org).registerApp({ clientId, callbackUrls })` (an existing connected app's client id
 * keeps its secret). Codes live 15 minutes and work once.
 *
 * The proxy's console also asks, with the user's own token, whether the user holds a permission
 * set: `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '…' AND PermissionSet.Name =
 * '…'`. The emulator's data model has no PermissionSetAssignment table (assignments live in
 * `org.users`), so this router answers exactly that query shape from `org.users` and passes
 * every other query on.
 */
import { createHash, randomBytes } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { SalesforceOrg } from '../org';
import { sendJson } from './common';

export const DEFAULT_PASSWORD = 'emulator-password';
const CODE_TTL_MS = 15 * 60 * 1000;
const LOGIN_TTL_MS = 15 * 60 * 1000;

export interface WebApp {
  clientId: string;
  /** Required at the token endpoint when set ("Require Secret for Web Server Flow"). */
  clientSecret?: string;
  callbackUrls: string[];
}

interface PendingLogin {
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string | undefined;
  userId?: string;
  expiresAt: number;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  userId: string;
  codeChallenge: string | undefined;
  expiresAt: number;
}

/** The web-login state of one emulated org. */
export class WebLogin {
  readonly apps = new Map<string, WebApp>();
  private readonly passwords = new Map<string, string>();
  private readonly pending = new Map<string, PendingLogin>();
  private readonly codes = new Map<string, IssuedCode>();

  constructor(private readonly org: SalesforceOrg) {}

  /** Registers (or extends) a web app; an existing connected app's id keeps its secret. */
  registerApp(app: { clientId: string; clientSecret?: string; callbackUrls: string[] }): void {
    const connected = this.org.oauth.apps.find((candidate) => candidate.clientId === app.clientId);
    const existing = this.apps.get(app.clientId);
    this.apps.set(app.clientId, {
      clientId: app.clientId,
      clientSecret: app.clientSecret ?? existing?.clientSecret ?? connected?.clientSecret,
      callbackUrls: [...new Set([...(existing?.callbackUrls ?? []), ...app.callbackUrls])],
    });
  }

  setPassword(username: string, password: string): void {
    this.passwords.set(username.toLowerCase(), password);
  }

  private now(): number {
    return this.org.clock.now();
  }

  /** The user a username/password pair signs in, or undefined. */
  authenticate(username: string, password: string): string | undefined {
    const user = this.org.users.byUsername(username);
    if (!user || user.IsActive !== true) return undefined;
    const expected = this.passwords.get(username.toLowerCase()) ?? DEFAULT_PASSWORD;
    return password === expected ? String(user.Id) : undefined;
  }

  startLogin(login: Omit<PendingLogin, 'expiresAt'>): string {
    const id = randomBytes(18).toString('base64url');
    this.pending.set(id, { ...login, expiresAt: this.now() + LOGIN_TTL_MS });
    return id;
  }

  pendingLogin(id: string): PendingLogin | undefined {
    const login = this.pending.get(id);
    if (!login || login.expiresAt <= this.now()) return undefined;
    return login;
  }

  finishLogin(id: string): void {
    this.pending.delete(id);
  }

  issueCode(login: PendingLogin, userId: string): string {
    const code = `aPrx${randomBytes(32).toString('base64url')}`;
    this.codes.set(code, {
      clientId: login.clientId,
      redirectUri: login.redirectUri,
      userId,
      codeChallenge: login.codeChallenge,
      expiresAt: this.now() + CODE_TTL_MS,
    });
    return code;
  }

  /** The token endpoint's `authorization_code` grant. */
  exchange(
    params: Record<string, string>,
    basic: { id: string; secret: string } | undefined,
    baseUrl: string,
  ): { status: number; body: Record<string, unknown> } {
    const error = (code: string, description: string) => ({
      status: 400,
      body: { error: code, error_description: description },
    });
    const clientId = basic?.id ?? params.client_id;
    const secret = basic?.secret ?? params.client_secret;
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app) return error('invalid_client_id', 'client identifier invalid');
    if (app.clientSecret !== undefined && app.clientSecret !== secret) {
      return error('invalid_client', 'invalid client credentials');
    }
    const issued = params.code ? this.codes.get(params.code) : undefined;
    if (!issued || issued.clientId !== app.clientId)
      return error('invalid_grant', 'invalid authorization code');
    // A code works once, whatever happens next.
    this.codes.delete(params.code!);
    if (issued.expiresAt <= this.now()) return error('invalid_grant', 'expired authorization code');
    if (params.redirect_uri !== issued.redirectUri) {
      return error('redirect_uri_mismatch', 'redirect_uri must match configuration');
    }
    if (issued.codeChallenge !== undefined) {
      if (!params.code_verifier) return error('invalid_grant', 'code verifier required');
      const challenge = createHash('sha256').update(params.code_verifier).digest('base64url');
      if (challenge !== issued.codeChallenge) return error('invalid_request', 'invalid code verifier');
    }
    const user = this.org.users.byId(issued.userId);
    if (!user || user.IsActive !== true) return error('invalid_grant', 'inactive user');
    const session = this.org.oauth.issue(issued.userId, app.clientId);
    return {
      status: 200,
      body: {
        access_token: session.accessToken,
        signature: randomBytes(32).toString('base64'),
        scope: 'api id',
        instance_url: baseUrl,
        id: `${baseUrl}/id/${this.org.id}/${issued.userId}`,
        token_type: 'Bearer',
        issued_at: String(session.issuedAt),
      },
    };
  }
}

const instances = new WeakMap<SalesforceOrg, WebLogin>();

/** The web-login controls of an org (created on first use). */
export function webLogin(org: SalesforceOrg): WebLogin {
  let instance = instances.get(org);
  if (!instance) {
    instance = new WebLogin(org);
    instances.set(org, instance);
  }
  return instance;
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function page(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
        `<meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)} | Salesforce</title><style>` +
        `body{font:16px/1.5 system-ui,sans-serif;background:#f3f3f3;color:#181818;margin:0}` +
        `main{max-width:24rem;margin:3rem auto;background:#fff;padding:2rem;border:1px solid #c9c9c9;border-radius:.5rem}` +
        `h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem;font-weight:600}` +
        `input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #747474;border-radius:.25rem;font-size:1rem}` +
        `button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;border-radius:.25rem;border:1px solid #0b5cab;background:#0b5cab;color:#fff;cursor:pointer}` +
        `button.secondary{background:#fff;color:#0b5cab;margin-left:.5rem}.error{color:#ba0517;font-weight:600}` +
        `</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`,
    );
}

function redirectWith(res: Response, redirectUri: string, params: Record<string, string | undefined>): void {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(name, value);
  res.redirect(302, url.toString());
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function loginForm(loginId: string, error?: string): string {
  return (
    (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '') +
    `<form method="post" action="/services/oauth2/authorize/login">` +
    `<input type="hidden" name="login" value="${escapeHtml(loginId)}">` +
    `<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required>` +
    `<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>` +
    `<button type="submit" id="Login">Log In</button></form>`
  );
}

/** `GET /services/oauth2/authorize`, its login and consent forms, and the code grant at the token endpoint. */
export function webLoginRouter(org: SalesforceOrg): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '64kb' });
  const baseUrl = (req: Request): string => `${req.protocol}://${req.get('host')}`;

  router.get('/services/oauth2/authorize', (req, res) => {
    const flow = webLogin(org);
    const clientId = str(req.query.client_id);
    const redirectUri = str(req.query.redirect_uri);
    const app = clientId ? flow.apps.get(clientId) : undefined;
    // Errors about the app or its callback are shown here: the callback cannot be trusted.
    if (!app) {
      page(
        res,
        400,
        'Error',
        '<p class="error" role="alert">error=invalid_client_id: client identifier invalid</p>',
      );
      return;
    }
    if (!redirectUri || !app.callbackUrls.includes(redirectUri)) {
      page(
        res,
        400,
        'Error',
        '<p class="error" role="alert">error=redirect_uri_mismatch: redirect_uri must match configuration</p>',
      );
      return;
    }
    const state = str(req.query.state);
    if (str(req.query.response_type) !== 'code') {
      redirectWith(res, redirectUri, {
        error: 'unsupported_response_type',
        error_description: 'response type not supported',
        state,
      });
      return;
    }
    const codeChallenge = str(req.query.code_challenge);
    const method = str(req.query.code_challenge_method);
    if (
      codeChallenge !== undefined &&
      ((method !== undefined && method !== 'S256') || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))
    ) {
      redirectWith(res, redirectUri, {
        error: 'invalid_request',
        error_description: 'invalid code_challenge',
        state,
      });
      return;
    }
    const loginId = flow.startLogin({ clientId: app.clientId, redirectUri, state, codeChallenge });
    page(res, 200, 'Log in to Custompms Emulated Org', loginForm(loginId));
  });

  router.post('/services/oauth2/authorize/login', form, (req, res) => {
    const flow = webLogin(org);
    const body = req.body as Record<string, unknown>;
    const loginId = str(body.login) ?? '';
    const login = flow.pendingLogin(loginId);
    if (!login) {
      page(res, 400, 'Error', '<p class="error" role="alert">Your login session expired. Start again.</p>');
      return;
    }
    const userId = flow.authenticate(str(body.username) ?? '', str(body.password) ?? '');
    if (!userId) {
      page(
        res,
        200,
        'Log in to Custompms Emulated Org',
        loginForm(
          loginId,
          'Please check your username and password. If you still can’t log in, contact your Salesforce administrator.',
        ),
      );
      return;
    }
    login.userId = userId;
    const appName =
      org.oauth.apps.find((candidate) => candidate.clientId === login.clientId)?.name ?? login.clientId;
    page(
      res,
      200,
      'Allow Access?',
      `<p><strong>${escapeHtml(appName)}</strong> is asking to access your basic information and your data ` +
        `(as ${escapeHtml(String(org.users.byId(userId)?.Username ?? ''))}).</p>` +
        `<form method="post" action="/services/oauth2/authorize/consent">` +
        `<input type="hidden" name="login" value="${escapeHtml(loginId)}">` +
        `<button type="submit" name="decision" value="allow" id="oaapprove">Allow</button>` +
        `<button type="submit" name="decision" value="deny" class="secondary" id="oadeny">Deny</button></form>`,
    );
  });

  router.post('/services/oauth2/authorize/consent', form, (req, res) => {
    const flow = webLogin(org);
    const body = req.body as Record<string, unknown>;
    const loginId = str(body.login) ?? '';
    const login = flow.pendingLogin(loginId);
    if (!login?.userId) {
      page(res, 400, 'Error', '<p class="error" role="alert">Your login session expired. Start again.</p>');
      return;
    }
    flow.finishLogin(loginId);
    if (str(body.decision) !== 'allow') {
      redirectWith(res, login.redirectUri, {
        error: 'access_denied',
        error_description: 'end-user denied authorization',
        state: login.state,
      });
      return;
    }
    redirectWith(res, login.redirectUri, { code: flow.issueCode(login, login.userId), state: login.state });
  });

  // The code grant; every other grant goes on to the emulator's token endpoint.
  router.post('/services/oauth2/token', form, (req, res, next) => {
    const params = Object.fromEntries(
      Object.entries((req.body ?? {}) as Record<string, unknown>).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    );
    if (params.grant_type !== 'authorization_code') {
      next();
      return;
    }
    let basic: { id: string; secret: string } | undefined;
    const auth = req.get('authorization');
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      basic = {
        id: decodeURIComponent(decoded.slice(0, i)),
        secret: decodeURIComponent(decoded.slice(i + 1)),
      };
    }
    const answer = webLogin(org).exchange(params, basic, baseUrl(req));
    sendJson(res, answer.status, answer.body);
  });

  // "Does this user hold permission set X?", asked with the user's own token (see the header).
  router.get('/services/data/:version/query', (req, res, next) => {
    const q = str(req.query.q) ?? '';
    const match =
      /^\s*SELECT\s+Id\s+FROM\s+PermissionSetAssignment\s+WHERE\s+AssigneeId\s*=\s*'([A-Za-z0-9]{15,18})'\s+AND\s+PermissionSet\.Name\s*=\s*'([A-Za-z0-9_]+)'\s*(?:LIMIT\s+\d+\s*)?$/i.exec(
        q,
      );
    if (!match) {
      next();
      return;
    }
    const header = req.get('authorization');
    const token = header ? /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(header)?.[1] : undefined;
    const session = token ? org.oauth.validate(token) : undefined;
    if (!session) {
      sendJson(res, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      return;
    }
    if (!org.limits.consume('query')) {
      res.setHeader('Sforce-Limit-Info', org.limits.header());
      sendJson(res, 403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
      return;
    }
    res.setHeader('Sforce-Limit-Info', org.limits.header());
    const [, assigneeId, permissionSet] = match as unknown as [string, string, string];
    const user = org.users.byId(assigneeId);
    const holds =
      user !== undefined &&
      org.users
        .permissionSetsOf(String(user.Id))
        .some((name) => name.toLowerCase() === permissionSet.toLowerCase());
    const version = (req.params as Record<string, string>).version;
    const records = holds
      ? [
          {
            attributes: {
              type: 'PermissionSetAssignment',
              url: `/services/data/${version}/sobjects/PermissionSetAssignment/0Pa${String(user.Id).slice(3, 15)}`,
            },
            Id: `0Pa${String(user.Id).slice(3, 15)}`,
          },
        ]
      : [];
    sendJson(res, 200, { totalSize: records.length, done: true, records });
  });

  return router;
}
