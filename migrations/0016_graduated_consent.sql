-- Why: graduated consent (issue 14). Between "users consent to anything" and "off", a tenant may let
-- its users consent only to verified publishers' apps asking for low-impact permissions, class its
-- permissions itself, add its own app consent policies, and send risky apps to admin approval.
--
-- tenants.user_consent: which built-in app consent policy applies to users ('all' is the seed's
-- rule). risk_step_up / risk_step_up_days: risk-based step-up, off by default so nothing changes.
-- All three are read by the load-access statement, on every authorization request.
ALTER TABLE tenants
  ADD COLUMN user_consent      text    NOT NULL DEFAULT 'all' CHECK (user_consent IN ('all', 'verified-low-impact')),
  ADD COLUMN risk_step_up      boolean NOT NULL DEFAULT false,
  ADD COLUMN risk_step_up_days integer NOT NULL DEFAULT 30 CHECK (risk_step_up_days BETWEEN 1 AND 3650);

-- A tenant's own class for a permission (its request name). A permission without a row takes the
-- default: low for openid, profile, email, offline_access and User.Read, else its API's impact.
CREATE TABLE permission_classifications (
  tenant_id      text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  scope          text        NOT NULL CHECK (length(scope) BETWEEN 1 AND 700),
  classification text        NOT NULL CHECK (classification IN ('low', 'medium', 'high')),
  classified_by  text        NOT NULL,
  classified_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, scope)
);

-- A tenant's custom app consent policies: include and exclude condition sets as JSON arrays
-- (src/core/app-consent-policies.ts validates them before they are written).
CREATE TABLE app_consent_policies (
  tenant_id   text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id          text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  includes    jsonb       NOT NULL,
  excludes    jsonb       NOT NULL,
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

-- The sample data API's owner (Accord) classes reading a calendar or files as medium impact, as
-- Entra does: only sign-in and the basic profile are low.
UPDATE api_scopes SET impact = 'medium' WHERE api_identifier = '/data/v1' AND name IN ('Calendars.Read', 'Files.Read');

-- Why the user needed an admin's approval when they asked (the decision's rule, in words), so the
-- admin deciding the request sees it.
ALTER TABLE consent_requests ADD COLUMN approval_rule jsonb;
