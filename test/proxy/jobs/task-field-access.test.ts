/**
 * The integration user's field-level security on the mapped Task fields, learned from `describe`
 * (jobs/task-field-access.ts): a field it cannot read is left out of the outbound message, so its
 * absence must read as unknown, and it is reported once as a problem.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../proxy/src/config';
import { createSyncDeps } from '../../../proxy/src/jobs/deps';
import {
  hiddenTaskFields,
  readTaskFields,
  refreshTaskFieldAccess,
} from '../../../proxy/src/jobs/task-field-access';
import { listProblems } from '../../../proxy/src/store/problems';
import { FLOWS } from '../../../proxy/src/sync';
import { DEFAULT_FORCE_APP, startSalesforceEmulator } from '../../emulators/salesforce';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { captureLogs } from '../../support/logs';

describe('Task fields hidden from the integration user', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'force-app-fls-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the outbound message’s fields of the Task flows (not Division, never in the message)', () => {
    const fields = [...readTaskFields(FLOWS).keys()];
    expect(fields).toEqual(expect.arrayContaining(['Subject', 'Description', 'ActivityDate', 'Status']));
    expect(fields).not.toContain('Division');
  });

  it('learns them from describe, keeps them through a failed read, and reports each once', async () => {
    const sf = await startSalesforceEmulator({ deployForceApp: true });
    try {
      const { logger } = captureLogs('error');
      const deps = createSyncDeps(loadConfig(sf.proxyEnv()), db.pool, logger, { mappingRefreshMs: 0 });
      await refreshTaskFieldAccess(deps);
      expect([...hiddenTaskFields(deps)]).toEqual([]);

      // An admin takes Description away from the integration permission set (explicitly: a
      // permission-set deploy leaves the permissions it omits as they were).
      cpSync(DEFAULT_FORCE_APP, dir, { recursive: true });
      const file = path.join(dir, 'permissionsets', 'Custompms_Integration.permissionset-meta.xml');
      const grant =
        /<fieldPermissions>\s*<editable>true<\/editable>\s*<field>Task\.Description<\/field>\s*<readable>true<\/readable>\s*<\/fieldPermissions>/;
      const xml = readFileSync(file, 'utf8');
      expect(xml).toMatch(grant);
      writeFileSync(
        file,
        xml.replace(
          grant,
          '<fieldPermissions><editable>false</editable><field>Task.Description</field><readable>false</readable></fieldPermissions>',
        ),
      );
      expect((await sf.org.deploySource(dir)).success).toBe(true);
      await refreshTaskFieldAccess(deps);
      await refreshTaskFieldAccess(deps);
      expect([...hiddenTaskFields(deps)]).toEqual(['Description']);
      const reported = (await listProblems(db.pool, 'warning')).filter(
        (problem) => problem.code === 'field_hidden_from_sender',
      );
      expect(reported.map((problem) => problem.message)).toEqual([
        expect.stringContaining('Task.Description is hidden from the integration user'),
      ]);

      // A describe that fails keeps what is known.
      sf.org.faults.failNext('describe', 'unavailable', 10);
      await refreshTaskFieldAccess(deps);
      expect([...hiddenTaskFields(deps)]).toEqual(['Description']);
    } finally {
      await sf.close();
    }
  });
});
