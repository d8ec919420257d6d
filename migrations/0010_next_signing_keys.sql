-- Why: oidc-provider loads its keys once, when a process starts, so a rotation reaches the
-- processes one restart at a time. For no process to sign with a key that another does not yet
-- publish, the key a rotation switches to must already be published by every running process:
-- each algorithm keeps a *next* key (activated_at NULL: in /jwks, never signing) that the
-- rotation activates, and a new next key takes its place (src/provider/keys.ts).
ALTER TABLE signing_keys ADD COLUMN activated_at timestamptz;
UPDATE signing_keys SET activated_at = created_at;
