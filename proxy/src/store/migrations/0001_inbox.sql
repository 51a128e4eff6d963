-- The durable inbox: every change that reaches the proxy (outbound message, webhook, Apex
-- callout, poll) is stored here before it is acknowledged, de-duplicated on (source, dedupe_key).
CREATE TABLE inbox_messages (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  dedupe_key    text NOT NULL,
  payload       jsonb NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  CONSTRAINT inbox_messages_source_dedupe UNIQUE (source, dedupe_key)
);

CREATE INDEX inbox_messages_unprocessed ON inbox_messages (received_at) WHERE processed_at IS NULL;
