/**
 * The operator console under `/console` (Sidekiq's Web UI is the model: server-rendered pages in
 * the same process, a little script for live charts, every list filtered and paged, bulk actions
 * behind a confirmation, a CSRF token in every form). Sign-in is "Sign in with Salesforce" (the
 * web server flow with PKCE); only holders of the `Custompms_Admin` permission set get in. The
 * pages call the same functions as the admin API (../operations.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import {
  authorizeUrl,
  exchangeCode,
  holdsPermissionSet,
  pkcePair,
  revokeToken,
  WebLoginError,
  type WebLoginClient,
} from '../../salesforce/web-login';
import {
  linkById,
  problemFacets,
  problemsOfRecord,
  searchConflicts,
  searchLinks,
  searchProblems,
  type ProblemFilter,
} from '../../store/console-queries';
import { getProblem } from '../../store/problems';
import { createConsoleSession, deleteConsoleSession } from '../../store/console-sessions';
import { historyOf } from '../../store/link-history';
import { FLOWS, type FlowName, type SyncDefinition } from '../../sync';
import {
  applyConflictOtherValue,
  effectiveSettings,
  overview,
  replayProblems,
  resolveProblems,
  resyncLink,
  type Actor,
  type ConflictWriter,
  type OperationsDeps,
} from '../operations';
import type { LiveReader } from '../live-record';
import { flushMetricTally } from '../metrics-endpoint';
import {
  clearCookie,
  consoleLocals,
  LOGIN_COOKIE,
  newToken,
  parseCookies,
  requireCsrf,
  requireSession,
  SESSION_COOKIE,
  setCookie,
} from './session';
import * as views from './views';

export const ADMIN_PERMISSION_SET = 'Custompms_Admin';

export interface ConsoleOptions {
  pool: pg.Pool;
  logger: Logger;
  config: Config;
  /** Where the console is mounted (default `/console`). */
  basePath?: string;
  /** The Salesforce app users sign in through; undefined: sign-in is off (the page says why). */
  login: WebLoginClient | undefined;
  /** The proxy's public URL; the callback is `${publicUrl}${basePath}/auth/callback` (default: from the request). */
  publicUrl?: string;
  permissionSet?: string;
  /** Absolute session lifetime, and how long an unused session lives. */
  sessionMinutes: number;
  idleMinutes?: number;
  definition?: () => SyncDefinition;
  conflictWriter?: ConflictWriter;
  /** Reads a linked record's two sides as they are now (the link page shows them beside the snapshot). */
  liveReader?: LiveReader;
  /** What the settings page lists as versions (the proxy's, the schema's, the API's). */
  versions?: () => Promise<Record<string, string | number>>;
}

const ASSETS = path.join(__dirname, 'assets');
const UPLOT = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
/** The files the console serves, read once (each small). */
const ASSET_FILES: Record<string, { file: string; type: string }> = {
  'console.css': { file: path.join(ASSETS, 'console.css'), type: 'text/css; charset=utf-8' },
  'console.js': { file: path.join(ASSETS, 'console.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': {
    file: path.join(UPLOT, 'uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uPlot.min.css': { file: path.join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** The scripts a console page loads (the bundle budget test measures these). */
export const CONSOLE_SCRIPTS = ['uPlot.iife.min.js', 'console.js'].map((name) => ASSET_FILES[name]!.file);

const RANGES = new Set([60, 360, 1440]);
const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
const FLOW_SET = new Set<string>(['customers', 'projects', 'tasks']);

function ids(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return [...new Set(list.map(Number).filter((id) => Number.isSafeInteger(id) && id > 0))].slice(0, 500);
}

function dateParam(value: unknown, endOfDay = false): Date | undefined {
  const text = str(value);
  if (!text || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const date = new Date(`${text}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return undefined;
  return endOfDay ? new Date(date.getTime() + 86_400_000) : date;
}

export function consoleRouter(options: ConsoleOptions): Router {
  const base = options.basePath ?? '/console';
  const permissionSet = options.permissionSet ?? ADMIN_PERMISSION_SET;
  const sessionMs = options.sessionMinutes * 60_000;
  const idleMs = (options.idleMinutes ?? Math.min(60, options.sessionMinutes)) * 60_000;
  const ops: OperationsDeps = {
    pool: options.pool,
    logger: options.logger,
    definition: options.definition,
    flushMetrics: () => flushMetricTally(options.pool),
    apiBudgetPercent: options.config.salesforce.apiBudgetPercent,
  };
  const assets = new Map<string, { body: Buffer; type: string }>();
  const asset = (name: string) => {
    let loaded = assets.get(name);
    if (!loaded) {
      const spec = ASSET_FILES[name];
      if (!spec) return undefined;
      loaded = { body: readFileSync(spec.file), type: spec.type };
      assets.set(name, loaded);
    }
    return loaded;
  };
  const callbackUrl = (req: Request) =>
    `${options.publicUrl?.replace(/\/+$/, '') ?? `${req.protocol}://${req.get('host')}`}${base}/auth/callback`;

  const router = Router();
  // helmet's `no-referrer` makes browsers send `Origin: null` on form posts; `same-origin` keeps
  // the real origin on our own posts (the CSRF check compares it) and still sends no referrer
  // to other sites.
  router.use(base, (_req, res, next) => {
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 1_000 });

  router.get(`${base}/assets/:name`, (req, res) => {
    const found = asset(req.params.name);
    if (!found) {
      res.status(404).end();
      return;
    }
    res.setHeader('Content-Type', found.type);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.send(found.body);
  });

  // ------------------------------------------------------------ sign-in and out (no session)
  router.get(`${base}/sign-in`, (req, res) => {
    const ctx: views.PageContext = { base };
    const error = options.login
      ? str(req.query.error)
      : 'Sign-in is not configured on this proxy: set CONSOLE_CLIENT_ID (or SALESFORCE_CLIENT_ID) to a Salesforce app with the web server flow.';
    const info = req.query.signed_out
      ? 'You are signed out.'
      : req.query.expired
        ? 'Your session ended. Sign in again.'
        : undefined;
    const returnTo = str(req.query.return_to);
    if (returnTo?.startsWith(`${base}`) && !returnTo.startsWith('//')) {
      setCookie(req, res, `${LOGIN_COOKIE}_return`, returnTo, { maxAgeSeconds: 900, path: `${base}/auth` });
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(views.signInPage(ctx, { error, info }));
  });

  router.get(`${base}/auth/login`, (req, res) => {
    if (!options.login) {
      res.redirect(303, `${base}/sign-in`);
      return;
    }
    const state = newToken(24);
    const { verifier, challenge } = pkcePair();
    setCookie(req, res, LOGIN_COOKIE, `${state}.${verifier}`, { maxAgeSeconds: 900, path: `${base}/auth` });
    res.redirect(
      303,
      authorizeUrl(options.login, { redirectUri: callbackUrl(req), state, codeChallenge: challenge }),
    );
  });

  router.get(`${base}/auth/callback`, async (req, res) => {
    const ctx: views.PageContext = { base };
    const cookies = parseCookies(req.headers.cookie);
    const [state, verifier] = (cookies[LOGIN_COOKIE] ?? '').split('.');
    const returnTo = cookies[`${LOGIN_COOKIE}_return`];
    clearCookie(req, res, LOGIN_COOKIE, `${base}/auth`);
    clearCookie(req, res, `${LOGIN_COOKIE}_return`, `${base}/auth`);
    res.setHeader('Cache-Control', 'no-store');
    const fail = (status: number, message: string) => {
      res
        .status(status)
        .type('html')
        .send(views.signInPage(ctx, { error: message }));
    };
    if (!options.login) return fail(503, 'Sign-in is not configured on this proxy.');
    if (!state || !verifier || str(req.query.state) !== state) {
      return fail(400, 'The sign-in could not be verified (its state did not match). Start again.');
    }
    const oauthError = str(req.query.error);
    if (oauthError) {
      const description = str(req.query.error_description);
      return fail(
        oauthError === 'access_denied' ? 403 : 400,
        oauthError === 'access_denied'
          ? 'Salesforce did not allow the console access (you chose Deny).'
          : `Salesforce refused the sign-in: ${oauthError}${description ? ` (${description})` : ''}.`,
      );
    }
    const code = str(req.query.code);
    if (!code) return fail(400, 'Salesforce sent no authorization code. Start again.');
    try {
      const user = await exchangeCode(options.login, {
        code,
        redirectUri: callbackUrl(req),
        codeVerifier: verifier,
      });
      const admitted = await holdsPermissionSet(options.login, user, permissionSet);
      await revokeToken(options.login, user);
      if (!admitted) {
        options.logger.warn(
          { user: user.username },
          'console sign-in refused: no Custompms_Admin permission set',
        );
        res.status(403).type('html').send(views.refusedPage(ctx, user.username));
        return;
      }
      const sessionId = newToken(32);
      await createConsoleSession(options.pool, sessionId, {
        userId: user.userId,
        username: user.username,
        displayName: user.displayName,
        csrfToken: newToken(32),
        expiresAt: new Date(Date.now() + sessionMs),
      });
      setCookie(req, res, SESSION_COOKIE, sessionId, { maxAgeSeconds: sessionMs / 1000, path: base });
      options.logger.info({ user: user.username }, 'console sign-in');
      res.redirect(303, returnTo?.startsWith(base) && !returnTo.startsWith('//') ? returnTo : base);
    } catch (error) {
      options.logger.warn({ err: error }, 'console sign-in failed');
      fail(
        502,
        error instanceof WebLoginError
          ? `Salesforce refused the sign-in: ${error.code} (${error.message}).`
          : 'Salesforce could not be reached to finish the sign-in. Try again.',
      );
    }
  });

  // ------------------------------------------------------------ everything else needs a session
  const signedIn = Router();
  signedIn.use(requireSession(options.pool, idleMs, base), form, requireCsrf);
  const context = (res: Response, flash?: string): views.PageContext => {
    const { session } = consoleLocals(res);
    return {
      base,
      user: { displayName: session.displayName, username: session.username },
      csrf: session.csrfToken,
      flash,
    };
  };
  const actor = (req: Request, res: Response): Actor => ({
    actor: `console:${consoleLocals(res).session.username}`,
    actorLabel: consoleLocals(res).session.displayName,
    ip: req.ip ?? null,
  });
  const page = (res: Response, htmlText: string, status = 200) =>
    res.status(status).type('html').send(htmlText);
  const flashOf = (req: Request): string | undefined => str(req.query.done)?.slice(0, 200);

  signedIn.post('/sign-out', async (req, res) => {
    await deleteConsoleSession(options.pool, consoleLocals(res).sessionId);
    clearCookie(req, res, SESSION_COOKIE, base);
    res.redirect(303, `${base}/sign-in?signed_out=1`);
  });

  signedIn.get('/', async (req, res) => {
    const range = Number(req.query.range);
    const data = await overview(ops, RANGES.has(range) ? range : 1440);
    page(res, views.overviewPage(context(res, flashOf(req)), data));
  });

  signedIn.get('/api/overview', async (req, res) => {
    const range = Number(req.query.range);
    res.json(await overview(ops, RANGES.has(range) ? range : 1440));
  });

  signedIn.get('/problems', async (req, res) => {
    const kind = str(req.query.kind);
    const status = str(req.query.status);
    const filter: Omit<ProblemFilter, 'from' | 'to'> & { from?: string; to?: string } = {
      kind: kind === 'error' || kind === 'warning' || kind === 'dead_letter' ? kind : undefined,
      flow: str(req.query.flow),
      code: str(req.query.code),
      status: status === 'resolved' || status === 'all' ? status : 'open',
      from: str(req.query.from),
      to: str(req.query.to),
    };
    const result = await searchProblems(
      options.pool,
      { ...filter, from: dateParam(filter.from), to: dateParam(filter.to, true) },
      { cursor: str(req.query.cursor), limit: 50 },
    );
    page(
      res,
      views.problemsPage(context(res, flashOf(req)), filter, result, await problemFacets(options.pool)),
    );
  });

  signedIn.post('/problems/bulk', async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const action = body.action === 'resolve' ? 'resolve' : body.action === 'replay' ? 'replay' : undefined;
    const selected = ids(body.ids);
    if (!action || selected.length === 0) {
      res.redirect(303, `${base}/problems?done=${encodeURIComponent('Select at least one problem first.')}`);
      return;
    }
    if (body.confirm !== 'yes') {
      const problems = (await searchProblems(options.pool, { ids: selected, status: 'all' }, { limit: 500 }))
        .items;
      page(res, views.confirmBulkPage(context(res), action, problems));
      return;
    }
    const results =
      action === 'replay'
        ? await replayProblems(ops, actor(req, res), selected)
        : await resolveProblems(ops, actor(req, res), selected);
    const done = results.filter((r) => r.outcome === 'replayed' || r.outcome === 'resolved').length;
    const message = `${action === 'replay' ? 'Replayed' : 'Resolved'} ${done} of ${results.length} problem${results.length === 1 ? '' : 's'}.`;
    res.redirect(303, `${base}/problems?done=${encodeURIComponent(message)}`);
  });

  signedIn.get('/problems/:id', async (req, res) => {
    const problem = await getProblem(options.pool, Number(req.params.id) || 0);
    if (!problem) return page(res, views.notFoundPage(context(res), `Problem ${req.params.id}`), 404);
    page(res, views.problemPage(context(res, flashOf(req)), problem));
  });

  signedIn.post('/problems/:id/:action', async (req, res) => {
    const id = Number(req.params.id) || 0;
    const action = req.params.action;
    if (action !== 'replay' && action !== 'resolve')
      return page(res, views.notFoundPage(context(res), 'That action'), 404);
    const [result] =
      action === 'replay'
        ? await replayProblems(ops, actor(req, res), [id])
        : await resolveProblems(ops, actor(req, res), [id]);
    const message =
      result!.outcome === 'replayed'
        ? 'Replayed: its work is queued again and the problem is resolved.'
        : result!.outcome === 'resolved'
          ? 'Resolved.'
          : `Nothing done: ${result!.outcome.replace(/_/g, ' ')}.`;
    res.redirect(303, `${base}/problems/${id}?done=${encodeURIComponent(message)}`);
  });

  signedIn.get('/links', async (req, res) => {
    const flow = str(req.query.flow);
    const filter = { q: str(req.query.q), flow: flow && FLOW_SET.has(flow) ? flow : undefined };
    const result = await searchLinks(options.pool, filter, { cursor: str(req.query.cursor), limit: 50 });
    page(res, views.linksPage(context(res, flashOf(req)), filter, result));
  });

  signedIn.get('/links/:id', async (req, res) => {
    const link = await linkById(options.pool, Number(req.params.id) || 0);
    if (!link) return page(res, views.notFoundPage(context(res), `Link ${req.params.id}`), 404);
    const definition = options.definition?.() ?? FLOWS;
    const fields = definition[link.flow as FlowName].fields
      .filter((f) => f.enabled && f.kind !== 'constant')
      .map((f) => ({ label: f.label, custompms: f.custompms, salesforce: f.salesforce }));
    const [history, problems, live] = await Promise.all([
      historyOf(options.pool, link),
      problemsOfRecord(options.pool, link),
      options.liveReader?.(link),
    ]);
    page(res, views.linkPage(context(res, flashOf(req)), link, fields, history, problems, live));
  });

  signedIn.post('/links/:id/resync', async (req, res) => {
    const id = Number(req.params.id) || 0;
    const outcome = await resyncLink(ops, actor(req, res), id);
    const message =
      outcome === 'queued'
        ? 'Resync queued: the record is read again and what differs is written.'
        : `Nothing done: ${outcome.replace(/_/g, ' ')}.`;
    res.redirect(303, `${base}/links/${id}?done=${encodeURIComponent(message)}`);
  });

  signedIn.get('/conflicts', async (req, res) => {
    const flow = str(req.query.flow);
    const filter = { flow: flow && FLOW_SET.has(flow) ? flow : undefined };
    const result = await searchConflicts(options.pool, filter, { cursor: str(req.query.cursor), limit: 50 });
    page(res, views.conflictsPage(context(res, flashOf(req)), result, filter));
  });

  signedIn.post('/conflicts/:id/apply-other', async (req, res) => {
    const id = Number(req.params.id) || 0;
    const outcome = options.conflictWriter
      ? await applyConflictOtherValue(ops, actor(req, res), id, options.conflictWriter)
      : 'not_applicable';
    const message =
      outcome === 'applied'
        ? `Conflict ${id}: the other value is written to Custompms and the record is syncing.`
        : `Conflict ${id}: nothing done (${outcome.replace(/_/g, ' ')}).`;
    res.redirect(303, `${base}/conflicts?done=${encodeURIComponent(message)}`);
  });

  signedIn.get('/settings', async (_req, res) => {
    const versions = (await options.versions?.()) ?? {};
    page(res, views.settingsPage(context(res), await effectiveSettings(ops, options.config), versions));
  });

  router.use(base, signedIn);
  return router;
}
