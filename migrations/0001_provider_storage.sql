-- Why: oidc-provider's models (sessions, interactions, grants, codes, refresh tokens, …), the
-- signing keys and cookie secrets live in PostgreSQL so any number of identical processes can
-- serve the same issuer.

CREATE TABLE oidc_models (
  model       text        NOT NULL,
  id          text        NOT NULL,
  payload     jsonb       NOT NULL,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_uid ON oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_user_code ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_models_expires_at ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;

-- Private signing keys (JWK). The newest key of each algorithm signs; older ones stay published
-- until tokens they signed have expired (retire_after).
CREATE TABLE signing_keys (
  kid          text        PRIMARY KEY,
  alg          text        NOT NULL,
  private_jwk  jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  retire_after timestamptz
);

-- Secrets every process must share (cookie signing keys).
CREATE TABLE server_secrets (
  name       text        PRIMARY KEY,
  value      text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
