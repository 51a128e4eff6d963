/**
 * Real-org fidelity (#15), end to end on an emulated org that enforces what Salesforce enforces:
 * record access (owner, role hierarchy, View/Modify All Data), field-level security of the
 * outbound message's send-as user, and Flows deployed to production arriving inactive.
 *
 * - A Task reassigned to a user outside the integration user's role hierarchy (private to its
 *   owner) still syncs both ways: the org's Apex writes it in system mode, and the integration user
 *   holds View All Data and Modify All Data for the proxy's own API calls (README "What the
 *   integration user needs").
 * - A field hidden from the send-as user is absent from the outbound message and never clears the
 *   Custompms value.
 * - A production deploy (Flow inactive) is followed by deploy-org --post-deploy, which activates
 *   the Flow and leaves the sync working; a deploying user who cannot activate it gets the Setup step.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from 'jsforce';
import { flushOutbox } from '../../proxy/src/jobs/batches';
import { putOutboxItem } from '../../proxy/src/store/batches';
import { listProblems } from '../../proxy/src/store/problems';
import { FLOW_ACTIVATION_STEP, FLOW_NAME } from '../../scripts/deploy-org';
import { DEFAULT_FORCE_APP } from '../emulators/salesforce';
import { adminConnection, linkedId, quiet, startWorld, type World } from '../support/e2e';
import { eventually } from '../support/eventually';
import { pendingWrite } from '../support/pending-write';

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function userConnection(world: World, username: string): Connection {
  return new Connection({
    instanceUrl: world.sf.url,
    accessToken: world.sf.tokenFor(username),
    version: '65.0',
  });
}

/**
 * Reassigns a Task as an admin would, and lets that change settle: Salesforce stamps to the second,
 * so the next edit is made a second later (the world's clock) to be ordered after it.
 */
async function reassign(world: World, taskId: string, ownerId: string): Promise<void> {
  await adminConnection(world).sobject('Task').update({ Id: taskId, OwnerId: ownerId });
  await quiet(world);
  world.clock.advance(1_000);
}

/** A customer and a project in Custompms, and the project's Task id in Salesforce once linked. */
async function linkedProject(world: World, name: string): Promise<{ projectId: string; taskId: string }> {
  const { controls } = world.cpms;
  const customer = controls.create('customers', { name: `${name} Co`, is_active: true });
  const project = controls.create('projects', {
    customer_id: customer.id,
    name,
    description: `${name}: the description`,
    status: 'active',
  });
  const taskId = await linkedId(world, 'projects', String(project.id));
  return { projectId: String(project.id), taskId };
}

describe('org fidelity: record access', () => {
  let world: World;
  let ownerUsername: string;
  beforeAll(async () => {
    world = await startWorld();
    const { users } = world.sf.org;
    // Two branches of the role hierarchy: the integration user sits in neither above the other.
    users.createRole({ name: 'Custompms_Integration_Role' });
    users.createRole({ name: 'Field_Sales' });
    users.setRole(world.sf.org.integrationUserId, 'Custompms_Integration_Role');
    ownerUsername = 'field.rep@custompms.example';
    users.create({
      username: ownerUsername,
      email: ownerUsername,
      lastName: 'Rep',
      profile: 'Standard User',
      role: 'Field_Sales',
    });
    // What README "What the integration user needs" asks the admin to grant.
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ViewAllData');
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ModifyAllData');
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('a Task reassigned to a user outside the integration user’s hierarchy still syncs both ways', async () => {
    const { projectId, taskId } = await linkedProject(world, 'Reassigned');
    const admin = adminConnection(world);
    const owner = world.sf.org.users.byUsername(ownerUsername)!.Id as string;
    await reassign(world, taskId, owner);

    // Private to its owner: without the grants, the integration user could not see it.
    const { users } = world.sf.org;
    const found = world.sf.org.db.findById(taskId)!;
    expect(users.access(world.sf.org.integrationUserId).canSee(found.object, found.record)).toBe(true);
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ViewAllData', false);
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ModifyAllData', false);
    expect(users.access(world.sf.org.integrationUserId).canSee(found.object, found.record)).toBe(false);
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ViewAllData');
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ModifyAllData');

    // Custompms → Salesforce: the pull job writes the Task it does not own.
    world.cpms.controls.edit('projects', projectId, { name: 'Renamed in Custompms' });
    await eventually(
      async () => {
        const task = await admin.sobject('Task').retrieve(taskId);
        return (task as { Subject?: string }).Subject === 'Renamed in Custompms';
      },
      { what: 'the reassigned Task renamed from Custompms', timeoutMs: 60_000 },
    );

    // Salesforce → Custompms: its owner edits it; the outbound message reaches the proxy.
    await quiet(world);
    world.clock.advance(1_000);
    await userConnection(world, ownerUsername)
      .sobject('Task')
      .update({ Id: taskId, Subject: 'Renamed by its owner' });
    await eventually(
      () => world.cpms.controls.record('projects', projectId)?.name === 'Renamed by its owner',
      {
        what: 'the owner’s rename in Custompms',
        timeoutMs: 60_000,
      },
    );
  });

  it('without View/Modify All Data the org’s Apex still writes the reassigned Task (system mode)', async () => {
    const { projectId, taskId } = await linkedProject(world, 'Apex only');
    const admin = adminConnection(world);
    const owner = world.sf.org.users.byUsername(ownerUsername)!.Id as string;
    await reassign(world, taskId, owner);
    const { users } = world.sf.org;
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ViewAllData', false);
    users.grantSystemPermission(world.sf.org.integrationUserId, 'ModifyAllData', false);
    try {
      world.cpms.controls.edit('projects', projectId, { name: 'Pulled in system mode' });
      await eventually(
        async () => {
          const task = await admin.sobject('Task').retrieve(taskId);
          return (task as { Subject?: string }).Subject === 'Pulled in system mode';
        },
        { what: 'the pull job’s write of a Task the integration user cannot see', timeoutMs: 60_000 },
      );
    } finally {
      users.grantSystemPermission(world.sf.org.integrationUserId, 'ViewAllData');
      users.grantSystemPermission(world.sf.org.integrationUserId, 'ModifyAllData');
    }
  });
});

describe('org fidelity: field-level security of the outbound message', () => {
  let world: World;
  let dir: string;
  beforeAll(async () => {
    world = await startWorld();
    // Before the proxy first reads the org: an admin takes Description away from the integration
    // user (explicitly unreadable; a permission-set deploy leaves omitted permissions as they were).
    dir = mkdtempSync(path.join(tmpdir(), 'force-app-fls-'));
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
    expect((await world.sf.org.deploySource(dir)).success).toBe(true);
  });
  afterAll(async () => {
    await world?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a field hidden from the sending user never clears Custompms, and is reported', async () => {
    const { projectId, taskId } = await linkedProject(world, 'Hidden description');
    // The pull job wrote it (system mode, a reviewed field); the message cannot carry it back.
    const admin = adminConnection(world);
    const task = (await admin.sobject('Task').retrieve(taskId)) as { Description?: string };
    expect(task.Description).toBe('Hidden description: the description');
    await quiet(world);
    world.clock.advance(1_000);

    await admin.sobject('Task').update({ Id: taskId, Subject: 'Renamed while Description is hidden' });
    await eventually(
      () => world.cpms.controls.record('projects', projectId)?.name === 'Renamed while Description is hidden',
      { what: 'the rename in Custompms', timeoutMs: 60_000 },
    );
    const sent = world.sf.org.outbound.attempts.at(-1)!.envelope;
    expect(sent).toContain('Renamed while Description is hidden');
    expect(sent).not.toContain('Description>');
    expect(world.cpms.controls.record('projects', projectId)?.description).toBe(
      'Hidden description: the description',
    );
    const reported = (await listProblems(world.db.pool, 'warning')).filter(
      (problem) => problem.code === 'field_hidden_from_sender',
    );
    expect(reported.map((problem) => problem.message)).toEqual([
      expect.stringContaining('Task.Description is hidden from the integration user'),
    ]);
  });
});

describe('org fidelity: async Apex limits', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('a batch beyond the 12 MB async heap fails the pull job, and its finalizer reports it to the proxy', async () => {
    // One record is always a batch of its own, whatever its size: 13 MB of text cannot fit the heap.
    await putOutboxItem(world.db.pool, {
      flow: 'tasks',
      custompmsId: 'tsk_too_large',
      kind: 'task',
      record: { Custompms_Id__c: 'tsk_too_large', Subject: 'Too large', Description: 'x'.repeat(13_000_000) },
      plan: pendingWrite('tasks', 'tsk_too_large'),
      custompmsVersion: 1,
    });
    await flushOutbox(world.deps);
    const reported = await eventually(
      async () =>
        (await listProblems(world.db.pool, 'error')).find((problem) => problem.code === 'apex_job_failed'),
      { what: 'the pull job’s failure reported by its Transaction Finalizer', timeoutMs: 60_000 },
    );
    expect(reported.message).toMatch(
      /^CustompmsPullJob FETCH of batch b_\S+ failed in the org: Unhandled .*heap/i,
    );
    const failed = world.sf.org.apex.jobs.filter((job) => job.ApexClassName === 'CustompmsPullJob');
    expect(failed.length).toBeGreaterThan(0);
  });
});

/** Runs the deploy script against the world's emulator (the real sf CLI). */
function deployOrg(
  world: World,
  username: string,
  ...extra: string[]
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      TSX,
      [
        'scripts/deploy-org.ts',
        '--emulator',
        world.sf.url,
        '--proxy-url',
        world.proxyUrl,
        '--integration-user',
        world.sf.integrationUsername,
        '--outbound-token',
        world.config.salesforce.outboundMessageToken ?? 'unused-outbound-token-0123456789',
        ...extra,
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          SF_ACCESS_TOKEN: world.sf.tokenFor(username),
          SF_DISABLE_TELEMETRY: 'true',
          SF_SKIP_NEW_VERSION_CHECK: 'true',
          FORCE_COLOR: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

describe('org fidelity: a production deploy', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('arrives with the Flow inactive; deploy-org --post-deploy activates it and the sync works', async () => {
    const { org } = world.sf;
    // A production org whose Flow has never been active, freshly deployed: "Deploy processes and
    // flows as active" is off, so the deployed version arrives inactive.
    // (startWorld starts a sandbox; this is what startSalesforceEmulator({ orgType: 'production' }) seeds.)
    org.options.orgType = 'production';
    Object.assign(org.db.findById(org.id)!.record as Record<string, unknown>, {
      IsSandbox: false,
      OrganizationType: 'Enterprise Edition',
    });
    org.setFlowDeployAsActive(false);
    org.activateFlow(FLOW_NAME, null);
    await org.deploySource(undefined, { assumeTestsPassed: true });
    expect(org.schema.activeFlowVersion(FLOW_NAME)).toBeNull();

    const { projectId, taskId } = await linkedProject(world, 'Production');
    await quiet(world);
    world.clock.advance(1_000);
    const admin = adminConnection(world);
    await admin.sobject('Task').update({ Id: taskId, Subject: 'Lost while the Flow is inactive' });

    // A user who may not activate Flows (no Manage Flow, no Modify All Data) gets the Setup step.
    const deployer = 'release.manager@custompms.example';
    org.users.create({ username: deployer, email: deployer, lastName: 'Manager', profile: 'Standard User' });
    const refusal = await deployOrg(world, deployer, '--post-deploy');
    expect(refusal.code).toBe(1);
    expect(refusal.out).toContain(FLOW_ACTIVATION_STEP);
    expect(org.schema.activeFlowVersion(FLOW_NAME)).toBeNull();

    const post = await deployOrg(world, world.sf.adminUsername, '--post-deploy');
    expect(`${post.code}\n${post.out}`).toMatch(/^0\n[\s\S]*Target org: production[\s\S]*activated/);
    expect(org.schema.activeFlowVersion(FLOW_NAME)).not.toBeNull();

    world.clock.advance(1_000);
    await admin.sobject('Task').update({ Id: taskId, Subject: 'Synced once the Flow is active' });
    await eventually(
      () => world.cpms.controls.record('projects', projectId)?.name === 'Synced once the Flow is active',
      { what: 'the edit made after activation in Custompms', timeoutMs: 60_000 },
    );
  });
});
