-- Why: grants get a life (issue 15). A tenant gives grants a lifetime by the impact class of the
-- permissions they hold (or a default for every grant), overridable per app; a user's consent then
-- carries when it expires, and an admin consent when it is due for review (it lapses then unless
-- renewed). Accord records when each granted scope was last carried by a token, so admins can find
-- over-privileged grants. Every table leads with tenant_id (sharded by tenant under Citus).

-- A lifetime per impact class; 'default' applies to every class without its own row. No row: no expiry.
CREATE TABLE tenant_grant_lifetimes (
  tenant_id     text    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  applies_to    text    NOT NULL CHECK (applies_to IN ('default', 'low', 'medium', 'high')),
  lifetime_days integer NOT NULL CHECK (lifetime_days BETWEEN 1 AND 36500),
  PRIMARY KEY (tenant_id, applies_to)
);

-- One app's lifetime in one tenant, in place of the tenant's classes; NULL: the app's grants never expire.
CREATE TABLE app_grant_lifetimes (
  tenant_id     text    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  client_id     text    NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
  lifetime_days integer CHECK (lifetime_days BETWEEN 1 AND 36500),
  PRIMARY KEY (tenant_id, client_id)
);

-- NULL: no expiry. `lapse_chosen_at`: an admin chose to let it lapse (cleared by a renewal or new consent).
ALTER TABLE user_consents ADD COLUMN expires_at timestamptz, ADD COLUMN lapse_chosen_at timestamptz;
ALTER TABLE admin_consents ADD COLUMN review_at timestamptz, ADD COLUMN lapse_chosen_at timestamptz;
CREATE INDEX user_consents_expiring ON user_consents (tenant_id, expires_at) WHERE expires_at IS NOT NULL;

-- When a token last carried each scope of a user's grant for an app (written in batches, never on
-- the token path).
CREATE TABLE grant_scope_use (
  tenant_id    text        NOT NULL,
  user_id      text        NOT NULL,
  client_id    text        NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
  scope        text        NOT NULL,
  last_used_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id, client_id, scope),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
