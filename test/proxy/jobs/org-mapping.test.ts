/**
 * The org's field-map and setting records, read back by the proxy (MAPPING.md: "an admin may
 * change or extend them in Setup (the proxy reads them back)"). An admin's change reaches the
 * emulated org the way it reaches a real one: as a metadata deploy of the changed records.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../proxy/src/config';
import { createSyncDeps } from '../../../proxy/src/jobs/deps';
import { refreshOrgMapping } from '../../../proxy/src/jobs/org-mapping';
import { listProblems } from '../../../proxy/src/store/problems';
import {
  startSalesforceEmulator,
  DEFAULT_FORCE_APP,
  type SalesforceEmulator,
} from '../../emulators/salesforce';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('field maps and settings read back from the org', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'force-app-'));
  });
  beforeEach(async () => {
    // Each case looks at the problems it causes.
    await db.pool.query('DELETE FROM sync_problems');
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  function depsFor(sf: SalesforceEmulator, env: Record<string, string> = {}) {
    const logs = captureLogs('warn');
    const config = loadConfig({
      ...sf.proxyEnv(),
      ...env,
    });
    return { deps: createSyncDeps(config, db.pool, logs.logger, { mappingRefreshMs: 0 }), logs };
  }

  /** force-app with the admin's edits to two records. */
  function editedForceApp(): string {
    const target = path.join(dir, 'default');
    cpSync(DEFAULT_FORCE_APP, target, { recursive: true });
    const edit = (file: string, from: string, to: string) => {
      const full = path.join(target, 'customMetadata', file);
      const text = readFileSync(full, 'utf8');
      expect(text).toContain(from);
      writeFileSync(full, text.replace(from, to));
    };
    edit('Custompms_Sync_Setting.Tasks.md-meta.xml', '>latest<', '>custompms<');
    edit('Custompms_Field_Map.tasks_status.md-meta.xml', '"Deferred":"blocked"', '"Deferred":"todo"');
    return target;
  }

  it('applies what an admin changed in the org over the shipped and configured mapping', async () => {
    const sf = await startSalesforceEmulator({ deployForceApp: true });
    try {
      const { deps, logs } = depsFor(sf, { DELETE_POLICY: 'unlink' });
      await refreshOrgMapping(deps);
      // As shipped: the configuration's choices stand.
      expect(deps.definition.tasks.conflictPolicy).toBe('latest');
      expect(deps.definition.tasks.deletePolicy).toBe('unlink');

      const outcome = await sf.org.deploySource(editedForceApp());
      expect(outcome.success).toBe(true);
      await refreshOrgMapping(deps);
      expect(deps.definition.tasks.conflictPolicy).toBe('custompms');
      expect(deps.definition.tasks.deletePolicy).toBe('unlink');
      const status = deps.definition.tasks.fields.find((field) => field.key === 'tasks.status')!;
      expect(status.toCustompms!.Deferred).toBe('todo');
      // Projects were not touched.
      expect(deps.definition.projects.conflictPolicy).toBe('latest');
      // Edited shipped records apply, but a redeploy would reset them: each is reported.
      const reported = (await listProblems(db.pool, 'warning')).filter(
        (problem) => problem.code === 'shipped_record_edited',
      );
      expect(reported.map((problem) => problem.message).sort()).toEqual([
        expect.stringContaining('settings of tasks'),
        expect.stringContaining('tasks.status'),
      ]);
      // Nothing was refused: only the two edits are reported.
      expect((await listProblems(db.pool, 'error')).filter((p) => p.code === 'bad_override')).toEqual([]);
      expect(
        logs.lines().filter((line) => line.msg === 'org mapping record not applied as shipped'),
      ).toHaveLength(2);
    } finally {
      await sf.close();
    }
  });

  it('keeps the shipped mapping in an org where force-app is not deployed', async () => {
    const sf = await startSalesforceEmulator();
    try {
      const { deps } = depsFor(sf);
      await expect(refreshOrgMapping(deps)).resolves.toBeUndefined();
      expect(deps.definition.tasks.conflictPolicy).toBe('latest');
    } finally {
      await sf.close();
    }
  });

  /** force-app plus an admin's own record (Override checked), as Setup would hold it. */
  function withOverrideRecord(maxLength: string): string {
    const target = path.join(dir, `override-${maxLength}`);
    cpSync(DEFAULT_FORCE_APP, target, { recursive: true });
    const shipped = readFileSync(
      path.join(target, 'customMetadata', 'Custompms_Field_Map.tasks_title.md-meta.xml'),
      'utf8',
    );
    const override = shipped
      .replace(/<label>[^<]*<\/label>/, '<label>Task title (ours)</label>')
      .replace(/(<field>Max_Length__c<\/field>\s*<value[^>]*>)[^<]*(<\/value>)/, `$1${maxLength}$2`)
      .replace(/(<field>Override__c<\/field>\s*<value[^>]*>)false(<\/value>)/, '$1true$2');
    expect(override).toContain('<value xsi:type="xsd:boolean">true</value>');
    writeFileSync(
      path.join(target, 'customMetadata', 'Custompms_Field_Map.Override_tasks_title.md-meta.xml'),
      override,
    );
    return target;
  }

  it('prefers an admin’s Override record, which redeploying the shipped records leaves alone', async () => {
    const sf = await startSalesforceEmulator({ deployForceApp: true });
    try {
      const { deps } = depsFor(sf);
      expect((await sf.org.deploySource(withOverrideRecord('120.0'))).success).toBe(true);
      await refreshOrgMapping(deps);
      const title = () => deps.definition.tasks.fields.find((field) => field.key === 'tasks.title')!;
      expect(title().maxLength).toBe(120);
      // A redeploy of force-app writes the shipped records again; the admin's record is not in it.
      expect((await sf.org.deploySource()).success).toBe(true);
      await refreshOrgMapping(deps);
      expect(title().maxLength).toBe(120);
      expect((await listProblems(db.pool)).filter((p) => p.code === 'shipped_record_edited')).toEqual([]);
    } finally {
      await sf.close();
    }
  });

  it('shows an invalid record as a problem, not only a log line, once while it stays', async () => {
    const sf = await startSalesforceEmulator({ deployForceApp: true });
    try {
      const { deps } = depsFor(sf);
      const target = path.join(dir, 'invalid');
      cpSync(DEFAULT_FORCE_APP, target, { recursive: true });
      const file = path.join(target, 'customMetadata', 'Custompms_Field_Map.tasks_status.md-meta.xml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace('"Deferred":"blocked"', '"Deferred":"blocked"'.slice(0, -1)),
      );
      expect((await sf.org.deploySource(target)).success).toBe(true);
      await refreshOrgMapping(deps);
      await refreshOrgMapping(deps);
      const invalid = (await listProblems(db.pool, 'error')).filter((p) => p.code === 'bad_override');
      expect(invalid).toHaveLength(1);
      expect(invalid[0]!.message).toMatch(/Custom Metadata Types: .*tasks\.status/);
    } finally {
      await sf.close();
    }
  });
});
