-- The process writing a batch itself (the api write path): a batch whose writer stopped beating
-- in worker_heartbeats is written again at once, instead of at its deadline.
ALTER TABLE change_batches ADD COLUMN writer text;
