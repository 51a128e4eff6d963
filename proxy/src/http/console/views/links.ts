/**
 * The link browser (search by id or name), one link with both sides now and as last synced, its
 * open problems and history, and the conflicts list with "Apply the other value".
 */
import type { ConflictRow, LinkRow, Page, ProblemRow } from '../../../store/console-queries';
import type { StoredHistoryEntry } from '../../../store/link-history';
import type { LiveRecord } from '../../live-record';
import { html, raw, type Html } from '../html';
import { csrfField, layout, query, select, show, table, when, type PageContext } from './layout';
import { recordIds } from './problems';

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
