/**
 * Replaying a dead letter: the work it stood for is queued again, then the problem is marked
 * resolved. A batch the org never answered is replayed as a fresh sync of each of its records
 * (the batch itself is long gone; the records' current state is what should reach Salesforce).
 */
import { enqueueJob } from '../store/jobs';
import { getProblem, resolveProblem } from '../store/problems';
import type { SyncDefinition } from '../sync';
import type { Logger } from 'pino';
import type pg from 'pg';
import { enqueueCustompmsSync } from './enqueue';
import { TASK_NAMES } from './task-names';

export type ReplayOutcome = 'replayed' | 'not_found' | 'not_replayable' | 'already_resolved';

export async function replayDeadLetter(
  deps: { pool: pg.Pool; definition: SyncDefinition; logger: Logger },
  problemId: number,
): Promise<ReplayOutcome> {
  const problem = await getProblem(deps.pool, problemId);
  if (!problem) return 'not_found';
  if (problem.resolvedAt !== null) return 'already_resolved';
  if (problem.kind !== 'dead_letter' || !problem.task) return 'not_replayable';
  const records = (problem.payload as { records?: unknown } | null)?.records;
  if (Array.isArray(records)) {
    for (const entry of records) {
      const [flow, id] = String(entry).split(/:(.*)/s) as [keyof SyncDefinition, string];
      const definition = deps.definition[flow];
      if (definition && id) await enqueueCustompmsSync(deps, definition.custompmsType, id);
    }
  } else if ((TASK_NAMES as readonly string[]).includes(problem.task)) {
    await enqueueJob(deps.pool, problem.task, problem.payload ?? {}, {});
  } else {
    return 'not_replayable';
  }
  await resolveProblem(deps.pool, problemId);
  deps.logger.info({ problemId, task: problem.task }, 'dead letter replayed');
  return 'replayed';
}
