/**
 * The emulated org's HTTP face: OAuth (`/services/oauth2/token`, `userinfo`, `revoke`, the
 * identity URL), `/services/data` (versions) and the REST API under `/services/data/vNN.0/`.
 * Every REST call is authenticated (401 INVALID_SESSION_ID in Salesforce's error format), counted
 * against the daily allowance (403 REQUEST_LIMIT_EXCEEDED when spent) and answered with
 * `Sforce-Limit-Info`; fault injection adds latency, 503s and lock failures per route.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ApiError, invalidSession } from '../errors';
import { recordsInRequest, roundTripMs } from '../latency';
import type { SalesforceOrg } from '../org';
import { bulk2Router } from './bulk2';
import { compositeRouter } from './composite';
import { bearer, categorize, parseVersion, sendJson, type RequestContext } from './common';
import { metadataRestRouter, metadataSoapRouter } from './metadata';
import { restRouter } from './rest';
import { toolingRouter } from './tooling';
import { webLoginRouter } from './web-login';

// Unref'd: an injected latency never keeps a finished test process alive.
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

function versionLabel(n: number): string {
  // API 65.0 is Winter '26; three releases a year, Spring/Summer/Winter.
  const seasons = ['Spring', 'Summer', 'Winter'];
  const index = n - 65 + 2;
  const season = seasons[((index % 3) + 3) % 3]!;
  const year = 26 + Math.floor(index / 3) - (season === 'Winter' ? 1 : 0);
  return `${season} '${String(year).padStart(2, '0')}`;
}

export function createEmulatorApp(org: SalesforceOrg): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // The sf CLI stores instance URLs with a trailing slash and then requests `//services/...`.
  app.use((req, _res, next) => {
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    if (path.includes('//')) req.url = path.replace(/\/{2,}/g, '/') + (q < 0 ? '' : req.url.slice(q));
    next();
  });

  app.use((req, res, next) => {
    const at = org.clock.now();
    const path = req.path;
    res.on('finish', () => {
      const rest = /^\/services\/data\/v\d+\.0(\/.*)?$/.exec(path);
      const category = path.startsWith('/services/oauth2')
        ? 'oauth'
        : rest
          ? categorize(rest[1] ?? '/')
          : 'other';
      org.logRequest({ at, method: req.method, path, status: res.statusCode, category });
    });
    next();
  });

  const baseUrl = (req: Request): string => `${req.protocol}://${req.get('host')}`;

  // The web server flow (authorize, login, consent, the code grant): http/web-login.ts.
  app.use(webLoginRouter(org));

  app.post(
    '/services/oauth2/token',
    express.urlencoded({ extended: false, limit: '1mb' }),
    async (req, res) => {
      const faults = org.faults.forRequest('oauth', req.method, req.path);
      const wait = faults.latencyMs + roundTripMs(org.latency, 'oauth');
      if (wait) await sleep(wait);
      if (faults.failure === 'unavailable') {
        res.status(503).type('text/html').send('<html><body>Service Unavailable</body></html>');
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
      const params = Object.fromEntries(
        Object.entries((req.body ?? {}) as Record<string, unknown>).filter(
          (e): e is [string, string] => typeof e[1] === 'string',
        ),
      );
      const answer = org.oauth.token(params, basic, baseUrl(req));
      sendJson(res, answer.status, answer.body);
    },
  );

  app.post('/services/oauth2/revoke', express.urlencoded({ extended: false }), (req, res) => {
    const token = (req.body as Record<string, unknown> | undefined)?.token ?? req.query.token;
    if (typeof token !== 'string' || !org.oauth.revoke(token)) {
      sendJson(res, 400, {
        error: 'unsupported_token_type',
        error_description: 'this token type is not supported',
      });
      return;
    }
    res.status(200).end();
  });

  const sessionUser = (req: Request) => {
    const token = bearer(req);
    const session = token ? org.oauth.validate(token) : undefined;
    if (!session) throw invalidSession();
    const user = org.users.byId(session.userId);
    if (!user || user.IsActive !== true) throw invalidSession();
    return user;
  };

  app.get('/services/oauth2/userinfo', (req, res) => {
    const user = sessionUser(req);
    sendJson(res, 200, {
      sub: `${baseUrl(req)}/id/${org.id}/${String(user.Id)}`,
      user_id: user.Id,
      organization_id: org.id,
      preferred_username: user.Username,
      name: user.Name,
      email: user.Email,
      email_verified: true,
      user_type: user.UserType === 'AutomatedProcess' ? 'AUTOMATED_PROCESS' : 'STANDARD',
      active: user.IsActive,
    });
  });

  app.get('/id/:orgId/:userId', (req, res) => {
    const user = sessionUser(req);
    const base = baseUrl(req);
    const v = org.options.apiVersion;
    sendJson(res, 200, {
      id: `${base}/id/${org.id}/${String(user.Id)}`,
      asserted_user: true,
      user_id: user.Id,
      organization_id: org.id,
      username: user.Username,
      display_name: user.Name,
      email: user.Email,
      active: user.IsActive,
      user_type: 'STANDARD',
      urls: {
        rest: `${base}/services/data/v{version}/`,
        sobjects: `${base}/services/data/v{version}/sobjects/`,
        query: `${base}/services/data/v{version}/query/`,
        enterprise: `${base}/services/Soap/c/{version}/${org.id.slice(0, 15)}`,
        partner: `${base}/services/Soap/u/{version}/${org.id.slice(0, 15)}`,
        profile: `${base}/${String(user.Id)}`,
        custom_domain: base,
      },
      last_modified_date: new Date(org.clock.now()).toISOString().replace('Z', '+0000'),
      api_version: v,
    });
  });

  app.get('/services/data', (_req, res) => {
    const max = Number(org.options.apiVersion);
    const versions = [];
    for (let n = 31; n <= max; n += 1) {
      versions.push({ label: versionLabel(n), url: `/services/data/v${n}.0`, version: `${n}.0` });
    }
    sendJson(res, 200, versions);
  });

  app.use(metadataSoapRouter(org));

  const data = express.Router({ mergeParams: true });
  data.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      const version = parseVersion((req.params as Record<string, string>).version, org.options.apiVersion);
      const user = sessionUser(req);
      const category = categorize(req.path);
      const faults = org.faults.forRequest(category, req.method, req.path);
      const wait = faults.latencyMs + roundTripMs(org.latency, category);
      if (wait) await sleep(wait);
      if (faults.failure === 'sessionExpired') {
        org.oauth.revoke(bearer(req) ?? '');
        throw invalidSession();
      }
      if (faults.failure === 'unavailable') {
        res.setHeader('Sforce-Limit-Info', org.limits.header());
        res.status(503).type('text/html').send('<html><body>Service Unavailable</body></html>');
        return;
      }
      if (faults.failure === 'requestLimit' || !org.limits.consume(category)) {
        res.setHeader('Sforce-Limit-Info', org.limits.header());
        throw new ApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
      }
      res.setHeader('Sforce-Limit-Info', org.limits.header());
      const runAs = org.runAs(user.Id as string);
      const access = runAs.access();
      // API access needs the API Enabled permission ("API_CURRENTLY_DISABLED: API is disabled for
      // this User", the SOAP API StatusCode and the answer a user without it gets).
      if (!access.has('ApiEnabled'))
        throw new ApiError(403, 'API_CURRENTLY_DISABLED', 'API is disabled for this User');
      const ctx: RequestContext = { org, version, user: runAs, access, faults };
      res.locals.sf = ctx;
      next();
    } catch (error) {
      next(error);
    }
  });
  data.use(express.json({ limit: '50mb', type: ['application/json', 'application/*+json'] }));
  data.use(express.text({ limit: '150mb', type: ['text/csv', 'text/plain'] }));
  // The latency profile's server time per record written synchronously (latency.ts).
  data.use(async (req: Request, _res: Response, next: NextFunction) => {
    const perRecord = org.latency.perRecordMs;
    if (perRecord > 0) {
      const records = recordsInRequest(categorize(req.path), req.method, req.body, req.query);
      if (records > 0) await sleep(records * perRecord);
    }
    next();
  });
  data.use(metadataRestRouter());
  data.use(toolingRouter());
  data.use(compositeRouter());
  data.use(restRouter());
  data.use(bulk2Router());
  app.use('/services/data/:version', data);

  app.use((_req, _res, next) => {
    next(new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist'));
  });

  // Error handler: Salesforce's JSON error array; body-parser failures are JSON_PARSER_ERROR.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ApiError) {
      for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
      sendJson(res, error.status, error.body());
      return;
    }
    const e = error as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      sendJson(res, 400, [
        { message: `Unexpected character: ${e.message ?? ''}`, errorCode: 'JSON_PARSER_ERROR' },
      ]);
      return;
    }
    if (e.type === 'entity.too.large') {
      sendJson(res, 413, [{ message: 'Request body is too large', errorCode: 'REQUEST_ENTITY_TOO_LARGE' }]);
      return;
    }
    org.warn('http', `unexpected error: ${(error as Error).stack ?? String(error)}`);
    sendJson(res, 500, [
      {
        message: `An unexpected error occurred. Please include this ErrorId if you contact support: ${org.ids.next('000').slice(0, 15)}`,
        errorCode: 'UNKNOWN_EXCEPTION',
      },
    ]);
  });

  return app;
}
