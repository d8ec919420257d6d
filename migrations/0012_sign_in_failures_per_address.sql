-- Why: failures counted per account alone let anyone who knows a username lock its owner out
-- (issue #12 item 4). Failures now count per account and client address (the address that made
-- five is refused, others are not), and per account across all addresses as a ceiling that slows
-- further attempts with a growing delay instead of locking. A streak ends 15 minutes after its
-- last failure, so the columns record the last failure rather than a window's start.
ALTER TABLE sign_in_failures RENAME COLUMN window_start TO last_failure_at;

CREATE TABLE sign_in_address_failures (
  tenant_id       text        NOT NULL,
  username        text        NOT NULL,
  client_address  inet        NOT NULL,
  failures        integer     NOT NULL,
  last_failure_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, username, client_address)
);
