-- Webhooks synced in sets (#18): a job that meets an unprocessed webhook also takes the other
-- webhooks waiting in the inbox (up to a hundred) and syncs them together (one batch read, one
-- plan pass). A message taken is claimed by the process (`claimed_by`, a worker_heartbeats id)
-- and the run (`claim_id`); its own job finds it claimed and leaves it to that run. A claim whose
-- process stopped beating, or older than ten minutes, is taken over (the minute sweep enqueues
-- such messages again), so a crash loses nothing.
ALTER TABLE inbox_messages ADD COLUMN claimed_by text;
ALTER TABLE inbox_messages ADD COLUMN claim_id text;
ALTER TABLE inbox_messages ADD COLUMN claimed_at timestamptz;

CREATE INDEX inbox_messages_unprocessed_webhooks ON inbox_messages (id)
  WHERE processed_at IS NULL AND source = 'custompms.webhook';

-- A batch's results jump the queue (priority -1; graphile-worker runs lower first): a burst's
-- webhooks must not hold back the results that link the records the burst's later changes wait for.
CREATE OR REPLACE FUNCTION inbox_messages_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_run record;
BEGIN
  FOR v_run IN
    SELECT json_agg(id ORDER BY id) AS ids, bool_or(source = 'salesforce.results') AS results
      FROM inserted GROUP BY id / 100
  LOOP
    PERFORM graphile_worker.add_job('process_inbox_messages', v_run.ids, max_attempts := 10,
      priority := CASE WHEN v_run.results THEN -1 ELSE 0 END);
  END LOOP;
  RETURN NULL;
END
$$;
