/**
 * Recording one Salesforce write's result, shared by the batch path (jobs/batches.ts) and the
 * backfill, so both record alike: success folds the result into the link and stores it; failure
 * is a problem (and, on a Task, its sync status set to Error).
 */
import { applyWriteResult, withLaterSides, type Link, type SyncContext } from '../../sync';
import type { OutboxItem } from '../../store/batches';
import { findLink, linksByCustompmsIds, saveLink } from '../../store/links';
import { saveLinks, type LinkToSave } from '../../store/links-bulk';
import { recordProblem } from '../../store/problems';
import type { Queryable } from '../../store/transaction';
import type { SyncDeps } from '../deps';
import { observeWrite, observeWrites, type ObservedWrite } from '../observe';
import { ERROR, SYNCED, writeTaskStatus } from '../task-status';
import type { BatchResult } from './salesforce';

/** A Salesforce write whose result is to be recorded: an outbox item, or a backfill item. */
export type WrittenItem = Pick<OutboxItem, 'flow' | 'custompmsId' | 'kind' | 'record' | 'plan'>;

/**
 * Folds one record's write result into its link (success) or a problem (failure, and the Task's
 * sync status set to Error). `origin` names where the result came from in problem messages;
 * `problemTag` marks the problems (the backfill groups its failure reasons by it); `save` stores
 * the link (default: `saveLink` on `db`).
 */
export async function recordWriteResult(
  deps: SyncDeps,
  db: Queryable,
  item: WrittenItem,
  result: BatchResult | undefined,
  options: {
    origin: string;
    context: () => Promise<SyncContext>;
    problemTag?: { task: string; payload: unknown };
    save?: (link: Link, salesforceStatus: string | undefined) => Promise<void>;
  },
): Promise<{ link: Link } | { failure: { code: string; message: string } }> {
  const { link, write } = item.plan;
  const flow = deps.definition[item.flow];
  const tag = options.problemTag ?? {};
  if (!result) {
    const failure = {
      code: 'missing_result',
      message: `the org reported no result for this record in ${options.origin}`,
    };
    await recordProblem(db, {
      flow: item.flow,
      custompmsId: item.custompmsId,
      kind: 'error',
      ...failure,
      ...tag,
    });
    return { failure };
  }
  if (!result.success) {
    const message = (result.errors ?? []).map((error) => `${error.statusCode}: ${error.message}`).join('; ');
    const failure = {
      code: result.errors?.[0]?.statusCode ?? 'WRITE_FAILED',
      message: message || 'Salesforce refused the write',
    };
    await recordProblem(db, {
      flow: item.flow,
      custompmsId: item.custompmsId,
      salesforceId: link.salesforceId,
      kind: 'error',
      ...failure,
      ...tag,
    });
    if (item.kind === 'task' && link.salesforceId)
      await writeTaskStatus(deps, link.salesforceId, ERROR, message);
    await observeWrite(deps, db, {
      side: 'salesforce',
      flow: item.flow,
      outcome: 'refused',
      custompmsId: item.custompmsId,
      salesforceId: link.salesforceId,
      code: failure.code,
      detail: message,
    });
    return { failure };
  }
  const context = await options.context();
  const folded = applyWriteResult(flow, context, link, write, {
    ...(result.salesforceId ? { id: result.salesforceId } : {}),
    ...(result.systemModstamp ? { version: result.systemModstamp } : {}),
  });
  const status = item.kind === 'task' ? SYNCED : undefined;
  // The link may have moved on while the result was on its way: each side keeps its later state.
  const stored = await findLink(db, {
    flow: item.flow,
    custompmsId: folded.link.custompmsId,
    salesforceId: folded.link.salesforceId,
  });
  const recorded = withLaterSides(stored?.link, folded.link);
  if (options.save) await options.save(recorded, status);
  else await saveLink(db, recorded, status);
  await observeWrite(deps, db, {
    side: 'salesforce',
    flow: item.flow,
    outcome: 'ok',
    custompmsId: recorded.custompmsId,
    salesforceId: recorded.salesforceId,
    link: recorded,
    fields: write.fields ? Object.keys(write.fields) : undefined,
  });
  return { link: recorded };
}

/**
 * `recordWriteResult` for many items at once (the backfill's chunks of Bulk and Collections
 * results), with the same outcome for each: successes are folded in memory and stored in sets
 * (one statement for the links, one for their history); failures, which are rare and each write
 * a problem and a Task status, go one by one through `recordWriteResult`. Outcomes in item order.
 */
export async function recordWriteResults(
  deps: SyncDeps,
  db: Queryable,
  written: readonly { item: WrittenItem; result: BatchResult | undefined }[],
  options: {
    origin: string;
    context: () => Promise<SyncContext>;
    problemTag?: { task: string; payload: unknown };
  },
): Promise<({ link: Link } | { failure: { code: string; message: string } })[]> {
  const outcomes: ({ link: Link } | { failure: { code: string; message: string } })[] = [];
  const links: LinkToSave[] = [];
  const observed: ObservedWrite[] = [];
  let context: SyncContext | undefined;
  // The stored links, read once: a link may have moved on while its result was on its way.
  const stored = await storedLinks(
    db,
    written.filter(({ result }) => result?.success).map(({ item }) => item),
  );
  for (const { item, result } of written) {
    if (!result?.success) {
      outcomes.push(await recordWriteResult(deps, db, item, result, options));
      continue;
    }
    context ??= await options.context();
    const { write } = item.plan;
    const folded = applyWriteResult(deps.definition[item.flow], context, item.plan.link, write, {
      ...(result.salesforceId ? { id: result.salesforceId } : {}),
      ...(result.systemModstamp ? { version: result.systemModstamp } : {}),
    });
    const link = withLaterSides(stored.get(`${item.flow}:${item.custompmsId}`), folded.link);
    links.push({ link, salesforceStatus: item.kind === 'task' ? SYNCED : undefined });
    observed.push({
      side: 'salesforce',
      flow: item.flow,
      outcome: 'ok',
      custompmsId: link.custompmsId,
      salesforceId: link.salesforceId,
      link,
      fields: write.fields ? Object.keys(write.fields) : undefined,
    });
    outcomes.push({ link });
  }
  await saveLinks(db, links);
  await observeWrites(deps, db, observed);
  return outcomes;
}

/** The stored links of the items, one query per flow: `flow:custompmsId` → link. */
async function storedLinks(db: Queryable, items: readonly WrittenItem[]): Promise<Map<string, Link>> {
  const found = new Map<string, Link>();
  for (const flow of new Set(items.map((item) => item.flow))) {
    const ids = items.filter((item) => item.flow === flow).map((item) => item.custompmsId);
    for (const link of await linksByCustompmsIds(db, flow, ids))
      if (link.custompmsId) found.set(`${flow}:${link.custompmsId}`, link);
  }
  return found;
}
