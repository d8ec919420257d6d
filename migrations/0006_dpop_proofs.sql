-- Why: DPoP proofs (RFC 9449 §11.1) must be single-use across every process behind the load
-- balancer, so the replay cache lives here rather than in one process's memory.
CREATE TABLE dpop_proofs (
  key        text        PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX dpop_proofs_expires_at ON dpop_proofs (expires_at);
