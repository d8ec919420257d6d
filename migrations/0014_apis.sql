-- Why: organisations govern their own APIs (issue 13). An API is a record — identifier, name,
-- owner tenant, whether other tenants' users may use it — with its scopes, each described once
-- for users and once for admins, flagged when only an admin may consent, and classed by impact.
-- Accord's sample data API and its admin API become records of the same kind: they are owned by
-- no tenant (Accord itself), and their identifiers are paths relative to the issuer, since the
-- issuer is configuration and unknown here. Their scopes keep their short names; any other API's
-- scopes are named `<identifier>/<scope>`. The OpenID scopes stay in `permissions`.
-- Both tables are small and read whole into each process (a reference table under Citus).

CREATE TABLE apis (
  -- An absolute https:// or api:// URI; Accord's own APIs: a path relative to the issuer.
  identifier       text        PRIMARY KEY CHECK (length(identifier) BETWEEN 2 AND 500),
  name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- The owner tenant; NULL for Accord's own APIs.
  tenant_id        text        REFERENCES tenants (id) ON DELETE CASCADE,
  multi_tenant     boolean     NOT NULL DEFAULT false,
  -- The resource a request gets when its scopes name no API (RFC 8707 §2: the server's default).
  default_resource boolean     NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((identifier LIKE '/%') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX apis_one_default ON apis (default_resource) WHERE default_resource;
CREATE INDEX apis_by_tenant ON apis (tenant_id);

CREATE TABLE api_scopes (
  api_identifier         text    NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
  name                   text    NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9._-]*$' AND length(name) <= 100),
  user_description       text    NOT NULL CHECK (length(user_description) BETWEEN 1 AND 300),
  admin_description      text    NOT NULL CHECK (length(admin_description) BETWEEN 1 AND 300),
  admin_consent_required boolean NOT NULL,
  impact                 text    NOT NULL CHECK (impact IN ('low', 'medium', 'high')),
  sort_order             integer NOT NULL,
  PRIMARY KEY (api_identifier, name)
);

INSERT INTO apis (identifier, name, tenant_id, multi_tenant, default_resource) VALUES
  ('/data/v1', 'Accord sample data API', NULL, true, true),
  ('/api/v1',  'Accord admin API',       NULL, true, false);

INSERT INTO api_scopes (api_identifier, name, user_description, admin_description, admin_consent_required, impact, sort_order)
SELECT CASE resource WHEN 'data' THEN '/data/v1' ELSE '/api/v1' END, scope, user_description, admin_description,
       admin_consent_required,
       CASE WHEN admin_consent_required THEN 'high' WHEN scope LIKE '%Write%' OR scope = 'Mail.Send' THEN 'medium' ELSE 'low' END,
       sort_order
  FROM permissions WHERE resource IN ('data', 'admin');

DELETE FROM permissions WHERE resource IN ('data', 'admin');
