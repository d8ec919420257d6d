-- Why: the sample data API's items (docs/interfaces.md, "The data API"): each user's calendar events, drive files
-- and sent mail, and each tenant's sites with their items. Every row is owned by its tenant (and
-- user); keys lead with tenant_id; deleting a user or a tenant deletes what they owned.

CREATE TABLE calendar_events (
  tenant_id  text        NOT NULL,
  user_id    text        NOT NULL,
  id         text        NOT NULL DEFAULT gen_random_uuid()::text,
  subject    text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
  body       text        NOT NULL DEFAULT '' CHECK (length(body) <= 10000),
  location   text        CHECK (length(location) <= 200),
  starts_at  timestamptz NOT NULL,
  ends_at    timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  CHECK (ends_at >= starts_at)
);
CREATE INDEX calendar_events_by_start ON calendar_events (tenant_id, user_id, starts_at, id);

-- Text files only: the sample API stores content inline.
CREATE TABLE drive_files (
  tenant_id    text        NOT NULL,
  user_id      text        NOT NULL,
  id           text        NOT NULL DEFAULT gen_random_uuid()::text,
  name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  content_type text        NOT NULL CHECK (length(content_type) BETWEEN 1 AND 100),
  content      text        NOT NULL CHECK (length(content) <= 32768),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX drive_files_by_name ON drive_files (tenant_id, user_id, name, id);

-- Mail "sent" through the API (nothing leaves the server); client_id records which app sent it
-- and is no foreign key, so the user's sent items outlive the app.
CREATE TABLE sent_mail (
  tenant_id  text        NOT NULL,
  user_id    text        NOT NULL,
  id         text        NOT NULL DEFAULT gen_random_uuid()::text,
  client_id  text        NOT NULL,
  recipients text[]      NOT NULL CHECK (cardinality(recipients) BETWEEN 1 AND 50),
  subject    text        NOT NULL CHECK (length(subject) <= 200),
  body       text        NOT NULL CHECK (length(body) <= 32768),
  sent_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- A tenant's site collections, readable with the admin permission Sites.Read.All.
CREATE TABLE sites (
  tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         text        NOT NULL CHECK (id ~ '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$'),
  name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE site_items (
  tenant_id  text        NOT NULL,
  site_id    text        NOT NULL,
  id         text        NOT NULL DEFAULT gen_random_uuid()::text,
  title      text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  content    text        NOT NULL DEFAULT '' CHECK (length(content) <= 32768),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, site_id, id),
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX site_items_by_created ON site_items (tenant_id, site_id, created_at, id);
