-- Why: issue 15, partial consent. An app marks some of the permissions it registers optional
-- (`apps.optional_scopes`, a subset of `apps.scopes` without `openid`); the consent page shows each
-- as a ticked checkbox the user may untick. What the user unticked is remembered with their
-- consent (`user_consents.declined_scopes`), so that the app's next request for the same
-- permissions stays silent (as Okta's optional scopes do) instead of asking again at every
-- sign-in; `prompt=consent`, or a request for nothing but declined permissions, asks again.
ALTER TABLE apps ADD COLUMN optional_scopes text[] NOT NULL DEFAULT '{}';
ALTER TABLE user_consents ADD COLUMN declined_scopes text[] NOT NULL DEFAULT '{}';
