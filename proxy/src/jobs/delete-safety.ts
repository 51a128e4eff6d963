/**
 * A delete is the one change the sync cannot take back, so it is applied only when confirmed
 * and never in bulk by surprise (#14):
 * - a Custompms 404 is a delete only when it is Custompms saying so for that record (a
 *   problem+json `not-found` naming the id) or a tombstone in `/api/v1/deleted` lists it; a bare
 *   404 (a gateway, a wrong base URL) is an error the job retries;
 * - a Task deletion the org's Apex posts is applied only when the configured org confirms it
 *   (`queryAll`, `IsDeleted = true`): after a sandbox refresh a sandbox carries production's
 *   record Ids and perhaps its API key, and must not delete production's Custompms records;
 * - the mass-delete brake: more than `massDeleteLimit` deletes within `massDeleteWindowMs`
 *   pauses every delete and raises a MASS_DELETE_PAUSED problem; resolving it releases the brake
 *   (the paused jobs end as dead letters, to replay).
 */
import type { FlowDefinition } from '../sync';
import type { CustompmsNotFoundError } from '../custompms/errors';
import { soqlString } from '../salesforce/operations';
import { recordProblemOnce } from '../store/problems';
import { withTransaction } from '../store/transaction';
import type { SyncDeps } from './deps';

/** How far back a tombstone is looked for when the 404 itself does not confirm the delete. */
const TOMBSTONE_LOOKBACK_MS = 30 * 24 * 3600_000;

export class DeleteUnconfirmedError extends Error {
  readonly code = 'DELETE_UNCONFIRMED';
}

export class MassDeleteBrakeError extends Error {
  readonly code = 'MASS_DELETE_PAUSED';
}

/**
 * Whether a record read's 404 means the record is deleted: Custompms's own problem+json 404 for
 * that record, or its tombstone. Throws `DeleteUnconfirmedError` otherwise (the job retries).
 */
export async function confirmCustompmsDelete(
  deps: Pick<SyncDeps, 'custompms' | 'now' | 'logger'>,
  flow: FlowDefinition,
  id: string,
  error: CustompmsNotFoundError,
): Promise<void> {
  const problem = error.problem;
  if (
    problem &&
    typeof problem.type === 'string' &&
    problem.type.endsWith('not-found') &&
    typeof problem.detail === 'string' &&
    problem.detail.includes(id)
  ) {
    return;
  }
  const since = new Date(deps.now().getTime() - TOMBSTONE_LOOKBACK_MS);
  for await (const tombstone of deps.custompms().listDeleted({ since })) {
    if (tombstone.id === id && tombstone.type === flow.custompmsType) return;
  }
  deps.logger.warn({ flow: flow.name, id, status: error.status }, 'a 404 that does not confirm a delete');
  throw new DeleteUnconfirmedError(
    `Custompms answered 404 for ${flow.custompmsType} ${id} without confirming a delete ` +
      '(no problem+json not-found for the record, no tombstone): not applied',
  );
}

/**
 * Whether the configured org has this Task deleted (in its recycle bin or purged). A Task the
 * org still has live, or never had, is not deleted there: the report came from elsewhere.
 */
export async function salesforceDeleteConfirmed(deps: SyncDeps, taskId: string): Promise<boolean> {
  const salesforce = await deps.salesforce();
  const rows = await salesforce.operations.queryAll<{ Id: string; IsDeleted: boolean }>(
    `SELECT Id, IsDeleted FROM Task WHERE Id = ${soqlString(taskId)}`,
    { includeDeleted: true },
  );
  const [row] = rows;
  return row ? row.IsDeleted === true : false;
}

/**
 * The mass-delete brake: counts this delete, or refuses it (throws `MassDeleteBrakeError`) when
 * the brake is on: an open MASS_DELETE_PAUSED problem, or the window already holds the limit.
 */
export async function countDelete(
  deps: Pick<SyncDeps, 'pool' | 'settings' | 'logger'>,
  side: 'custompms' | 'salesforce',
  flow: FlowDefinition,
  recordId: string,
): Promise<void> {
  const { massDeleteLimit, massDeleteWindowMs } = deps.settings;
  const refused = await withTransaction(deps.pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('mass-delete-brake'))`);
    const brake = await client.query<{ open: boolean; released: Date | null }>(
      `SELECT bool_or(resolved_at IS NULL) AS open, max(resolved_at) AS released
       FROM sync_problems WHERE code = 'MASS_DELETE_PAUSED'`,
    );
    if (brake.rows[0]?.open) return true;
    const counted = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM applied_deletes
       WHERE applied_at > now() - make_interval(secs => $1::double precision / 1000)
         AND ($2::timestamptz IS NULL OR applied_at > $2)`,
      [massDeleteWindowMs, brake.rows[0]?.released ?? null],
    );
    if (Number(counted.rows[0]?.n ?? 0) >= massDeleteLimit) {
      await recordProblemOnce(client, {
        kind: 'error',
        code: 'MASS_DELETE_PAUSED',
        message:
          `more than ${massDeleteLimit} deletes within ${Math.round(massDeleteWindowMs / 60_000)} minutes: ` +
          'deletes are paused until this problem is resolved (the paused deletes are dead letters to replay)',
      });
      return true;
    }
    await client.query('INSERT INTO applied_deletes (side, flow, record_id) VALUES ($1, $2, $3)', [
      side,
      flow.name,
      recordId,
    ]);
    return false;
  });
  if (refused) {
    deps.logger.warn({ side, flow: flow.name, recordId }, 'delete paused by the mass-delete brake');
    throw new MassDeleteBrakeError(`delete of ${flow.name} ${recordId} paused by the mass-delete brake`);
  }
}
