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
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'force-app-'));
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
      expect(logs.lines().filter((line) => line.msg === 'org mapping record not applied')).toEqual([]);
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
});
