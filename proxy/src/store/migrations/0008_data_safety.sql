-- Data safety (#14): transient per-record failures are retried with backoff, worker processes
-- beat so a dead one's jobs are released within a minute, a failing poller is a health state.

-- A Salesforce write refused for a transient reason (UNABLE_TO_LOCK_ROW, …) goes back to the
-- outbox: `attempts` so far, not sent again before `not_before`.
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN not_before timestamptz;

-- One row per running worker process (graphile-worker's worker ids), beating every few seconds.
-- A worker whose beat is older than the stale limit is dead: its locked jobs are unlocked.
CREATE TABLE worker_heartbeats (
  worker_id   text PRIMARY KEY,
  host        text,
  pid         integer,
  beat_at     timestamptz NOT NULL DEFAULT now()
);

-- Consecutive failed runs of a poller (0 after a success), beside its last error (0007).
ALTER TABLE poller_health ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;
