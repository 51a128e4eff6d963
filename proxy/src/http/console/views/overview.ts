/**
 * The overview page: per flow its links, open problems and charts (changes per minute and sync
 * lag, drawn by the uPlot script), the Salesforce API usage gauge and budget, the queue, the open
 * problems by code and the pollers.
 */
import type { Overview, FlowOverview } from '../../operations';
import { html, jsonScript, raw, type Html } from '../html';
import { duration, layout, table, when, type PageContext } from './layout';

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
