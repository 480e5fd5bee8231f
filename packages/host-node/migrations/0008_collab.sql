-- 0008_collab: co-editing. A graph's owner shares it with other users (by their account), each with a role:
-- `owner` (everything the owner can do, sharing included), `editor` (edit the live document, save versions,
-- run) or `viewer` (read and run only; a read-only collaboration connection). The graph's creator
-- (`graphs.owner_id`) is always an owner and is not listed here. The live Yjs document of each graph is kept
-- as one merged update (`Y.encodeStateAsUpdate`); writers merge into the stored state under the row lock, so
-- processes that store the same document concurrently never drop each other's edits.

CREATE TABLE graph_shares (
  graph_id text NOT NULL REFERENCES graphs (id) ON DELETE CASCADE,
  user_id text NOT NULL,
  role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
  shared_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (graph_id, user_id)
);
CREATE INDEX graph_shares_user_idx ON graph_shares (user_id, graph_id);

-- `revision` counts the writes: a process that wrote (or loaded) the current revision holds everything stored
-- in its document and replaces the state without merging.
CREATE TABLE graph_docs (
  graph_id text PRIMARY KEY REFERENCES graphs (id) ON DELETE CASCADE,
  state bytea NOT NULL CHECK (octet_length(state) > 0),
  revision bigint NOT NULL DEFAULT 1 CHECK (revision >= 1),
  updated_at timestamptz NOT NULL DEFAULT now()
);
