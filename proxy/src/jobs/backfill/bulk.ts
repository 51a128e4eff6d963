/**
 * The Bulk API 2.0 lifecycle of a stored run: one ingest job per action for every unassigned
 * pending item (created and recorded before anything is uploaded, so a crash leads back to it),
 * the CSV upload, closing, waiting, and recording its three result sets chunk by chunk. A job a
 * crashed run left behind is resumed: read back if submitted, aborted and redone if still open.
 */
import { parseBulkError, type IngestJobInfo } from '../../salesforce/bulk2';
import { SalesforceApiError } from '../../salesforce/errors';
import {
  assignBulkJob,
  backfillItemsByIds,
  bulkJobColumns,
  listBackfillItems,
  releaseBulkJob,
  saveBackfillProgress,
  setBulkJobState,
  type BackfillItem,
} from '../../store/backfill';
import { withTransaction } from '../../store/transaction';
import type { BatchResult } from '../write/salesforce';
import { csvOf } from './csv';
import { recordChunk, recordResults, type Ledger } from './ledger';
import { progress, type FlowRun } from './state';

/** Rows recorded per transaction when reading Bulk results. */
const RESULT_CHUNK = 2_000;

/**
 * Polling a submitted job: soon at first (a job of 10,000 simple records is often done in
 * seconds), then every second at most. Each poll is one API call; a longer interval costs the run
 * up to that long after the job is done (with 5 s, up to 5 s a job, its whole tail at the end).
 */
const POLL = { intervalMs: 250, maxIntervalMs: 1_000 };

/**
 * Creates a job and hands it, in one transaction that also records it, every unassigned item of
 * the action (before anything is uploaded, so a crash leads back to it). Returns the job and how
 * many items it got.
 */
export async function createBulkJob(
  state: FlowRun,
  ledger: Ledger,
  action: BackfillItem['action'],
): Promise<{ jobId: string; records: number }> {
  const { deps } = state;
  const { bulk, run: stored } = ledger;
  const job = await bulk.createJob(
    action === 'create'
      ? { object: 'Task', operation: 'upsert', externalIdFieldName: 'Custompms_Id__c' }
      : { object: 'Task', operation: 'update' },
  );
  state.bulkJobs.push(job.id);
  // Beside the page transactions, never between one's statements (the run row they store).
  const records = await ledger.exclusive(
    () => withTransaction(deps.pool, (client) => assignBulkJob(client, stored.id, job.id, action)),
    { first: true },
  );
  deps.logger.info({ flow: state.flow.name, jobId: job.id, records, action }, 'Bulk API job created');
  return { jobId: job.id, records };
}

/**
 * Uploads the CSV of the items a created job holds and closes it; once it is stored as
 * submitted, a crash leads to its results, never to a second job.
 */
export async function uploadBulkJob(
  state: FlowRun,
  ledger: Ledger,
  jobId: string,
  action: BackfillItem['action'],
): Promise<void> {
  const { deps } = state;
  const { bulk, run: stored } = ledger;
  const columns = await bulkJobColumns(deps.pool, stored.id, jobId);
  if (action === 'create') {
    const index = columns.indexOf('Id');
    if (index >= 0) columns.splice(index, 1);
  }
  await bulk.upload(jobId, () => csvOf(deps.pool, stored.id, jobId, columns));
  deps.logger.debug({ jobId }, 'Bulk API job data uploaded');
  await bulk.close(jobId);
  await setBulkJobState(deps.pool, jobId, 'submitted');
  await state.options.afterBulkSubmit?.(jobId);
}

/**
 * Waits for a submitted job and records its three result sets, chunk by chunk. `onProcessed`
 * is called once the org has finished the job (before its results are read).
 */
export async function recordBulkJob(
  state: FlowRun,
  ledger: Ledger,
  jobId: string,
  onProcessed?: () => void,
): Promise<void> {
  const { deps } = state;
  const { bulk, run: stored } = ledger;
  progress(state, 'writing');
  const info = await bulk.waitForCompletion(jobId, { ...POLL, ...state.options.bulkPoll });
  onProcessed?.();
  deps.logger.debug({ jobId, info }, 'Bulk API job finished');
  const origin = `Bulk API job ${jobId}`;
  const record = async (
    rows: Record<string, string>[],
    result: (row: Record<string, string>) => BatchResult,
  ) => {
    const found = await backfillItemsByIds(
      deps.pool,
      stored.id,
      rows.map((row) => row.Custompms_Id__c ?? ''),
    );
    const items = [...found.values()].filter((item) => item.bulkJobId === jobId);
    if (items.length === 0) return;
    const results = new Map(
      rows.map((row) => [row.Custompms_Id__c ?? '', result(row)] as const).filter(([id]) => found.has(id)),
    );
    await recordChunk(state, ledger, items, results, origin);
  };
  const success = (row: Record<string, string>): BatchResult => ({
    kind: 'task',
    key: row.Custompms_Id__c ?? '',
    success: true,
    salesforceId: row.sf__Id || null,
    created: row.sf__Created === 'true',
  });
  const failure = (row: Record<string, string>): BatchResult => ({
    kind: 'task',
    key: row.Custompms_Id__c ?? '',
    success: false,
    errors: parseBulkError(row.sf__Error ?? 'UNKNOWN_ERROR:no error reported'),
  });
  const unprocessed = (row: Record<string, string>): BatchResult => ({
    kind: 'task',
    key: row.Custompms_Id__c ?? '',
    success: false,
    errors: [{ statusCode: 'NOT_PROCESSED', message: jobFailure(info) }],
  });
  for (const [kind, toResult] of [
    ['successfulResults', success],
    ['failedResults', failure],
    ['unprocessedrecords', unprocessed],
  ] as const) {
    let rows: Record<string, string>[] = [];
    for await (const row of bulk.results(jobId, kind)) {
      rows.push(row);
      if (rows.length >= RESULT_CHUNK) {
        await record(rows, toResult);
        rows = [];
      }
    }
    if (rows.length > 0) await record(rows, toResult);
    deps.logger.debug({ jobId, kind }, 'Bulk API results recorded');
  }
  // Items the job reported nothing for: failed with the job's reason (never silently dropped).
  for (;;) {
    const left = await listBackfillItems(deps.pool, stored.id, { bulkJobId: jobId, limit: RESULT_CHUNK });
    if (left.length === 0) break;
    await ledger.exclusive(() =>
      withTransaction(deps.pool, async (client) => {
        await recordResults(
          state,
          ledger,
          client,
          left,
          new Map(
            left.map((item) => [
              item.custompmsId,
              {
                kind: 'task',
                key: item.custompmsId,
                success: false,
                errors: [{ statusCode: 'BULK_NO_RESULT', message: jobFailure(info) }],
              },
            ]),
          ),
          origin,
          () => Promise.reject(new Error('unreachable: no success here')),
        );
        await saveBackfillProgress(client, { ...stored, counters: state.counters });
      }),
    );
  }
  await setBulkJobState(deps.pool, jobId, 'recorded');
  deps.logger.info(
    {
      flow: state.flow.name,
      jobId,
      state: info.state,
      processed: info.numberRecordsProcessed,
      failed: info.numberRecordsFailed,
    },
    'Bulk API job recorded',
  );
}

function jobFailure(info: IngestJobInfo): string {
  return info.state === 'JobComplete'
    ? `Bulk API job ${info.id} reported no result for this record`
    : `Bulk API job ${info.id} ended ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ''}`;
}

/**
 * A job a crashed run had created: still Open (the upload may be partial) → aborted and its items
 * written again in a new job; submitted → its results are fetched; gone → items written again.
 */
export async function resumeBulkJob(state: FlowRun, ledger: Ledger, jobId: string): Promise<void> {
  const { deps } = state;
  const { bulk, run: stored } = ledger;
  let info: IngestJobInfo;
  try {
    info = await bulk.info(jobId);
  } catch (error) {
    if (error instanceof SalesforceApiError && error.errorCode === 'NOT_FOUND') {
      await releaseBulkJob(deps.pool, stored.id, jobId);
      return;
    }
    throw error;
  }
  state.bulkJobs.push(jobId);
  if (info.state === 'Open') {
    await bulk.abort(jobId);
    await releaseBulkJob(deps.pool, stored.id, jobId);
    deps.logger.info({ jobId }, 'Bulk API job left open by a crash aborted; its records go into a new job');
    return;
  }
  if (info.state === 'Aborted') {
    await releaseBulkJob(deps.pool, stored.id, jobId);
    return;
  }
  await setBulkJobState(deps.pool, jobId, 'submitted');
  deps.logger.info(
    { jobId, state: info.state },
    'fetching the results of a Bulk API job submitted before a crash',
  );
  await recordBulkJob(state, ledger, jobId);
}
