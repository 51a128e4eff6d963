/**
 * The settings page, read-only: the write path and policies, the Salesforce and Custompms
 * configuration, the versions, and each flow's mapping as the sync last applied it.
 */
import { html } from '../html';
import { layout, show, table, when, type PageContext } from './layout';

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
