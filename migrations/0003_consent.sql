-- Why: consent records. A tenant-wide admin consent per (tenant, app); a user's own consent per
-- (tenant, user, app) with the oidc-provider grant that carries their tokens, so revoking the
-- consent revokes the tokens; the app's state in each tenant; users' requests for approval.

CREATE TABLE tenant_apps (
  tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  client_id  text        NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
  blocked    boolean     NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text,
  PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE admin_consents (
  tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  client_id  text        NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
  scopes     text[]      NOT NULL,
  granted_by text        NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, client_id)
);

-- One row per user and app once the user has signed in to it: `scopes` is what the user
-- consented to themself (empty when access comes only from an admin consent); `grant_id` is the
-- oidc-provider grant holding the tokens.
CREATE TABLE user_consents (
  tenant_id  text        NOT NULL,
  user_id    text        NOT NULL,
  client_id  text        NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
  scopes     text[]      NOT NULL DEFAULT '{}',
  grant_id   text,
  granted_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, client_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_consents_app ON user_consents (tenant_id, client_id);

CREATE TABLE consent_requests (
  tenant_id    text        NOT NULL,
  id           text        NOT NULL,
  user_id      text        NOT NULL,
  client_id    text        NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
  scopes       text[]      NOT NULL,
  reason       text        NOT NULL CHECK (length(reason) <= 1000),
  status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
  approved_scopes text[],
  decided_by   text,
  decision_reason text CHECK (length(decision_reason) <= 1000),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  decided_at   timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- One open request per user and app.
CREATE UNIQUE INDEX consent_requests_one_open ON consent_requests (tenant_id, user_id, client_id) WHERE status = 'pending';
