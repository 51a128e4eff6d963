/**
 * What the jobs report for the console and /metrics: a write finished (counters, sync lag, the
 * record's history), a poller ran (counters and its health row), a change arrived. Counters only
 * touch the in-memory tally (metrics.ts); history and poller health are one small insert each.
 */
import { metrics, type WriteOutcome } from '../metrics';
import { recordHistory } from '../store/link-history';
import { recordPollerRun } from '../store/metric-rollup';
import type { Queryable } from '../store/transaction';
import type { Link } from '../sync';
import type { SyncDeps } from './deps';

/** Seconds from when the synced version was made (on the side read) to now. */
function lagSeconds(modifiedAt: string | null | undefined, now: Date): number | undefined {
  if (!modifiedAt) return undefined;
  const made = Date.parse(modifiedAt);
  return Number.isNaN(made) ? undefined : (now.getTime() - made) / 1000;
}

export interface ObservedWrite {
  /** The side written to. */
  side: 'salesforce' | 'custompms';
  flow: string;
  outcome: WriteOutcome;
  custompmsId: string | null;
  salesforceId: string | null;
  /** The link after the write (success): its other side's modifiedAt gives the lag. */
  link?: Link;
  fields?: readonly string[];
  code?: string;
  detail?: string;
}

export async function observeWrite(
  deps: Pick<SyncDeps, 'now'>,
  db: Queryable,
  write: ObservedWrite,
): Promise<void> {
  await observeWrites(deps, db, [write]);
}

/** Many writes at once (the backfill's chunks): counted, and their history in one insert. */
export async function observeWrites(
  deps: Pick<SyncDeps, 'now'>,
  db: Queryable,
  writes: readonly ObservedWrite[],
): Promise<void> {
  if (writes.length === 0) return;
  const now = deps.now();
  for (const write of writes) {
    metrics.write(write.side, write.flow, write.outcome);
    if (write.outcome !== 'ok') metrics.failure(write.code ?? 'WRITE_FAILED', write.flow);
    if (write.outcome === 'ok' && write.link) {
      const source = write.side === 'salesforce' ? write.link.custompms : write.link.salesforce;
      const lag = lagSeconds(source.modifiedAt, now);
      if (lag !== undefined) metrics.syncLag(write.flow, lag);
    }
  }
  await recordHistory(
    db,
    writes.map((write) => ({
      flow: write.flow,
      custompmsId: write.custompmsId,
      salesforceId: write.salesforceId,
      direction: write.side === 'salesforce' ? 'to_salesforce' : 'to_custompms',
      outcome: write.outcome,
      ...(write.fields ? { fields: write.fields } : {}),
      ...(write.detail || write.code ? { detail: write.detail ?? write.code } : {}),
    })),
  );
}

/** Runs a poller, counting the run (and its failure) and recording its health. */
export async function observePoll<T>(
  deps: Pick<SyncDeps, 'pool' | 'logger'>,
  poller: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    const result = await run();
    metrics.pollRun(poller, false);
    await recordPollerRun(deps.pool, poller).catch((error: unknown) =>
      deps.logger.warn({ err: error, poller }, 'could not record the poller run'),
    );
    return result;
  } catch (error) {
    metrics.pollRun(poller, true);
    metrics.failure((error as { code?: string }).code ?? 'POLL_FAILED');
    await recordPollerRun(deps.pool, poller, (error as Error).message ?? String(error)).catch(
      () => undefined,
    );
    throw error;
  }
}
