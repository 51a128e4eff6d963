-- Custompms updates sent for a link whose answer the proxy has not yet stored (#14). A process
-- killed between the PATCH and storing the link, or a lost answer, leaves the write made but
-- unrecorded; when it is met again (a 409's current record, its webhook) it is recognised here as
-- the sync's own write instead of a newer edit that a conflict rule could let win. Each entry
-- keeps the link versions it was planned on: once the link moves on, the entries are inert.
ALTER TABLE links ADD COLUMN custompms_writes jsonb NOT NULL DEFAULT '[]';
