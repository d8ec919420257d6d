-- Why: every /auth and /token writes rows that expire, and the periodic purge deletes them in
-- batches (src/services/expiry-purge.ts, issue #17 "storage that stays flat"). Deleted rows leave
-- dead tuples that only VACUUM turns into free space for the next inserts; at the default
-- autovacuum_vacuum_scale_factor (20 % of the table) a 10M-row oidc_models would wait for 2M
-- dead rows, far more than one purge removes, and grow meanwhile. These tables are vacuumed
-- after each purge's worth instead (1 % + 1000 rows), and analysed often enough that the
-- planner knows how many rows have expired (the purge's ORDER BY expiry LIMIT uses the index).
-- The sign-in failure tables were never purged (migration 0012): their streaks end 15 minutes
-- after the last failure, and the purge finds ended ones by this index.
CREATE INDEX sign_in_failures_last_failure_at ON sign_in_failures (last_failure_at);
CREATE INDEX sign_in_address_failures_last_failure_at ON sign_in_address_failures (last_failure_at);

ALTER TABLE oidc_models SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE oidc_model_keys SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE dpop_proofs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE rate_limit_windows SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE sign_in_failures SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE sign_in_address_failures SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02);
