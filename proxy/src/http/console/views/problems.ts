/**
 * The problems pages: the filtered list with its bulk actions, the confirmation a bulk replay or
 * resolve asks for, and one problem with its payload.
 */
import type { Page, ProblemRow } from '../../../store/console-queries';
import { html, raw, type Html } from '../html';
import { csrfField, layout, query, select, table, when, type PageContext } from './layout';

export interface ProblemFilterView {
  kind?: string;
  flow?: string;
  code?: string;
  status?: string;
  from?: string;
  to?: string;
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
export function recordIds(ctx: PageContext, custompmsId: string | null, salesforceId: string | null): Html {
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
