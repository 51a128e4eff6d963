-- Every delete the sync applied (either side), for the mass-delete brake (#14): more than the
-- configured number within the window pauses deletes and raises a MASS_DELETE_PAUSED problem.
-- Rows older than the retention period are purged.
CREATE TABLE applied_deletes (
  id          bigserial PRIMARY KEY,
  side        text NOT NULL CHECK (side IN ('custompms', 'salesforce')),
  flow        text NOT NULL,
  record_id   text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_deletes_at ON applied_deletes (applied_at);
