-- Why: a process publishes the signing keys it loaded when it started (oidc-provider cannot swap
-- them), so `accord keys rotate` is safe only while every running process publishes the next
-- keys it is about to activate. Each process records here which keys it publishes, and keeps a
-- heartbeat; the rotation refuses while a live process lacks them (src/provider/keys.ts).
CREATE TABLE server_instances (
  id             text        PRIMARY KEY,
  -- For the operator: host and process id.
  description    text        NOT NULL,
  published_kids text[]      NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  seen_at        timestamptz NOT NULL DEFAULT now()
);
