-- When the org's Apex fetched a batch in its current announcement (#14). A batch is served once
-- per announcement (a second job for it gets 410 and skips it), and a batch not fetched a minute
-- after its first announcement is announced again at once: the fetch failed while the proxy was
-- restarting, and the report of that failure with it. Later announcements wait for the deadline.
ALTER TABLE change_batches ADD COLUMN fetched_at timestamptz;
