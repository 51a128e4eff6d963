/**
 * Backfill with several Bulk API 2.0 jobs in flight at once (job sizes made small here): jobs are
 * submitted while reading goes on, the first one small (an idle org starts at once), and a crash
 * while one job's results are still being recorded and another was just submitted resumes from
 * both jobs' results: every Task written once, every record linked, nothing left pending.
 */
import { runBackfill, type BackfillOptions } from '../../../proxy/src/jobs/backfill';
import { serial } from '../../../proxy/src/jobs/backfill/ledger';
import { nextBulkJobSize } from '../../../proxy/src/jobs/backfill/stored-run';
import { startWorld, type World } from '../../support/e2e';
import { bulkJobsCreated, linkCount, tableCount, tasksByCustompmsId } from './support';

jest.setTimeout(120_000);

class Crash extends Error {}

describe('backfill (several Bulk API 2.0 jobs in flight)', () => {
  let world: World;
  const taskIds: string[] = [];
  const options: BackfillOptions = {
    flows: ['customers', 'projects', 'tasks'],
    pageSize: 5,
    bulkThreshold: 5,
    bulkJobSize: 20,
    bulkPoll: { intervalMs: 20, maxIntervalMs: 50 },
  };

  beforeAll(async () => {
    world = await startWorld({ writePath: 'api' });
    // The org takes a moment over each job, so the run has several of them in flight.
    world.sf.org.bulk.options.processingDelayMs = 150;
    const { controls } = world.cpms;
    const [customer] = controls.seed('customers', [{ name: 'Pipelines Inc', is_active: true }]);
    const [project] = controls.seed('projects', [
      { customer_id: customer!.id, name: 'Pipelined', status: 'active', priority: 'normal' },
    ]);
    const tasks = controls.seed(
      'tasks',
      Array.from({ length: 60 }, (_, index) => ({
        project_id: project!.id,
        title: `Pipelined ${index}`,
        status: 'todo' as const,
        priority: 'normal' as const,
      })),
    );
    taskIds.push(...tasks.map((task) => task.id));
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('sizes the next job by the jobs the org holds: the first a quarter of the full size, then half, then all', () => {
    expect(nextBulkJobSize(10_000, 2_000, 0, true)).toBe(2_500);
    expect(nextBulkJobSize(10_000, 2_000, 0)).toBe(5_000);
    expect(nextBulkJobSize(10_000, 2_000, 1)).toBe(5_000);
    expect(nextBulkJobSize(10_000, 2_000, 2)).toBe(10_000);
    expect(nextBulkJobSize(10_000, 2_000, 3)).toBe(10_000);
    // Never below the Bulk threshold, never above the full size.
    expect(nextBulkJobSize(4_000, 2_000, 0, true)).toBe(2_000);
    expect(nextBulkJobSize(1_000, 2_000, 0)).toBe(1_000);
  });

  it('runs the run transactions one at a time, a page before the results waiting for their turn', async () => {
    const exclusive = serial();
    const order: string[] = [];
    let running = 0;
    let most = 0;
    // The first transaction holds its turn until everything else is queued behind it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const work =
      (name: string, until: Promise<void> = Promise.resolve()) =>
      async () => {
        running++;
        most = Math.max(most, running);
        await until;
        order.push(name);
        running--;
        return name;
      };
    const all = [
      exclusive(work('results 1', held)),
      exclusive(work('results 2')),
      exclusive(() => Promise.reject(new Error('results 3 failed'))),
      exclusive(work('results 4')),
      exclusive(work('page'), { first: true }),
    ];
    release();
    const outcomes = await Promise.allSettled(all);
    expect(most).toBe(1);
    expect(order).toEqual(['results 1', 'page', 'results 2', 'results 4']);
    expect(outcomes[2]).toMatchObject({ status: 'rejected', reason: new Error('results 3 failed') });
    expect(outcomes[4]).toEqual({ status: 'fulfilled', value: 'page' });
  });

  it('crashes after the second job is submitted, then resumes from both jobs without writing twice', async () => {
    let submitted = 0;
    let recordedAtSecond: number | undefined;
    await expect(
      runBackfill(world.deps, {
        ...options,
        afterBulkSubmit: async () => {
          if (++submitted < 2) return;
          recordedAtSecond = await tableCount(world, 'backfill_bulk_jobs', `state = 'recorded'`);
          throw new Crash('the process died');
        },
      }),
    ).rejects.toBeInstanceOf(Crash);
    // The second job went out while the first was still in the org (reading did not wait for it).
    expect(recordedAtSecond).toBe(0);
    expect(bulkJobsCreated(world)).toBeGreaterThanOrEqual(2);
    // The second job was submitted and never recorded: it is what the next run reads back.
    expect(await tableCount(world, 'backfill_bulk_jobs', `state = 'submitted'`)).toBeGreaterThanOrEqual(1);

    const report = await runBackfill(world.deps, options);
    const tasks = report.flows.find((entry) => entry.flow === 'tasks')!;
    expect(tasks.resumed).toBe(true);
    expect(tasks.counters).toMatchObject({ created: 60, failed: 0, linked: 0, updated: 0 });
    expect(await linkCount(world, 'tasks')).toBe(60);
    expect(await tableCount(world, 'backfill_items')).toBe(0);
    expect(await tableCount(world, 'backfill_bulk_jobs', `state IN ('created', 'submitted')`)).toBe(0);
    const byId = await tasksByCustompmsId(world);
    for (const id of taskIds) expect(byId.get(id)).toHaveLength(1);
    // Several jobs in all (the sizes grow with the jobs in the org), none of them submitted twice,
    // and all but a last remainder below the threshold went through Bulk (not Collections).
    expect(bulkJobsCreated(world)).toBeGreaterThan(2);
    const inJobs = await world.db.pool.query<{ n: string }>(
      `SELECT coalesce(sum(records), 0) AS n FROM backfill_bulk_jobs WHERE state = 'recorded'`,
    );
    expect(Number(inJobs.rows[0]!.n)).toBeGreaterThan(60 - 5);
  });

  it('a second run writes nothing', async () => {
    const jobs = bulkJobsCreated(world);
    const report = await runBackfill(world.deps, options);
    const tasks = report.flows.find((entry) => entry.flow === 'tasks')!;
    expect(tasks.counters).toMatchObject({ created: 0, updated: 0, failed: 0, unchanged: 60 });
    expect(bulkJobsCreated(world)).toBe(jobs);
  });
});
