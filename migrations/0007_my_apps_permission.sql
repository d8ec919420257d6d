-- Why: users manage their own consents through the API (`/api/v1/me/apps`), as on the My apps
-- page. That needs a user permission on the API resource: Organization.ReadWrite.All is an admin
-- permission, and a data-API token must not be able to revoke the user's other apps.
INSERT INTO permissions (scope, resource, user_description, admin_description, admin_consent_required, sort_order) VALUES
  ('AppConsents.ReadWrite', 'admin', 'See the apps you allowed and remove their access', 'See and remove the apps users allowed (each user their own)', false, 31);
