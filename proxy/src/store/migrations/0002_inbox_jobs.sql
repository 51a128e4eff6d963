-- Every stored inbox message enqueues its processing job in the same transaction, so a message
-- is never stored without work scheduled for it (and never scheduled without being stored).
-- record_key names the record a message is about; jobs with the same key run one at a time.
ALTER TABLE inbox_messages ADD COLUMN record_key text;

CREATE FUNCTION inbox_messages_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := NEW.record_key;
BEGIN
  IF v_key IS NULL AND NEW.source = 'custompms.webhook' THEN
    v_key := split_part(NEW.payload->>'type', '.', 1) || ':' || (NEW.payload->'data'->>'id');
  END IF;
  PERFORM graphile_worker.add_job(
    'process_inbox_message',
    json_build_object('id', NEW.id),
    queue_name := CASE WHEN v_key IS NULL THEN NULL ELSE 'record:' || left(v_key, 100) END,
    max_attempts := 10
  );
  RETURN NEW;
END
$$;

CREATE TRIGGER inbox_messages_enqueue
  AFTER INSERT ON inbox_messages
  FOR EACH ROW EXECUTE FUNCTION inbox_messages_enqueue();
