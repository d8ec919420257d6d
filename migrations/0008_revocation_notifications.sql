-- Why: each process caches "grant G is alive" and "app C exists" for the resource servers'
-- revocation check (src/services/grant-liveness.ts). Every process must forget an entry the moment
-- the row goes, whichever path removed it — revocation, a replayed code, app removal, a disabled
-- user, the expiry purge, a manual DELETE — so the database announces it, not the code paths.
-- Channel `accord_grant_changed`: a Grant's id when its row is deleted or its expiry changes (an
-- upsert may move expires_at), or '*' when oidc_models is truncated (forget every grant).
-- Channel `accord_app_deleted`: an app's client id when its row is deleted (or its id changed), or
-- '*' when apps is truncated.
-- Notifications are sent at commit, so a rolled-back revocation announces nothing.

CREATE FUNCTION notify_grant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('accord_grant_changed', '*');
  ELSE
    PERFORM pg_notify('accord_grant_changed', OLD.id);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER oidc_models_grant_deleted AFTER DELETE ON oidc_models
  FOR EACH ROW WHEN (OLD.model = 'Grant') EXECUTE FUNCTION notify_grant_changed();
CREATE TRIGGER oidc_models_grant_expiry_changed AFTER UPDATE ON oidc_models
  FOR EACH ROW WHEN (OLD.model = 'Grant' AND (NEW.expires_at IS DISTINCT FROM OLD.expires_at OR NEW.model <> OLD.model OR NEW.id <> OLD.id))
  EXECUTE FUNCTION notify_grant_changed();
CREATE TRIGGER oidc_models_truncated AFTER TRUNCATE ON oidc_models
  FOR EACH STATEMENT EXECUTE FUNCTION notify_grant_changed();

CREATE FUNCTION notify_app_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('accord_app_deleted', '*');
  ELSE
    PERFORM pg_notify('accord_app_deleted', OLD.client_id);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER apps_deleted AFTER DELETE ON apps
  FOR EACH ROW EXECUTE FUNCTION notify_app_deleted();
CREATE TRIGGER apps_client_id_changed AFTER UPDATE OF client_id ON apps
  FOR EACH ROW WHEN (NEW.client_id <> OLD.client_id) EXECUTE FUNCTION notify_app_deleted();
CREATE TRIGGER apps_truncated AFTER TRUNCATE ON apps
  FOR EACH STATEMENT EXECUTE FUNCTION notify_app_deleted();
