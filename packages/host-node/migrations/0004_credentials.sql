-- 0004_credentials: secrets users store for their blocks (API keys, OAuth tokens, passwords, host-scoped
-- headers). Only metadata is in the clear; the secret is AES-256-GCM ciphertext with its 12-byte IV and
-- 16-byte authentication tag, sealed under the key named by key_id (a fingerprint of the key, never the key)
-- with the row's id, owner, provider and type as associated data, so a ciphertext cannot be moved to
-- another row. owner_id is a better-auth user id (no foreign key, as for graphs).

CREATE TABLE credentials (
  id text PRIMARY KEY,
  owner_id text NOT NULL,
  provider text NOT NULL,
  type text NOT NULL CHECK (type IN ('api_key', 'oauth2', 'user_password', 'host_scoped')),
  title text NOT NULL,
  host text,
  key_id text NOT NULL,
  iv bytea NOT NULL CHECK (octet_length(iv) = 12),
  auth_tag bytea NOT NULL CHECK (octet_length(auth_tag) = 16),
  ciphertext bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credentials_owner_created_idx ON credentials (owner_id, created_at DESC);
CREATE INDEX credentials_key_idx ON credentials (key_id);
