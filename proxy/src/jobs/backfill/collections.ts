/**
 * Stored-run writes through sObject Collections (200 per call): the Divisions of a customers
 * page, written at once, and the pending Task items of a run too small for Bulk API 2.0.
 */
import type { SyncContext } from '../../sync';
import { listBackfillItems, saveBackfillProgress, type BackfillItem } from '../../store/backfill';
import { linksByCustompmsIds } from '../../store/links';
import { saveLinks } from '../../store/links-bulk';
import { withTransaction } from '../../store/transaction';
import { writeCollections, outboxKind, type BatchResult } from '../write/salesforce';
import { pendingItem, type Decision, type WriteDecision } from './decide';
import { advance, ledgerRecorder, recordChunk, recordResults, releaseLinked, type Ledger } from './ledger';
import { settleDecisions } from './settle';
import type { FlowRun } from './state';

const ORIGIN = 'sObject Collections';

/** Writes items through sObject Collections (200 per call); results keyed by Custompms id. */
async function writeItems(state: FlowRun, items: readonly BackfillItem[]): Promise<Map<string, BatchResult>> {
  const object = state.flow.salesforceObject;
  const kind = outboxKind(state.flow);
  const toWrite = (action: BackfillItem['action']) =>
    items
      .filter((item) => item.action === action)
      .map((item) => ({ kind, custompmsId: item.custompmsId, record: item.record }));
  const results = await writeCollections(state.salesforce.operations, [
    { object, operation: object === 'Division' ? 'create' : 'upsert', items: toWrite('create') },
    { object, operation: 'update', items: toWrite('update') },
  ]);
  return new Map(results.map((result) => [result.key, result]));
}

/**
 * Customers: Divisions are written at once, page by page, through Collections (Division is a
 * setup object: Bulk API support for it is not documented — SALESFORCE.md "Division" lists the
 * calls only — and an org has few of them). The cursor advances only after the results are
 * recorded, so a crash in between re-reads the page, and the name match pairs a Division created
 * just before the crash instead of creating it twice.
 */
export async function finishDivisionPage(
  state: FlowRun,
  ledger: Ledger,
  context: SyncContext,
  decisions: Decision[],
  nextCursor: string | null,
): Promise<void> {
  const writes = decisions.filter(
    (decision): decision is WriteDecision => decision.kind === 'write' && !!decision.salesforce,
  );
  // Linked meanwhile by the incremental sync (a webhook): leave it to that link.
  const linkedNow = new Set(
    (
      await linksByCustompmsIds(
        state.deps.pool,
        state.flow.name,
        writes.filter((decision) => decision.salesforce!.action === 'create').map((decision) => decision.id),
      )
    ).map((link) => link.custompmsId),
  );
  const toWrite = writes.filter((decision) => !linkedNow.has(decision.id));
  const items = toWrite.map((decision) => ({ ...pendingItem(state.flow, decision), bulkJobId: null }));
  const results = await writeItems(state, items);
  const { run } = ledger;
  await withTransaction(state.deps.pool, async (client) => {
    const rest = decisions.map((decision): Decision =>
      decision.kind === 'write' && linkedNow.has(decision.id)
        ? { kind: 'skipped', id: decision.id, reason: 'linked by the incremental sync meanwhile' }
        : decision,
    );
    await settleDecisions(state, ledgerRecorder(state, ledger, client), rest);
    const pairedOnly = rest.filter(
      (decision): decision is WriteDecision => decision.kind === 'write' && !decision.salesforce,
    );
    await saveLinks(
      client,
      pairedOnly.map((decision) => ({ link: decision.plan.link })),
    );
    for (const decision of pairedOnly) {
      if (decision.pairs) state.counters.linked++;
      else state.counters.updated++;
    }
    await recordResults(state, ledger, client, items, results, ORIGIN, () => Promise.resolve(context), {
      locked: true,
    });
    advance(run, nextCursor);
    await saveBackfillProgress(client, { ...run, counters: state.counters });
  });
  await releaseLinked(state, items, results);
}

/** Writes the run's unassigned items of one action through Collections, 200 at a time. */
export async function flushCollections(
  state: FlowRun,
  ledger: Ledger,
  action: BackfillItem['action'],
): Promise<void> {
  const { deps } = state;
  const { run } = ledger;
  for (;;) {
    // Recorded items are removed, so the next chunk always starts at the front.
    const items = await listBackfillItems(deps.pool, run.id, { bulkJobId: null, action, limit: 200 });
    if (items.length === 0) return;
    const results = await writeItems(state, items);
    await recordChunk(state, ledger, items, results, ORIGIN);
  }
}
