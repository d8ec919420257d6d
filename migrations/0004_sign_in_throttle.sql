-- Why: per-account throttling of failed sign-ins (OWASP ASVS 2.2.1), shared by every process.
CREATE TABLE sign_in_failures (
  tenant_id    text        NOT NULL,
  username     text        NOT NULL,
  failures     integer     NOT NULL,
  window_start timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, username)
);
