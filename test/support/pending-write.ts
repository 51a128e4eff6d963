/**
 * A valid stored pending write (store/pending-write.ts) for tests that put outbox rows by hand:
 * the store validates it when the row is read back.
 */
import type { PendingWrite } from '../../proxy/src/store/pending-write';
import type { FlowName } from '../../proxy/src/sync';

export function pendingWrite(
  flow: FlowName,
  custompmsId: string,
  fields: PendingWrite['write']['fields'] = {},
): PendingWrite {
  const side = { version: null, modifiedAt: null, deleted: false };
  return {
    link: {
      flow,
      custompmsId,
      salesforceId: null,
      status: 'active',
      snapshot: { custompms: {}, salesforce: {} },
      custompms: side,
      salesforce: side,
    },
    write: { side: 'salesforce', action: 'create', id: null, fields, expectedVersion: null },
    source: 'custompms',
  };
}
