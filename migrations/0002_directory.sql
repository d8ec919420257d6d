-- Why: the directory — tenants with their Integrated Apps setting, their users, the apps
-- (OAuth clients) they publish, the permission catalogue, and the audit trail. Tenant-owned
-- tables lead their keys with tenant_id so the data can later be distributed by tenant.

CREATE TABLE tenants (
  id                      text        PRIMARY KEY CHECK (id ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$'),
  name                    text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  integrated_apps_enabled boolean     NOT NULL DEFAULT true,
  created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  tenant_id     text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id            text        NOT NULL,
  username      text        NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  email         text,
  display_name  text        NOT NULL,
  role          text        NOT NULL CHECK (role IN ('user', 'admin')),
  password_hash text        NOT NULL,
  disabled      boolean     NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, username)
);
-- Tokens carry only `sub`; this finds the user (and so the tenant) from it.
CREATE UNIQUE INDEX users_id ON users (id);

-- The permission catalogue. `resource` is a logical name: 'openid' (OIDC scopes), 'data'
-- (the data API) or 'admin' (the admin API); the absolute indicator is derived from the issuer.
CREATE TABLE permissions (
  scope                  text    PRIMARY KEY,
  resource               text    NOT NULL CHECK (resource IN ('openid', 'data', 'admin')),
  user_description       text    NOT NULL,
  admin_description      text    NOT NULL,
  admin_consent_required boolean NOT NULL,
  sort_order             integer NOT NULL
);

INSERT INTO permissions (scope, resource, user_description, admin_description, admin_consent_required, sort_order) VALUES
  ('openid',          'openid', 'Sign you in',                                  'Sign users in',                                              false, 1),
  ('profile',         'openid', 'See your basic profile',                       'See users'' basic profile',                                  false, 2),
  ('email',           'openid', 'See your email address',                       'See users'' email addresses',                                false, 3),
  ('offline_access',  'openid', 'Keep access to what you allowed when you are not using the app', 'Keep access to what users allowed when they are not using the app', false, 4),
  ('User.Read',       'data',   'Read your profile',                            'Sign users in and read their profile',                       false, 10),
  ('Calendars.Read',  'data',   'Read your calendar',                           'Read users'' calendars',                                     false, 11),
  ('Calendars.ReadWrite', 'data', 'Read and edit your calendar',                'Read and edit users'' calendars',                            false, 12),
  ('Files.Read',      'data',   'Read your files',                              'Read users'' files',                                         false, 13),
  ('Files.ReadWrite', 'data',   'Read, edit and delete your files',             'Read, edit and delete users'' files',                        false, 14),
  ('Mail.Send',       'data',   'Send mail as you',                             'Send mail as users',                                         false, 15),
  ('Sites.Read.All',  'data',   'Read items in all site collections of your organisation', 'Read items in all site collections of the organisation', true, 16),
  ('User.Read.All',   'data',   'Read the profiles of everyone in your organisation', 'Read every user''s profile in the organisation',     true, 17),
  ('Organization.ReadWrite.All', 'admin', 'Manage your organisation''s settings, users, apps and consents', 'Manage the organisation''s settings, users, apps and consents', true, 30);

-- Apps are oidc-provider clients, read from here on every request so a change applies at once.
CREATE TABLE apps (
  client_id                 text        PRIMARY KEY,
  publisher_tenant_id       text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name                      text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  publisher_name            text        NOT NULL CHECK (length(publisher_name) BETWEEN 1 AND 200),
  publisher_verified        boolean     NOT NULL DEFAULT false,
  multi_tenant              boolean     NOT NULL DEFAULT false,
  client_type               text        NOT NULL CHECK (client_type IN ('confidential', 'public')),
  -- HMAC-SHA256 of the secret under a server key: secrets are high-entropy, a password hash is not needed.
  secret_hash               text,
  redirect_uris             text[]      NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 20),
  post_logout_redirect_uris text[]      NOT NULL DEFAULT '{}',
  homepage_url              text,
  privacy_url               text,
  terms_url                 text,
  logo_url                  text,
  scopes                    text[]      NOT NULL,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
);
CREATE INDEX apps_publisher ON apps (publisher_tenant_id);

CREATE TABLE audit_events (
  tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         bigserial   NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text        NOT NULL,
  action     text        NOT NULL,
  target     text,
  details    jsonb       NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_newest ON audit_events (tenant_id, at DESC, id DESC);
