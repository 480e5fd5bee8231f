-- 0006_webhooks: webhooks that start a graph from a signed HTTP delivery (`POST /api/webhooks/:id`). A webhook
-- belongs to its graph's owner and goes with the graph. Its secret is the HMAC key the deliveries are signed
-- with: the server needs the key itself to check a signature, so it is stored sealed like credentials
-- (AES-256-GCM under the credentials key named by key_id, with its IV and tag, bound to the row's id and
-- owner). Each accepted signature is remembered for the replay window, so a captured delivery cannot start
-- a second run; rows older than the window are pruned.

CREATE TABLE webhooks (
  id text PRIMARY KEY,
  owner_id text NOT NULL,
  graph_id text NOT NULL REFERENCES graphs (id) ON DELETE CASCADE,
  description text NOT NULL DEFAULT '',
  key_id text NOT NULL,
  iv bytea NOT NULL CHECK (octet_length(iv) = 12),
  auth_tag bytea NOT NULL CHECK (octet_length(auth_tag) = 16),
  secret_ciphertext bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_owner_graph_idx ON webhooks (owner_id, graph_id, created_at);
CREATE INDEX webhooks_key_idx ON webhooks (key_id);

CREATE TABLE webhook_deliveries (
  webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  signature text NOT NULL,
  -- NULL while the run is being started.
  run_id text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (webhook_id, signature)
);
CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);
