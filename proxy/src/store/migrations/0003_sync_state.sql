-- Sync state. A link pairs one Custompms record with one Salesforce record for a flow. `link`
-- holds the sync core's Link as JSON (last-synced snapshot of both sides, each side's last
-- applied version / SystemModstamp); the ids are columns so either side finds it.
CREATE TABLE links (
  id                 bigserial PRIMARY KEY,
  flow               text NOT NULL CHECK (flow IN ('customers', 'projects', 'tasks')),
  custompms_id       text,
  salesforce_id      text,
  link               jsonb NOT NULL,
  -- The last Custompms_Sync_Status__c the proxy wrote on the Salesforce record.
  salesforce_status  text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (custompms_id IS NOT NULL OR salesforce_id IS NOT NULL)
);
CREATE UNIQUE INDEX links_custompms_id ON links (flow, custompms_id) WHERE custompms_id IS NOT NULL;
CREATE UNIQUE INDEX links_salesforce_id ON links (salesforce_id) WHERE salesforce_id IS NOT NULL;

-- Custompms changes planned for Salesforce and waiting to be written (coalesced per record:
-- a newer plan replaces an unsent one). batch_id is set once a batch carries the row.
CREATE TABLE outbox (
  flow               text NOT NULL,
  custompms_id       text NOT NULL,
  kind               text NOT NULL CHECK (kind IN ('division', 'task')),
  record             jsonb NOT NULL,
  plan               jsonb NOT NULL,
  custompms_version  integer NOT NULL,
  batch_id           text,
  -- A newer plan arrived while this row was in flight: sync the record again once the batch
  -- completes (replacing an in-flight Division create would insert it twice).
  resync             boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (flow, custompms_id)
);
CREATE INDEX outbox_unbatched ON outbox (created_at) WHERE batch_id IS NULL;

-- A batch announced to the org by one Custompms_Change__e event; the org's Apex pulls it.
CREATE TABLE change_batches (
  id             text PRIMARY KEY,
  status         text NOT NULL CHECK (status IN ('open', 'published', 'completed', 'superseded')),
  items          jsonb NOT NULL,
  publish_count  integer NOT NULL DEFAULT 0,
  published_at   timestamptz,
  deadline       timestamptz,
  completed_at   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_batches_overdue ON change_batches (deadline) WHERE status = 'published';

-- Every conflict the three-way merge resolved, for the admin view.
CREATE TABLE conflicts (
  id               bigserial PRIMARY KEY,
  flow             text NOT NULL,
  custompms_id     text,
  salesforce_id    text,
  field            text NOT NULL,
  custompms_value  jsonb,
  salesforce_value jsonb,
  winner           text NOT NULL,
  policy           text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Per-record problems an admin should see (mapping problems, refused writes), and work that
-- exhausted its retries (dead letters) with what is needed to replay it.
CREATE TABLE sync_problems (
  id             bigserial PRIMARY KEY,
  flow           text,
  custompms_id   text,
  salesforce_id  text,
  kind           text NOT NULL CHECK (kind IN ('warning', 'error', 'dead_letter')),
  code           text NOT NULL,
  message        text NOT NULL,
  task           text,
  payload        jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  resolved_at    timestamptz
);
CREATE INDEX sync_problems_open ON sync_problems (created_at) WHERE resolved_at IS NULL;

-- Poller positions (Division SystemModstamp, deleted Tasks, Custompms updated_since …).
CREATE TABLE watermarks (
  name        text PRIMARY KEY,
  value       text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Changes planned as "wait for dependency" (a task before its project, a project before its
-- customer's Division). When the awaited record gets linked, the waiting ones are re-planned.
CREATE TABLE waiting_changes (
  flow            text NOT NULL,
  custompms_id    text NOT NULL,
  waits_for_flow  text NOT NULL,
  waits_for_id    text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (flow, custompms_id)
);
CREATE INDEX waiting_changes_awaited ON waiting_changes (waits_for_flow, waits_for_id);
