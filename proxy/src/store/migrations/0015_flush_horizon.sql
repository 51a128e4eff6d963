-- The outbox flush's gathering horizon, shared by every process (#18). A process that schedules a
-- burst's flush (it waits in its job to fill batches) leaves the changes it commits until that
-- flush's due time to it, without a call of its own. But the pending flush job is keyed: another
-- process, or a restart's leftovers flush, may replace it with one that does not wait, and that
-- one would end before the changes came. So the scheduling process first raises this horizon to
-- the due time, and every flush job gathers until the horizon it reads when it starts: whichever
-- flush runs, it ends after every change a process left to it.
CREATE TABLE outbox_flush_horizon (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  gather_until timestamptz NOT NULL
);
INSERT INTO outbox_flush_horizon (gather_until) VALUES ('-infinity');
