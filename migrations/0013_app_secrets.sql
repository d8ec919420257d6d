-- Why: a confidential app may hold two client secrets at a time, each with an expiry, so that a
-- secret is rotated without an outage — add a new one, switch the app over, remove the old one —
-- as Entra's "Certificates & secrets" and Keycloak's secret rotation allow. One secret column on
-- `apps` could not hold both. A secret is stored as before: an HMAC under the server's
-- client_secret_key, never the secret itself; `hint` is its first three characters, shown so that
-- people can tell their secrets apart.
CREATE TABLE app_secrets (
  client_id   text        NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE ON UPDATE CASCADE,
  -- A short public name for the secret (the CLI and API remove a secret by it).
  id          text        NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
  secret_hash text        NOT NULL,
  hint        text        CHECK (length(hint) <= 8),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (client_id, id),
  CHECK (expires_at > created_at)
);

-- Secrets registered before this migration had no expiry: they keep working for two years (the
-- longest lifetime a new secret may be given), named "original".
INSERT INTO app_secrets (client_id, id, secret_hash, hint, created_at, expires_at)
SELECT client_id, 'original', secret_hash, NULL, created_at, greatest(created_at, now()) + interval '730 days'
  FROM apps
 WHERE secret_hash IS NOT NULL;

-- The CHECK tying secret_hash to the client type goes with the column.
ALTER TABLE apps DROP COLUMN secret_hash;
