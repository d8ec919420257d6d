-- Why: on a Citus cluster (README "Scaling out", docs/scaling-out.md) each table is sharded by a key,
-- and a hot statement must name that key to reach one shard. Three changes make the schema fit,
-- the same on plain PostgreSQL as on Citus:
--
-- 1. user_ids: each user id (the `sub` of every token) with its tenant. Tokens carry only the sub,
--    while users is keyed (tenant_id, id) and sharded by tenant, where a unique index on id alone
--    cannot exist. user_ids, keyed and sharded by id, keeps an id unique across all tenants (an id
--    lives on exactly one shard, whose primary key checks it) and leads from a sub to its tenant.
-- 2. oidc_model_keys: oidc-provider finds a session by its uid (and a device code by its user code),
--    not by the id its row is sharded by; this maps each such key to the row's id.
-- 3. The revocation triggers of 0008 go: on Citus a trigger runs on the worker holding the shard,
--    where no process LISTENs. The statements that delete a grant or an app now announce it
--    themselves (src/db/oidc-models.ts, src/db/apps.ts), on the database the processes listen on.

CREATE TABLE user_ids (
  id        text NOT NULL PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);
INSERT INTO user_ids (id, tenant_id) SELECT id, tenant_id FROM users;
DROP INDEX users_id;

CREATE TABLE oidc_model_keys (
  key   text NOT NULL,
  kind  text NOT NULL CHECK (kind IN ('uid', 'user_code')),
  model text NOT NULL,
  id    text NOT NULL,
  PRIMARY KEY (key, kind, model)
);
INSERT INTO oidc_model_keys (key, kind, model, id)
  SELECT uid, 'uid', model, id FROM oidc_models WHERE uid IS NOT NULL
  UNION ALL
  SELECT user_code, 'user_code', model, id FROM oidc_models WHERE user_code IS NOT NULL
  ON CONFLICT DO NOTHING;

DROP TRIGGER oidc_models_grant_deleted ON oidc_models;
DROP TRIGGER oidc_models_grant_expiry_changed ON oidc_models;
DROP TRIGGER oidc_models_truncated ON oidc_models;
DROP TRIGGER apps_deleted ON apps;
DROP TRIGGER apps_client_id_changed ON apps;
DROP TRIGGER apps_truncated ON apps;
DROP FUNCTION notify_grant_changed();
DROP FUNCTION notify_app_deleted();
