-- 0001_init: graphs with versions, runs with their node executions, outputs and events, idempotent run
-- requests, and files. Owners are better-auth user ids (text); better-auth manages its own tables, so
-- owner_id has no foreign key. Times the engine sets (runs, node executions) come from its clock.
-- Applied migrations are immutable: change the schema with a new numbered file.

CREATE TABLE graphs (
  id text PRIMARY KEY,
  owner_id text NOT NULL,
  name text NOT NULL DEFAULT '',
  active_version integer NOT NULL,
  forked_from_id text,
  forked_from_version integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX graphs_owner_updated_idx ON graphs (owner_id, updated_at DESC);

CREATE TABLE graph_versions (
  graph_id text NOT NULL REFERENCES graphs (id) ON DELETE CASCADE,
  version integer NOT NULL CHECK (version >= 1),
  graph jsonb NOT NULL,
  sub_graphs jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (graph_id, version)
);

-- The active version must exist; checked at commit, since a graph and its first version are inserted together.
ALTER TABLE graphs ADD CONSTRAINT graphs_active_version_fkey
  FOREIGN KEY (id, active_version) REFERENCES graph_versions (graph_id, version)
  DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE runs (
  id text PRIMARY KEY,
  owner_id text,
  graph_id text,
  graph_version integer,
  parent_run_id text,
  parent_execution_id text,
  status text NOT NULL
    CHECK (status IN ('INCOMPLETE', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'TERMINATED', 'REVIEW')),
  inputs jsonb,
  outputs jsonb NOT NULL DEFAULT '{}',
  cost double precision NOT NULL DEFAULT 0,
  error text,
  options jsonb NOT NULL DEFAULT '{}',
  -- The exact graph the run executes; NULL until the executor records the run (a claimed, queued run).
  graph jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The seq of the run's last event, kept in the transaction that appends events.
  last_seq integer NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);
CREATE INDEX runs_owner_created_idx ON runs (owner_id, created_at DESC);
CREATE INDEX runs_owner_graph_created_idx ON runs (owner_id, graph_id, created_at DESC);
CREATE INDEX runs_parent_idx ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_unfinished_idx ON runs (created_at) WHERE status IN ('INCOMPLETE', 'QUEUED', 'RUNNING');

CREATE TABLE node_executions (
  id text PRIMARY KEY,
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  node_id text NOT NULL,
  block_id text NOT NULL,
  ord integer NOT NULL,
  status text NOT NULL
    CHECK (status IN ('INCOMPLETE', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'TERMINATED', 'REVIEW')),
  inputs jsonb NOT NULL DEFAULT '{}',
  output_count integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  cost double precision NOT NULL DEFAULT 0,
  review jsonb,
  error text,
  created_at timestamptz NOT NULL,
  started_at timestamptz,
  ended_at timestamptz,
  UNIQUE (run_id, ord)
);

CREATE TABLE node_outputs (
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  execution_id text NOT NULL REFERENCES node_executions (id) ON DELETE CASCADE,
  idx integer NOT NULL CHECK (idx >= 0),
  node_id text NOT NULL,
  pin text NOT NULL,
  value jsonb,
  seq integer NOT NULL,
  PRIMARY KEY (execution_id, idx)
);
CREATE INDEX node_outputs_run_seq_idx ON node_outputs (run_id, seq);

CREATE TABLE run_events (
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq integer NOT NULL CHECK (seq >= 1),
  event jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_requests (
  owner_id text NOT NULL,
  idempotency_key text NOT NULL,
  -- Deferred: the request row is inserted first, so that concurrent claims with one key queue on it.
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (owner_id, idempotency_key)
);
CREATE INDEX run_requests_run_idx ON run_requests (run_id);

CREATE TABLE files (
  id text PRIMARY KEY,
  owner_id text NOT NULL,
  run_id text REFERENCES runs (id) ON DELETE SET NULL,
  name text NOT NULL,
  mime_type text NOT NULL,
  size integer NOT NULL CHECK (size >= 0),
  content bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_owner_created_idx ON files (owner_id, created_at DESC);
CREATE INDEX files_run_idx ON files (run_id) WHERE run_id IS NOT NULL;
