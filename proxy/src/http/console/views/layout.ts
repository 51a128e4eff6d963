/**
 * The console's page frame and the small pieces every page shares: the layout with its nav, dates
 * and durations, the CSRF field, tables, filter selects and query strings, and the pages that are
 * no more than the frame (sign-in, access refused, not found).
 */
import { html, raw, type Html } from '../html';

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

export function table(
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

export function select(
  id: string,
  label: string,
  value: string | undefined,
  options: [string, string][],
): Html {
  return html`<div class="field">
    <label for="${id}">${label}</label
    ><select id="${id}" name="${id}">
      ${options.map(([v, text]) => html`<option value="${v}" ${v === (value ?? '') ? raw(' selected') : ''}>${text}</option>`)}
    </select>
  </div>`;
}

export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function show(value: unknown): string {
  if (value === undefined) return '—';
  if (value === null) return '(empty)';
  return typeof value === 'string' ? value : JSON.stringify(value);
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

export function notFoundPage(ctx: PageContext, what: string): string {
  return layout(ctx, 'Not found', html`<p>${what} does not exist.</p>`);
}
