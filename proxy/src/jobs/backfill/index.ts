/**
 * The backfill (`npm run backfill`): pairs the records both systems already hold, then loads the
 * rest into Salesforce. Custompms is read page by page; each page is decided with the same planner
 * as the incremental sync (an existing Salesforce record is the plan's counterpart, so the planner
 * decides link or update), and what must be written goes out in chunks: sObject Collections
 * (200 per call) for small sets, Bulk API 2.0 ingest when a flow has `bulkThreshold` or more
 * writes pending. Results are recorded exactly like the batch path's (write/record-result.ts).
 *
 * Memory holds one page and one chunk of results at a time; everything else (the paging cursor,
 * pending writes, submitted Bulk jobs, counters) is in PostgreSQL (migration 0004), so a crashed
 * run resumes where it stopped and fetches the results of a Bulk job it already submitted instead
 * of submitting it again. A second run finds everything linked and writes nothing.
 *
 * Safe beside a running worker: Tasks are upserted on `Custompms_Id__c` (the unique external id),
 * links are saved through the link store's unique ids, and records with a write in flight in the
 * outbox are left to the incremental sync.
 *
 * One file per step: run.ts (flows and pages), match.ts (Salesforce counterparts), decide.ts
 * (the planner's verdict), settle.ts (counting what needs no write), sink.ts (where decisions
 * go; the dry run), stored-run.ts and ledger.ts (the stored run), collections.ts, bulk.ts and
 * csv.ts (the write-outs), report.ts (the CLI's summary), types.ts (options and report shapes).
 */
export { BACKFILL_ORDER, runBackfill } from './run';
export { formatBackfillReport, formatProgressLine } from './report';
export {
  BackfillLockedError,
  type BackfillExample,
  type BackfillOptions,
  type BackfillProgress,
  type BackfillReport,
  type FailureReason,
  type FlowReport,
} from './types';
