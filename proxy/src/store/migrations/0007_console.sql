-- The operator console and /metrics (#17).

-- Counters by minute, for the console's charts: changes in and out, failures, sync-lag
-- histogram buckets, poll runs. `labels` is the canonical `name=value,…` string of the series'
-- labels. Rows older than two days are deleted as new ones are written (bounded retention).
CREATE TABLE metric_minutes (
  minute  timestamptz NOT NULL,
  series  text NOT NULL,
  labels  text NOT NULL DEFAULT '',
  value   double precision NOT NULL,
  PRIMARY KEY (series, labels, minute)
);
CREATE INDEX metric_minutes_minute ON metric_minutes (minute);

-- The same counters since the database was created, for GET /metrics: every process (web and
-- worker dynos) adds to one total, so whichever dyno Prometheus reaches answers for all.
CREATE TABLE metric_totals (
  series  text NOT NULL,
  labels  text NOT NULL DEFAULT '',
  value   double precision NOT NULL,
  PRIMARY KEY (series, labels)
);

-- Each poller's last run and last failure, for the overview.
CREATE TABLE poller_health (
  poller           text PRIMARY KEY,
  last_run_at      timestamptz,
  last_success_at  timestamptz,
  last_error       text,
  last_error_at    timestamptz
);

-- Every sync of a linked record, newest last: which way, what happened, which fields moved.
CREATE TABLE link_history (
  id            bigserial PRIMARY KEY,
  flow          text NOT NULL,
  custompms_id  text,
  salesforce_id text,
  direction     text NOT NULL CHECK (direction IN ('to_salesforce', 'to_custompms', 'link', 'unlink', 'resync')),
  outcome       text NOT NULL,
  fields        jsonb,
  detail        text,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_history_custompms ON link_history (flow, custompms_id, id);
CREATE INDEX link_history_salesforce ON link_history (salesforce_id, id);
CREATE INDEX link_history_at ON link_history (at);

-- Signed-in console users (Sign in with Salesforce). Only a hash of the cookie's session id is
-- stored, so a database dump cannot be replayed as a cookie.
CREATE TABLE console_sessions (
  id_hash       text PRIMARY KEY,
  user_id       text NOT NULL,
  username      text NOT NULL,
  display_name  text NOT NULL,
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- "Apply the other value" of a conflict (an audited console / admin API action).
ALTER TABLE conflicts ADD COLUMN other_applied_at timestamptz, ADD COLUMN other_applied_by text;

-- The mapping in force (shipped, environment policies, the org's Setup records) as the jobs last
-- applied it, for the console's settings page (the web process does not read the org itself).
CREATE TABLE effective_mapping (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  definition  jsonb NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
