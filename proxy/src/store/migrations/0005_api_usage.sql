-- The org's daily API usage as Salesforce last reported it (`Sforce-Limit-Info`), for every
-- process and the admin API to see. One row (the proxy talks to one org). It was kept as a JSON
-- row of `watermarks` ('salesforce.api_usage'), which holds poller positions; moved here.
CREATE TABLE salesforce_api_usage (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  used        integer NOT NULL,
  api_limit   integer NOT NULL,
  reported_at timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO salesforce_api_usage (used, api_limit, reported_at)
SELECT (value::jsonb->>'used')::integer, (value::jsonb->>'limit')::integer, (value::jsonb->>'at')::timestamptz
  FROM watermarks WHERE name = 'salesforce.api_usage';

DELETE FROM watermarks WHERE name = 'salesforce.api_usage';
