-- Admin actions (who replayed or resolved what, when), read back by GET /admin/v1/audit. `actor`
-- is the fingerprint of the admin key used (never the key), `actor_label` what the caller said it
-- is (X-Admin-Actor, e.g. an e-mail), `ip` the client address behind Heroku's router.
CREATE TABLE admin_audit (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  actor_label  text,
  ip           text,
  action       text NOT NULL,
  target       text,
  outcome      text NOT NULL,
  details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX admin_audit_at ON admin_audit (at DESC, id DESC);

-- `doctor` pings: a ping batch id published as a Custompms_Change__e; the org's Apex fetching it
-- through the Named Credential marks it received (proves event → trigger → Queueable → callout).
CREATE TABLE doctor_pings (
  id           text PRIMARY KEY,
  created_at   timestamptz NOT NULL DEFAULT now(),
  received_at  timestamptz
);
