/**
 * Backfill above the Bulk threshold (made small here): tasks go through one Bulk API 2.0 ingest
 * job, a crash after the job was submitted resumes by fetching that job's results (no second
 * job, no duplicate Task), a record Salesforce refuses is listed with its reason, and the next
 * run writes only what is still missing.
 */
import { recordError } from '../../emulators/salesforce/errors';
import { runBackfill, type BackfillOptions } from '../../../proxy/src/jobs/backfill';
import { startWorld, type World } from '../../support/e2e';
import { bulkJobsCreated, linkCount, salesforceWrites, tableCount, tasksByCustompmsId } from './support';

jest.setTimeout(120_000);

class Crash extends Error {}

describe('backfill (Bulk API 2.0, crash and resume)', () => {
  let world: World;
  const taskIds: string[] = [];
  const options: BackfillOptions = {
    flows: ['customers', 'projects', 'tasks'],
    pageSize: 7,
    bulkThreshold: 10,
    bulkPoll: { intervalMs: 20, maxIntervalMs: 100 },
  };

  beforeAll(async () => {
    world = await startWorld({ writePath: 'api' });
    const { controls } = world.cpms;
    const [customer] = controls.seed('customers', [{ name: 'Initech', is_active: true }]);
    const [project] = controls.seed('projects', [
      { customer_id: customer!.id, name: 'Migration', status: 'active', priority: 'normal' },
    ]);
    const tasks = controls.seed(
      'tasks',
      Array.from({ length: 30 }, (_, index) => ({
        project_id: project!.id,
        title: `Task ${index}`,
        status: 'todo' as const,
        priority: 'normal' as const,
        description: index % 2 === 0 ? `line one\nline "two", with a comma` : undefined,
      })),
    );
    taskIds.push(...tasks.map((task) => task.id));
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('crashes after submitting the Bulk job, then resumes from its results without a second job', async () => {
    // Salesforce refuses the 5th row of the job (a validation rule, as an org might have one).
    let row = 0;
    world.sf.org.bulk.recordFault = () =>
      ++row === 5
        ? recordError('FIELD_CUSTOM_VALIDATION_EXCEPTION', 'Subject must not start with Task 4')
        : undefined;

    await expect(
      runBackfill(world.deps, {
        ...options,
        afterBulkSubmit: () => {
          throw new Crash('the process died');
        },
      }),
    ).rejects.toBeInstanceOf(Crash);
    expect(bulkJobsCreated(world)).toBe(1);
    expect(await tableCount(world, 'backfill_runs', `flow = 'tasks' AND status = 'running'`)).toBe(1);
    expect(await tableCount(world, 'backfill_bulk_jobs', `state = 'submitted'`)).toBe(1);
    expect(await linkCount(world, 'tasks')).toBe(0);
    expect(await tableCount(world, 'backfill_items')).toBe(30);

    const report = await runBackfill(world.deps, options);
    const tasks = report.flows.find((entry) => entry.flow === 'tasks')!;
    expect(tasks.resumed).toBe(true);
    expect(bulkJobsCreated(world)).toBe(1);
    expect(tasks.counters).toMatchObject({ created: 29, failed: 1, linked: 0, updated: 0 });
    expect(tasks.reasons).toEqual([
      {
        code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        count: 1,
        example: expect.stringContaining('Subject must not'),
      },
    ]);
    expect(report.failed).toBe(1);
    expect(await linkCount(world, 'tasks')).toBe(29);
    expect(await tableCount(world, 'backfill_items')).toBe(0);
    expect(await tableCount(world, 'backfill_bulk_jobs', `state = 'recorded'`)).toBe(1);
    // The customer and project flows finished before the crash: not run again.
    expect(report.flows.find((entry) => entry.flow === 'projects')!.resumed).toBe(false);

    const byId = await tasksByCustompmsId(world);
    const created = taskIds.filter((id) => byId.has(id));
    expect(created).toHaveLength(29);
    for (const id of created) expect(byId.get(id)).toHaveLength(1);
    const failed = await world.db.pool.query<{ custompms_id: string }>(
      `SELECT custompms_id FROM sync_problems WHERE code = 'FIELD_CUSTOM_VALIDATION_EXCEPTION'`,
    );
    expect(failed.rows).toHaveLength(1);
    expect(byId.has(failed.rows[0]!.custompms_id)).toBe(false);
  });

  it('a job left open by a crash during upload is aborted and its records go into a new job', async () => {
    world.sf.org.bulk.recordFault = () => undefined;
    // A fresh set of tasks, and a crash simulated by a job created and recorded but never uploaded.
    const [project] = world.cpms.controls.records('projects');
    const more = world.cpms.controls.seed(
      'tasks',
      Array.from({ length: 12 }, (_, index) => ({
        project_id: project!.id,
        title: `Late ${index}`,
        status: 'todo' as const,
        priority: 'low' as const,
      })),
    );
    // The upload dies half way (the org answers 503 and the process gives up): the job stays Open.
    world.sf.org.faults.failNext(/PUT .*\/jobs\/ingest\/[^/]+\/batches$/, 'unavailable', 1);
    const before = bulkJobsCreated(world);
    await expect(runBackfill(world.deps, { ...options, flows: ['tasks'] })).rejects.toThrow();
    expect(bulkJobsCreated(world)).toBe(before + 1);
    expect(await tableCount(world, 'backfill_bulk_jobs', `state = 'created'`)).toBe(1);
    const [open] = (
      await world.db.pool.query<{ id: string }>(`SELECT id FROM backfill_bulk_jobs WHERE state = 'created'`)
    ).rows;

    const report = await runBackfill(world.deps, { ...options, flows: ['tasks'] });
    // The open job was aborted (never processed), and its records went into one new job.
    expect(bulkJobsCreated(world)).toBe(before + 2);
    const job = await world.deps
      .salesforce()
      .then((sf) =>
        sf.client.call((conn) =>
          conn.request<{ state: string }>(`/services/data/v65.0/jobs/ingest/${open!.id}`),
        ),
      );
    expect(job.state).toBe('Aborted');
    expect(await tableCount(world, 'backfill_bulk_jobs', `id = '${open!.id}' AND state = 'abandoned'`)).toBe(
      1,
    );
    const tasks = report.flows[0]!;
    // 13 written by the new run: the 12 new ones and the one refused earlier.
    expect(tasks.resumed).toBe(true);
    expect(tasks.counters).toMatchObject({ created: 13, failed: 0, unchanged: 29 });
    const byId = await tasksByCustompmsId(world);
    for (const task of more) expect(byId.get(task.id)).toHaveLength(1);
    expect(await linkCount(world, 'tasks')).toBe(30 + 12);
  });

  it('a second run is a no-op', async () => {
    const writes = salesforceWrites(world);
    const report = await runBackfill(world.deps, options);
    for (const entry of report.flows)
      expect(entry.counters).toMatchObject({ created: 0, updated: 0, failed: 0 });
    expect(report.flows.find((entry) => entry.flow === 'tasks')!.counters.unchanged).toBe(42);
    expect(salesforceWrites(world)).toBe(writes);
  });
});
