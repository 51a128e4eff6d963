/**
 * Custompms → Salesforce. A webhook or a poll says *what* changed; the record is fetched to see
 * *how it is now*, so repeated and reordered notifications all converge on the current state.
 */
import type { Change, RawRecord } from '../sync';
import { CustompmsNotFoundError } from '../custompms/errors';
import { flowOfType, planAndApply } from './apply';
import type { SyncDeps } from './deps';
import { confirmCustompmsDelete } from './delete-safety';

/** A Custompms record as fetched, as a change for the planner. */
export function custompmsChange(
  record: RawRecord & { id: string; version: number; updated_at: string },
): Change {
  return {
    side: 'custompms',
    operation: 'upsert',
    id: record.id,
    version: record.version,
    modifiedAt: record.updated_at,
    record,
  };
}

export async function syncCustompmsRecord(deps: SyncDeps, type: string, id: string): Promise<void> {
  const flow = flowOfType(deps, type);
  if (!flow) {
    deps.logger.warn({ type, id }, 'unknown Custompms record type');
    return;
  }
  let change: Change;
  try {
    const record = await deps.custompms().get(flow.custompmsCollection, id);
    change = custompmsChange(record);
  } catch (error) {
    if (!(error instanceof CustompmsNotFoundError)) throw error;
    // Only Custompms saying so (its problem+json 404 for the record, or a tombstone) is a delete.
    await confirmCustompmsDelete(deps, flow, id, error);
    change = { side: 'custompms', operation: 'delete', id };
  }
  await planAndApply(deps, flow, change);
}
