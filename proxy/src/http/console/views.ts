/**
 * The console's pages: plain server-rendered HTML (no client framework), one stylesheet and one
 * small script for the charts (uPlot). Every form carries the session's CSRF token; every input
 * has a label; tables scroll sideways on a phone instead of overflowing the page.
 */
import type { Overview, FlowOverview } from '../operations';
import type { ConflictRow, LinkRow, Page, ProblemRow } from '../../store/console-queries';
import type { StoredHistoryEntry } from '../../store/link-history';
import type { LiveRecord } from '../live-record';
import { html, jsonScript, raw, type Html } from './html';

export interface PageContext {
  base: string;
  user?: { displayName: string; username: string };
  csrf?: string;
  /** The nav entry to mark as current. */
  current?: 'overview' | 'links' | 'problems' | 'conflicts' | 'settings';
  flash?: string;
}

const NAV: [NonNullable<PageContext['current']>, string, string][] = [
  ['overview', '', 'Overview'],
  ['links', '/links', 'Links'],
  ['problems', '/problems', 'Problems'],
  ['conflicts', '/conflicts', 'Conflicts'],
  ['settings', '/settings', 'Settings'],
];

export function when(date: Date | string | null | undefined): Html {
  if (!date) return html`<span class="muted">never</span>`;
  const d = typeof date === 'string' ? new Date(date) : date;
  const text = `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return html`<time datetime="${d.toISOString()}">${text}</time>`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}" />`;
}

export function layout(
  ctx: PageContext,
  title: string,
  body: Html,
  options: { scripts?: boolean } = {},
): string {
  const a = (path: string) => `${ctx.base}${path}`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Custompms sync console</title>
        <link rel="stylesheet" href="${a('/assets/console.css')}" />
        ${options.scripts ? html`<link rel="stylesheet" href="${a('/assets/uPlot.min.css')}" />` : ''}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <div class="brand"><a href="${a('')}">Custompms sync</a></div>
          ${
            ctx.user
              ? html`<nav aria-label="Console">
                    <ul>
                      ${NAV.map(
                        ([key, path, label]) =>
                          html`<li>
                            <a href="${a(path)}" ${key === ctx.current ? raw(' aria-current="page"') : ''}
                              >${label}</a
                            >
                          </li>`,
                      )}
                    </ul>
                  </nav>
                  <form class="signout" method="post" action="${a('/sign-out')}">
                    ${csrfField(ctx)}
                    <span class="who" title="${ctx.user.username}">${ctx.user.displayName}</span>
                    <button type="submit" class="link">Sign out</button>
                  </form>`
              : ''
          }
        </header>
        <main id="main" tabindex="-1">
          ${ctx.flash ? html`<p class="flash" role="status">${ctx.flash}</p>` : ''}
          <h1>${title}</h1>
          ${body}
        </main>
        ${
          options.scripts
            ? html`<script src="${a('/assets/uPlot.iife.min.js')}"></script>
                <script src="${a('/assets/console.js')}"></script>`
            : ''
        }
      </body>
    </html>`.text;
}

function table(
  caption: string,
  head: (string | Html)[],
  rows: Html[],
  options: { empty?: string } = {},
): Html {
  if (rows.length === 0) return html`<p class="muted">${options.empty ?? 'Nothing here.'}</p>`;
  return html`<div class="table-wrap" role="region" aria-label="${caption}" tabindex="0">
    <table>
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          ${head.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}

// ---------------------------------------------------------------- sign-in

export function signInPage(ctx: PageContext, message: { error?: string; info?: string }): string {
  return layout(
    ctx,
    'Sign in',
    html`<section class="card narrow">
      <p>
        The console shows the sync's health, its problems and conflicts, and lets you act on them. Sign in
        with your Salesforce account; you need the <strong>Custompms_Admin</strong> permission set.
      </p>
      ${message.error ? html`<p class="error" role="alert">${message.error}</p>` : ''}
      ${message.info ? html`<p class="flash" role="status">${message.info}</p>` : ''}
      <p><a class="button" id="sign-in" href="${ctx.base}/auth/login">Sign in with Salesforce</a></p>
    </section>`,
  );
}

export function refusedPage(ctx: PageContext, who: string): string {
  return layout(
    ctx,
    'Access refused',
    html`<section class="card narrow">
      <p class="error" role="alert">
        ${who} does not hold the <strong>Custompms_Admin</strong> permission set in this org, so the console
        stays closed.
      </p>
      <p>
        Ask a Salesforce administrator to assign it (Setup → Users → Permission Set Assignments), then sign in
        again.
      </p>
      <p><a class="button" href="${ctx.base}/sign-in">Back to sign-in</a></p>
    </section>`,
  );
}

// ---------------------------------------------------------------- overview

const RANGES: [number, string][] = [
  [60, '1 h'],
  [360, '6 h'],
  [1440, '24 h'],
];

function counts(record: Record<string, number>): Html {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  if (entries.length === 0) return html`<span class="ok">none</span>`;
  return html`${entries.map(([kind, n], i) => html`${i ? ', ' : ''}<span class="bad">${n} ${kind.replace('_', ' ')}</span>`)}`;
}

function flowCard(ctx: PageContext, flow: FlowOverview, rangeLabel: string): Html {
  const t = flow.totals;
  return html`<section class="card flow" aria-labelledby="flow-${flow.flow}">
    <h2 id="flow-${flow.flow}">${flow.flow[0]!.toUpperCase()}${flow.flow.slice(1)}</h2>
    <dl class="stats">
      <div>
        <dt>Linked, active</dt>
        <dd>${flow.links.active}</dd>
      </div>
      <div>
        <dt>Ended by a delete</dt>
        <dd>${flow.links.deleted}</dd>
      </div>
      <div>
        <dt>Unlinked</dt>
        <dd>${flow.links.unlinked}</dd>
      </div>
      <div>
        <dt>Open problems</dt>
        <dd>${counts(flow.openProblems)}</dd>
      </div>
    </dl>
    <figure class="chart">
      <figcaption>Changes per minute, last ${rangeLabel}: ${t.changesIn} in, ${t.changesOut} out</figcaption>
      <div
        class="plot"
        id="changes-${flow.flow}"
        data-chart="changes"
        data-flow="${flow.flow}"
        role="img"
        aria-label="Changes per minute for ${flow.flow}: ${t.changesIn} received and ${t.changesOut} written in the last ${rangeLabel}"
      ></div>
    </figure>
    <figure class="chart">
      <figcaption>
        Sync lag, last ${rangeLabel}: p50 ${duration(t.lagP50)}, p95 ${duration(t.lagP95)}
      </figcaption>
      <div
        class="plot"
        id="lag-${flow.flow}"
        data-chart="lag"
        data-flow="${flow.flow}"
        role="img"
        aria-label="Sync lag for ${flow.flow}: median ${duration(t.lagP50)}, 95th percentile ${duration(t.lagP95)}"
      ></div>
    </figure>
    <p>
      <a href="${ctx.base}/problems?flow=${flow.flow}">Problems of ${flow.flow}</a> ·
      <a href="${ctx.base}/links?flow=${flow.flow}">Links of ${flow.flow}</a>
    </p>
  </section>`;
}

function gauge(used: number, limit: number): Html {
  const share = limit > 0 ? Math.min(1, used / limit) : 0;
  // A half-circle arc: 0 % on the left, 100 % on the right.
  const angle = Math.PI * (1 - share);
  const x = 60 + 50 * Math.cos(angle);
  const y = 60 - 50 * Math.sin(angle);
  const level = share >= 0.9 ? 'bad' : share >= 0.8 ? 'warn' : 'ok';
  const percent = Math.round(share * 1000) / 10;
  const label = used > 0 && percent < 0.1 ? '<0.1' : String(percent);
  return html`<svg
    class="gauge ${level}"
    viewBox="0 0 120 70"
    role="img"
    aria-label="API usage ${percent} percent of the daily limit"
  >
    <path class="track" d="M10 60 A50 50 0 0 1 110 60" />
    ${share > 0 ? html`<path class="value" d="M10 60 A50 50 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}" />` : ''}
    <text x="60" y="58" text-anchor="middle">${label}%</text>
  </svg>`;
}

/** One line: the proxy's API budget and what it does to the pollers (jobs/api-budget.ts). */
function apiBudgetLine(budget: Overview['apiBudget']): Html {
  const effect = {
    ok: html`<span>ok</span>`,
    tight: html`<span class="warn">tight: Salesforce pollers slowed to every 5th run</span>`,
    spent: html`<span class="bad">spent: Salesforce pollers deferred to every 30 min</span>`,
  }[budget.state];
  const share = budget.share === null ? '' : ` (${budget.share.toLocaleString('en-US')} requests)`;
  return html`<p class="api-budget">
    Budget ${budget.percent}%${share}: ${effect}; change syncs never wait.
  </p>`;
}

export function overviewPage(ctx: PageContext, data: Overview): string {
  const range = RANGES.find(([minutes]) => minutes === data.rangeMinutes) ?? RANGES[2]!;
  const usage = data.apiUsage;
  const q = data.queue;
  const body = html` <nav class="ranges" aria-label="Time range">
      <span>Range:</span>
      ${RANGES.map(
        ([minutes, label]) =>
          html`<a
            href="${ctx.base}?range=${minutes}"
            ${minutes === data.rangeMinutes ? raw(' aria-current="true"') : ''}
            >${label}</a
          >`,
      )}
      <label for="refresh">Refresh</label>
      <select id="refresh" name="refresh">
        <option value="0">off</option>
        <option value="5">every 5 s</option>
        <option value="30" selected>every 30 s</option>
        <option value="60">every minute</option>
      </select>
    </nav>
    <div class="grid">
      ${data.flows.map((flow) => flowCard(ctx, flow, range[1]))}
      <section class="card" aria-labelledby="api-usage">
        <h2 id="api-usage">Salesforce API usage</h2>
        ${
          usage
            ? html`${gauge(usage.used, usage.limit)}
                <p>
                  ${usage.used.toLocaleString('en-US')} of ${usage.limit.toLocaleString('en-US')} daily
                  requests used (reported ${when(usage.at)}).
                </p>`
            : html`<p class="muted">Not reported yet: the pollers record it from Salesforce's answers.</p>`
        }
        ${apiBudgetLine(data.apiBudget)}
      </section>
      <section class="card" aria-labelledby="queue">
        <h2 id="queue">Queue</h2>
        <dl class="stats">
          <div>
            <dt>Jobs waiting</dt>
            <dd>${q.jobsWaiting}</dd>
          </div>
          <div>
            <dt>Oldest job waiting</dt>
            <dd>${duration(q.oldestJobAgeSeconds)}</dd>
          </div>
          <div>
            <dt>Failed jobs</dt>
            <dd>${q.jobsFailed}</dd>
          </div>
          <div>
            <dt>Writes waiting for a batch</dt>
            <dd>${q.outboxDepth}</dd>
          </div>
          <div>
            <dt>Oldest waiting change</dt>
            <dd>${duration(Math.max(q.oldestOutboxAgeSeconds, q.oldestInboxAgeSeconds))}</dd>
          </div>
          <div>
            <dt>Waiting for a dependency</dt>
            <dd>${q.waitingForDependency}</dd>
          </div>
        </dl>
      </section>
      <section class="card" aria-labelledby="errors">
        <h2 id="errors">Open problems by code</h2>
        ${table(
          'Open problems by code',
          ['Code', 'Open'],
          data.problemsByCode.map(
            (row) =>
              html`<tr>
                <td><a href="${ctx.base}/problems?code=${encodeURIComponent(row.code)}">${row.code}</a></td>
                <td>${row.count}</td>
              </tr>`,
          ),
          { empty: 'No open problems.' },
        )}
      </section>
      <section class="card" aria-labelledby="pollers">
        <h2 id="pollers">Pollers</h2>
        ${table(
          'Pollers',
          ['Poller', 'Last run', 'Last error'],
          data.pollers.map(
            (p) =>
              html`<tr>
                <td>${p.poller}</td>
                <td>${when(p.lastRunAt)}</td>
                <td>
                  ${
                    p.lastError
                      ? html`<span class="bad">${p.lastError}</span> (${when(p.lastErrorAt)})`
                      : html`<span class="ok">none</span>`
                  }
                </td>
              </tr>`,
          ),
          { empty: 'No poller has run yet.' },
        )}
      </section>
    </div>
    ${jsonScript('overview-data', { flows: data.flows.map((f) => ({ flow: f.flow, changes: f.changes, lag: f.lag })), rangeMinutes: data.rangeMinutes })}
    <p class="muted">Updated ${when(data.generatedAt)}.</p>`;
  return layout({ ...ctx, current: 'overview' }, 'Overview', body, { scripts: true });
}

// ---------------------------------------------------------------- problems

export interface ProblemFilterView {
  kind?: string;
  flow?: string;
  code?: string;
  status?: string;
  from?: string;
  to?: string;
}

function select(id: string, label: string, value: string | undefined, options: [string, string][]): Html {
  return html`<div class="field">
    <label for="${id}">${label}</label
    ><select id="${id}" name="${id}">
      ${options.map(([v, text]) => html`<option value="${v}" ${v === (value ?? '') ? raw(' selected') : ''}>${text}</option>`)}
    </select>
  </div>`;
}

function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function problemsPage(
  ctx: PageContext,
  filter: ProblemFilterView,
  page: Page<ProblemRow>,
  facets: { codes: string[]; flows: string[] },
): string {
  const body = html` <form
      class="filters"
      method="get"
      action="${ctx.base}/problems"
      aria-label="Filter problems"
    >
      ${select('kind', 'Kind', filter.kind, [
        ['', 'any'],
        ['error', 'error'],
        ['warning', 'warning'],
        ['dead_letter', 'dead letter'],
      ])}
      ${select('flow', 'Flow', filter.flow, [['', 'any'], ...facets.flows.map((f): [string, string] => [f, f])])}
      ${select('code', 'Code', filter.code, [['', 'any'], ...facets.codes.map((c): [string, string] => [c, c])])}
      ${select('status', 'Status', filter.status ?? 'open', [
        ['open', 'open'],
        ['resolved', 'resolved'],
        ['all', 'all'],
      ])}
      <div class="field">
        <label for="from">From</label><input type="date" id="from" name="from" value="${filter.from ?? ''}" />
      </div>
      <div class="field">
        <label for="to">To</label><input type="date" id="to" name="to" value="${filter.to ?? ''}" />
      </div>
      <div class="field"><button type="submit">Filter</button></div>
    </form>
    <form method="post" action="${ctx.base}/problems/bulk">
      ${csrfField(ctx)}
      ${table(
        'Problems',
        [
          html`<span class="visually-hidden">Select</span>`,
          'Id',
          'Kind',
          'Flow',
          'Code',
          'Record',
          'Message',
          'Created',
          'Status',
        ],
        page.items.map(
          (p) =>
            html`<tr>
              <td>
                <input
                  type="checkbox"
                  name="ids"
                  value="${p.id}"
                  id="select-${p.id}"
                  aria-label="Select problem ${p.id}"
                  ${p.resolvedAt ? raw(' disabled') : ''}
                />
              </td>
              <td><a href="${ctx.base}/problems/${p.id}">#${p.id}</a></td>
              <td><span class="tag ${p.kind}">${p.kind.replace('_', ' ')}</span></td>
              <td>${p.flow ?? '—'}</td>
              <td><code>${p.code}</code></td>
              <td>${recordIds(ctx, p.custompmsId ?? null, p.salesforceId ?? null)}</td>
              <td class="message">${p.message}</td>
              <td>${when(p.createdAt)}</td>
              <td>${p.resolvedAt ? html`resolved ${when(p.resolvedAt)}` : 'open'}</td>
            </tr>`,
        ),
        { empty: 'No problem matches.' },
      )}
      ${
        page.items.length > 0
          ? html`<div class="actions">
              <button type="submit" name="action" value="replay">Replay selected…</button>
              <button type="submit" name="action" value="resolve" class="secondary">Resolve selected…</button>
            </div>`
          : ''
      }
    </form>
    ${page.nextCursor ? html`<p><a class="button secondary" href="${ctx.base}/problems${query({ ...filter, cursor: page.nextCursor })}">Next page</a></p>` : ''}`;
  return layout({ ...ctx, current: 'problems' }, 'Problems', body);
}

/** A record's ids, each a search in the link browser. */
function recordIds(ctx: PageContext, custompmsId: string | null, salesforceId: string | null): Html {
  const link = (id: string) =>
    html`<a
      class="id"
      href="${ctx.base}/links?q=${encodeURIComponent(id)}"
      aria-label="Find ${id} in the links"
      >${id}</a
    >`;
  return html`${custompmsId ? link(custompmsId) : ''}${custompmsId && salesforceId ? html`<br />` : ''}${
    salesforceId ? link(salesforceId) : ''
  }${!custompmsId && !salesforceId ? '—' : ''}`;
}

export function confirmBulkPage(
  ctx: PageContext,
  action: 'replay' | 'resolve',
  problems: ProblemRow[],
): string {
  const verb = action === 'replay' ? 'Replay' : 'Resolve';
  const body = html`<section class="card">
    <p>
      ${verb} ${problems.length === 1 ? 'this problem' : `these ${problems.length} problems`}?
      ${
        action === 'replay'
          ? 'Each dead letter’s work is queued again and the problem is marked resolved; other kinds cannot be replayed.'
          : 'Each problem is marked resolved; nothing is retried.'
      }
      The action is recorded in the audit log under your name.
    </p>
    <ul>
      ${problems.map((p) => html`<li>#${p.id} <code>${p.code}</code> — ${p.message}</li>`)}
    </ul>
    <form method="post" action="${ctx.base}/problems/bulk">
      ${csrfField(ctx)} <input type="hidden" name="action" value="${action}" /><input
        type="hidden"
        name="confirm"
        value="yes"
      />
      ${problems.map((p) => html`<input type="hidden" name="ids" value="${p.id}" />`)}
      <div class="actions">
        <button type="submit" id="confirm">${verb} ${problems.length}</button>
        <a class="button secondary" href="${ctx.base}/problems">Cancel</a>
      </div>
    </form>
  </section>`;
  return layout({ ...ctx, current: 'problems' }, `${verb} problems`, body);
}

export function problemPage(ctx: PageContext, p: ProblemRow): string {
  const body = html`<section class="card">
    <dl class="details">
      <dt>Kind</dt>
      <dd><span class="tag ${p.kind}">${p.kind.replace('_', ' ')}</span></dd>
      <dt>Code</dt>
      <dd><code>${p.code}</code></dd>
      <dt>Flow</dt>
      <dd>${p.flow ?? '—'}</dd>
      <dt>Custompms id</dt>
      <dd>${p.custompmsId ?? '—'}</dd>
      <dt>Salesforce Id</dt>
      <dd>${p.salesforceId ?? '—'}</dd>
      <dt>Message</dt>
      <dd>${p.message}</dd>
      <dt>Job</dt>
      <dd>${p.task ?? '—'}</dd>
      <dt>Created</dt>
      <dd>${when(p.createdAt)}</dd>
      <dt>Status</dt>
      <dd id="status">${p.resolvedAt ? html`resolved ${when(p.resolvedAt)}` : 'open'}</dd>
    </dl>
    <h2>Payload</h2>
    <pre class="payload" tabindex="0" aria-label="Payload">
${JSON.stringify(p.payload, null, 2) ?? 'none'}</pre>
    ${
      p.resolvedAt
        ? ''
        : html`<div class="actions">
            ${
              p.kind === 'dead_letter'
                ? html`<form method="post" action="${ctx.base}/problems/${p.id}/replay">
                    ${csrfField(ctx)}<button type="submit" id="replay">Replay</button>
                  </form>`
                : ''
            }
            <form method="post" action="${ctx.base}/problems/${p.id}/resolve">
              ${csrfField(ctx)}<button type="submit" class="secondary" id="resolve">Resolve</button>
            </form>
          </div>`
    }
  </section>`;
  return layout({ ...ctx, current: 'problems' }, `Problem #${p.id}`, body);
}

// ---------------------------------------------------------------- links

export function linksPage(
  ctx: PageContext,
  filter: { q?: string; flow?: string },
  page: Page<LinkRow>,
): string {
  const body = html` <form
      class="filters"
      method="get"
      action="${ctx.base}/links"
      role="search"
      aria-label="Find a record"
    >
      <div class="field grow">
        <label for="q">Custompms id, Salesforce Id or name</label>
        <input type="search" id="q" name="q" value="${filter.q ?? ''}" autocomplete="off" />
      </div>
      ${select('flow', 'Flow', filter.flow, [
        ['', 'any'],
        ['customers', 'customers'],
        ['projects', 'projects'],
        ['tasks', 'tasks'],
      ])}
      <div class="field"><button type="submit">Search</button></div>
    </form>
    ${table(
      'Links',
      ['Name', 'Flow', 'Custompms id', 'Salesforce Id', 'State', 'Sync status', 'Updated'],
      page.items.map(
        (l) =>
          html`<tr>
            <td><a href="${ctx.base}/links/${l.id}">${l.name ?? `link ${l.id}`}</a></td>
            <td>${l.flow}</td>
            <td class="id">${l.custompmsId ?? '—'}</td>
            <td class="id">${l.salesforceId ?? '—'}</td>
            <td>${l.state}</td>
            <td>${l.salesforceStatus ?? '—'}</td>
            <td>${when(l.updatedAt)}</td>
          </tr>`,
      ),
      { empty: filter.q ? 'No record matches.' : 'No links yet.' },
    )}
    ${page.nextCursor ? html`<p><a class="button secondary" href="${ctx.base}/links${query({ ...filter, cursor: page.nextCursor })}">Next page</a></p>` : ''}`;
  return layout({ ...ctx, current: 'links' }, 'Links', body);
}

/** A side's current value, bold (and said so) when it differs from what was last synced. */
function liveCell(now: unknown, synced: unknown): Html {
  if (now === undefined) return html`<td>—</td>`;
  const same = JSON.stringify(now ?? null) === JSON.stringify(synced ?? null) || synced === undefined;
  return same
    ? html`<td>${show(now)}</td>`
    : html`<td class="differs">
        <strong>${show(now)}</strong><span class="visually-hidden"> (differs from the last sync)</span>
      </td>`;
}

function show(value: unknown): string {
  if (value === undefined) return '—';
  if (value === null) return '(empty)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function linkPage(
  ctx: PageContext,
  link: LinkRow,
  fields: { label: string; custompms: string | null; salesforce: string }[],
  history: StoredHistoryEntry[],
  problems: ProblemRow[],
  live: LiveRecord = { errors: {} },
): string {
  const raw_ = link.link as {
    snapshot?: { custompms?: Record<string, unknown>; salesforce?: Record<string, unknown> };
    custompms?: { version?: unknown; modifiedAt?: unknown; deleted?: boolean };
    salesforce?: { version?: unknown; modifiedAt?: unknown; deleted?: boolean };
  };
  const snapshot = raw_.snapshot ?? {};
  const body = html`<section class="card">
      <dl class="details">
        <dt>Flow</dt>
        <dd>${link.flow}</dd>
        <dt>State</dt>
        <dd>${link.state}</dd>
        <dt>Salesforce sync status</dt>
        <dd>${link.salesforceStatus ?? '—'}</dd>
        <dt>Last synced</dt>
        <dd>${when(link.updatedAt)}</dd>
      </dl>
      <form method="post" action="${ctx.base}/links/${link.id}/resync">
        ${csrfField(ctx)}
        <button type="submit" id="resync" ${link.custompmsId ? '' : raw(' disabled')}>Resync now</button>
        <span class="muted"
          >Reads the Custompms record again and writes what differs from the last sync.</span
        >
      </form>
    </section>
    <section class="card">
      <h2>Both sides: now and as last synced</h2>
      ${
        live.errors.custompms
          ? html`<p class="error">Custompms could not be read: ${live.errors.custompms}</p>`
          : ''
      }
      ${
        live.errors.salesforce
          ? html`<p class="error">Salesforce could not be read: ${live.errors.salesforce}</p>`
          : ''
      }
      ${table(
        'Both sides now and as last synced',
        [
          'Field',
          html`Custompms now <span class="id">${link.custompmsId ?? '—'}</span>`,
          'Custompms, last synced',
          'Salesforce, last synced',
          html`Salesforce now <span class="id">${link.salesforceId ?? '—'}</span>`,
        ],
        [
          html`<tr>
            <th scope="row">Version</th>
            <td>${show(live.custompms?.version)}</td>
            <td>${show(raw_.custompms?.version)}</td>
            <td>${show(raw_.salesforce?.version)}</td>
            <td>${show(live.salesforce?.SystemModstamp)}</td>
          </tr>`,
          html`<tr>
            <th scope="row">Modified</th>
            <td>${show(live.custompms?.updated_at)}</td>
            <td>${show(raw_.custompms?.modifiedAt)}</td>
            <td>${show(raw_.salesforce?.modifiedAt)}</td>
            <td>${show(live.salesforce?.LastModifiedDate)}</td>
          </tr>`,
          html`<tr>
            <th scope="row">Deleted</th>
            <td>—</td>
            <td>${raw_.custompms?.deleted ? 'yes' : 'no'}</td>
            <td>${raw_.salesforce?.deleted ? 'yes' : 'no'}</td>
            <td>—</td>
          </tr>`,
          ...fields.map((f) => {
            const synced = {
              custompms: f.custompms ? snapshot.custompms?.[f.custompms] : undefined,
              salesforce: snapshot.salesforce?.[f.salesforce],
            };
            const now = {
              custompms: f.custompms && live.custompms ? live.custompms[f.custompms] : undefined,
              salesforce: live.salesforce?.[f.salesforce],
            };
            return html`<tr>
              <th scope="row">${f.label}</th>
              ${liveCell(now.custompms, synced.custompms)}
              <td>${f.custompms ? show(synced.custompms) : '—'}</td>
              <td>${show(synced.salesforce)}</td>
              ${liveCell(now.salesforce, synced.salesforce)}
            </tr>`;
          }),
        ],
      )}
      <p class="muted">
        A value that differs from the last sync is <strong>bold</strong> (it syncs on the next change, or now
        with Resync).
      </p>
    </section>
    <section class="card">
      <h2>Open problems</h2>
      ${table(
        'Open problems of this record',
        ['Id', 'Kind', 'Code', 'Message', 'Created'],
        problems.map(
          (p) =>
            html`<tr>
              <td><a href="${ctx.base}/problems/${p.id}">#${p.id}</a></td>
              <td>${p.kind}</td>
              <td><code>${p.code}</code></td>
              <td>${p.message}</td>
              <td>${when(p.createdAt)}</td>
            </tr>`,
        ),
        { empty: 'No open problem.' },
      )}
    </section>
    <section class="card">
      <h2>History</h2>
      ${table(
        'Sync history',
        ['When', 'What', 'Outcome', 'Fields', 'Detail'],
        history.map(
          (h) =>
            html`<tr>
              <td>${when(h.at)}</td>
              <td>${h.direction.replace('_', ' ')}</td>
              <td>${h.outcome}</td>
              <td>${(h.fields ?? []).join(', ') || '—'}</td>
              <td>${h.detail ?? ''}</td>
            </tr>`,
        ),
        { empty: 'No sync recorded yet.' },
      )}
    </section>`;
  return layout({ ...ctx, current: 'links' }, link.name ?? `Link ${link.id}`, body);
}

// ---------------------------------------------------------------- conflicts

export function conflictsPage(ctx: PageContext, page: Page<ConflictRow>, filter: { flow?: string }): string {
  const body = html` <p>
      Fields edited on both sides before a sync. The flow's policy chose a winner; “Apply the other value”
      makes the losing value win after all (Custompms is written, then the record syncs to Salesforce). Every
      use is audited.
    </p>
    ${table(
      'Conflicts',
      ['When', 'Flow', 'Record', 'Field', 'Custompms value', 'Salesforce value', 'Winner (policy)', 'Action'],
      page.items.map((c) => {
        const other = c.winner === 'custompms' ? 'Salesforce' : 'Custompms';
        return html`<tr>
          <td>${when(c.createdAt)}</td>
          <td>${c.flow}</td>
          <td>${recordIds(ctx, c.custompmsId, c.salesforceId)}</td>
          <td><code class="nowrap">${c.field}</code></td>
          <td>${show(c.custompmsValue)}</td>
          <td>${show(c.salesforceValue)}</td>
          <td><strong>${c.winner}</strong> (${c.policy})</td>
          <td>
            ${
              c.otherAppliedAt
                ? html`other value applied by ${c.otherAppliedBy ?? '?'} ${when(c.otherAppliedAt)}`
                : c.recordState !== 'active'
                  ? html`<span class="muted"
                      >record ${c.recordState === 'missing' ? 'not linked' : c.recordState}</span
                    >`
                  : c.custompmsId && (c.winner === 'custompms' || c.winner === 'salesforce')
                    ? html`<form method="post" action="${ctx.base}/conflicts/${c.id}/apply-other">
                        ${csrfField(ctx)}
                        <button type="submit" class="secondary" id="apply-other-${c.id}">
                          Apply the ${other} value
                        </button>
                      </form>`
                    : '—'
            }
          </td>
        </tr>`;
      }),
      { empty: 'No conflicts recorded.' },
    )}
    ${page.nextCursor ? html`<p><a class="button secondary" href="${ctx.base}/conflicts${query({ ...filter, cursor: page.nextCursor })}">Next page</a></p>` : ''}`;
  return layout({ ...ctx, current: 'conflicts' }, 'Conflicts', body);
}

// ---------------------------------------------------------------- settings

export function settingsPage(
  ctx: PageContext,
  settings: {
    mappingAppliedAt: Date | null;
    writePath: string;
    policies: Record<string, unknown>;
    salesforce: Record<string, unknown>;
    custompms: Record<string, unknown>;
    flows: {
      name: string;
      salesforceObject: string;
      conflictPolicy: string;
      deletePolicy: string;
      createFromSalesforce: boolean;
      fields: {
        key: string;
        label: string;
        custompms: string | null;
        salesforce: string;
        direction: string;
        kind: string;
        enabled: boolean;
        overridden: boolean;
      }[];
    }[];
  },
  versions: Record<string, string | number>,
): string {
  const pairs = (record: Record<string, unknown>) =>
    Object.entries(record).map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${show(v)}</dd>`,
    );
  const body = html`<p class="muted">
      Read-only. The mapping is the shipped one with the overrides an admin made in Setup (custom metadata);
      change it there.
      ${
        settings.mappingAppliedAt
          ? html`As the sync last applied it: ${when(settings.mappingAppliedAt)}.`
          : 'The sync has not read the org’s records yet: this is the shipped mapping.'
      }
    </p>
    <div class="grid">
      <section class="card">
        <h2>Write path and policies</h2>
        <dl class="details">
          <dt>Write path</dt>
          <dd>${settings.writePath}</dd>
          ${pairs(settings.policies)}
        </dl>
      </section>
      <section class="card">
        <h2>Salesforce</h2>
        <dl class="details">${pairs(settings.salesforce)}</dl>
      </section>
      <section class="card">
        <h2>Custompms</h2>
        <dl class="details">${pairs(settings.custompms)}</dl>
      </section>
      <section class="card">
        <h2>Versions</h2>
        <dl class="details">${pairs(versions)}</dl>
      </section>
    </div>
    ${settings.flows.map(
      (flow) =>
        html`<section class="card">
          <h2>${flow.name} ⇄ ${flow.salesforceObject}</h2>
          <p>
            Conflicts: <strong>${flow.conflictPolicy}</strong> · Deletes:
            <strong>${flow.deletePolicy}</strong> · Created from Salesforce:
            <strong>${flow.createFromSalesforce ? 'yes' : 'no'}</strong>
          </p>
          ${table(
            `Mapping of ${flow.name}`,
            ['Field', 'Custompms', 'Salesforce', 'Direction', 'Kind', 'Enabled', 'From Setup'],
            flow.fields.map(
              (f) =>
                html`<tr>
                  <td>${f.label}</td>
                  <td><code>${f.custompms ?? '—'}</code></td>
                  <td><code>${f.salesforce}</code></td>
                  <td>${f.direction.replace('_', ' ')}</td>
                  <td>${f.kind}</td>
                  <td>${f.enabled ? 'yes' : 'no'}</td>
                  <td>${f.overridden ? html`<strong>overridden</strong>` : '—'}</td>
                </tr>`,
            ),
          )}
        </section>`,
    )}`;
  return layout({ ...ctx, current: 'settings' }, 'Settings', body);
}

export function notFoundPage(ctx: PageContext, what: string): string {
  return layout(ctx, 'Not found', html`<p>${what} does not exist.</p>`);
}
