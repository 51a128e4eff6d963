-- Whether Custompms webhooks are still arriving (#18): a burst's flush holds a partial batch for the
-- next one while they are. "One waits unprocessed" alone flickered off whenever the worker had
-- caught up with the intake between two deliveries (a web and a worker process: one extra partial
-- batch, and one extra API call, per burst); one received in the last moment counts too. This
-- index answers "the latest webhook" without reading the inbox's other messages.
CREATE INDEX inbox_messages_webhook_received ON inbox_messages (received_at)
  WHERE source = 'custompms.webhook';
