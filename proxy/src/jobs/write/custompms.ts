/**
 * Custompms writes of a plan, shared by the incremental sync (jobs/apply.ts) and the backfill:
 * a create carries the Salesforce Id as its idempotency key, an update is conditional
 * (`If-Match` on the version the planner knew), a delete of a record already gone is done.
 * The caller folds the answer into the link with `applyWriteResult` (`conditional: true`).
 */
import type { FlowDefinition, Link, RawRecord, Write } from '../../sync';
import { CustompmsNotFoundError } from '../../custompms/errors';
import type { SyncDeps } from '../deps';

export interface CustompmsWriteResult {
  id?: string;
  version?: number;
  record?: RawRecord;
}

export async function writeCustompms(
  deps: Pick<SyncDeps, 'custompms'>,
  flow: FlowDefinition,
  write: Write,
  link: Link,
): Promise<CustompmsWriteResult> {
  const client = deps.custompms();
  const collection = flow.custompmsCollection;
  if (write.action === 'create') {
    // The Salesforce Id makes the create safe to repeat after a crash or a redelivery.
    const created = await client.create(collection, write.fields as never, {
      idempotencyKey: `sf:${link.salesforceId ?? ''}`,
    });
    const record = created as unknown as RawRecord & { id: string; version: number };
    return { id: record.id, version: record.version, record };
  }
  if (write.action === 'update') {
    const updated = await client.update(collection, write.id!, write.fields, {
      ifMatch: Number(write.expectedVersion ?? link.custompms.version ?? 0),
    });
    const record = updated as unknown as RawRecord & { version: number };
    return { version: record.version, record };
  }
  try {
    await client.delete(collection, write.id!);
  } catch (error) {
    if (!(error instanceof CustompmsNotFoundError)) throw error;
  }
  return {};
}
