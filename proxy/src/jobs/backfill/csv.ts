/**
 * The CSV of a Bulk API 2.0 ingest job, streamed chunk by chunk from the run's stored items
 * (csv-stringify per chunk), so memory holds one chunk however large the job.
 */
import { stringify } from 'csv-stringify/sync';
import { listBulkJobRecords } from '../../store/backfill';
import type { Queryable } from '../../store/transaction';

/** Items per CSV chunk. */
const CSV_CHUNK = 2_000;

/** The job's CSV, produced chunk by chunk from the stored items (csv-stringify per chunk). */
export async function* csvOf(
  db: Queryable,
  runId: number,
  jobId: string,
  columns: readonly string[],
): AsyncGenerator<string> {
  yield stringify([columns]);
  let after: string | undefined;
  for (;;) {
    const items = await listBulkJobRecords(db, runId, jobId, {
      limit: CSV_CHUNK,
      ...(after === undefined ? {} : { after }),
    });
    if (items.length === 0) return;
    yield stringify(items.map((item) => columns.map((column) => csvValue(item.record, column))));
    after = items.at(-1)!.custompmsId;
  }
}

/**
 * A CSV cell: a missing field is left alone (empty), `null` clears the field (`#N/A`, Bulk API
 * 2.0 Developer Guide "Prepare CSV Files": "field values ... set to null ... #N/A").
 */
export function csvValue(record: Record<string, unknown>, column: string): string {
  if (!Object.hasOwn(record, column)) return '';
  const value = record[column];
  if (value === null || value === undefined) return '#N/A';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
