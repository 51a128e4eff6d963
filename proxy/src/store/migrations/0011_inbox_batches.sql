-- Inbox messages are processed in batches (#18): one job per statement's rows (up to 100 ids
-- each), as a graphile-worker "batch job" whose items succeed or are retried one by one; an
-- outbound message's 100 notifications are one job, not 100.
-- No named queue per record any more: the sync's advisory lock per record already orders the
-- work on one record, and a queue per record is graphile-worker's slowest path. No job key:
-- rows inserted concurrently must not wait on one shared job row.
DROP TRIGGER inbox_messages_enqueue ON inbox_messages;

CREATE OR REPLACE FUNCTION inbox_messages_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_run record;
BEGIN
  FOR v_run IN SELECT json_agg(id ORDER BY id) AS ids FROM inserted GROUP BY id / 100 LOOP
    PERFORM graphile_worker.add_job('process_inbox_messages', v_run.ids, max_attempts := 10);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER inbox_messages_enqueue
  AFTER INSERT ON inbox_messages
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION inbox_messages_enqueue();
