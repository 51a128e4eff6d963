-- Backfill runs (`npm run backfill`). One row per flow and attempt; a run still `running` after a
-- crash is resumed: paging restarts at `cursor` (the Custompms `next_cursor` after the last page
-- whose decisions were stored), and the Bulk jobs it submitted are fetched again, not resubmitted.
CREATE TABLE backfill_runs (
  id           bigserial PRIMARY KEY,
  flow         text NOT NULL CHECK (flow IN ('customers', 'projects', 'tasks')),
  status       text NOT NULL CHECK (status IN ('running', 'completed')),
  cursor       text,
  -- Every Custompms page was read (only pending writes may be left).
  listed       boolean NOT NULL DEFAULT false,
  pages        integer NOT NULL DEFAULT 0,
  counters     jsonb NOT NULL DEFAULT '{}',
  started_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
-- At most one unfinished run per flow: that is the one a new invocation resumes.
CREATE UNIQUE INDEX backfill_runs_running ON backfill_runs (flow) WHERE status = 'running';

-- Salesforce writes a run decided but has not seen the result of yet (the plan to fold the
-- result into, and the fields to write). Removed in the transaction that records the result.
CREATE TABLE backfill_items (
  run_id        bigint NOT NULL REFERENCES backfill_runs (id) ON DELETE CASCADE,
  custompms_id  text NOT NULL,
  action        text NOT NULL CHECK (action IN ('create', 'update')),
  record        jsonb NOT NULL,
  plan          jsonb NOT NULL,
  -- Set once the record is part of a Bulk API 2.0 job (then it is never written a second time).
  bulk_job_id   text,
  PRIMARY KEY (run_id, custompms_id)
);
CREATE INDEX backfill_items_job ON backfill_items (run_id, bulk_job_id, custompms_id);

-- Bulk API 2.0 ingest jobs of a run, from creation until their results are recorded.
CREATE TABLE backfill_bulk_jobs (
  id           text PRIMARY KEY,
  run_id       bigint NOT NULL REFERENCES backfill_runs (id) ON DELETE CASCADE,
  state        text NOT NULL CHECK (state IN ('created', 'submitted', 'recorded', 'abandoned')),
  records      integer NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backfill_bulk_jobs_open ON backfill_bulk_jobs (run_id) WHERE state IN ('created', 'submitted');
