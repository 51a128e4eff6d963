/** What the admin must see from a plan: its conflicts and problems, stored for the admin API. */
import type { Plan } from '../sync';
import { recordConflicts, recordProblem } from '../store/problems';
import type { Queryable } from '../store/transaction';

/**
 * Records a plan's conflicts and problems. `errors: false` leaves out the errors, for callers
 * that record those themselves (the backfill, with its reasons).
 */
export async function recordPlanFindings(
  db: Queryable,
  plan: Plan,
  ids: { custompmsId: string | null; salesforceId: string | null },
  options: { errors: boolean } = { errors: true },
): Promise<void> {
  await recordConflicts(
    db,
    plan.conflicts.map((conflict) => ({
      flow: plan.flow,
      custompmsId: ids.custompmsId,
      salesforceId: ids.salesforceId,
      field: conflict.field,
      custompmsValue: conflict.custompmsValue,
      salesforceValue: conflict.salesforceValue,
      winner: conflict.winner,
      policy: conflict.policy,
    })),
  );
  for (const problem of plan.problems) {
    if (problem.severity === 'error' && !options.errors) continue;
    await recordProblem(db, {
      flow: plan.flow,
      custompmsId: ids.custompmsId,
      salesforceId: ids.salesforceId,
      kind: problem.severity === 'error' ? 'error' : 'warning',
      code: problem.code,
      message: problem.message,
    });
  }
}
