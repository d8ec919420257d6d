-- Why: a per-client-IP limit (sign-in attempts per minute) must hold for the deployment, not for
-- each process behind the load balancer, so its counters live here (src/db/rate-limits.ts).
-- One row per limited route and client address: the hits in the current window and when it ends.
CREATE TABLE rate_limit_windows (
  key      text        PRIMARY KEY,
  hits     integer     NOT NULL,
  ends_at  timestamptz NOT NULL
);
CREATE INDEX rate_limit_windows_ends_at ON rate_limit_windows (ends_at);
