-- 0005_presets_schedules: triggers that start a graph without a person.
-- A preset is saved run inputs (and credential references, never secrets) for one graph of its owner, at a
-- pinned version or the active one. A schedule fires a graph on a cron expression in an IANA time zone.
-- next_fire_at is the one due time a process may claim: firing is `UPDATE schedules SET next_fire_at =
-- <following> WHERE id = … AND next_fire_at = <due>` (one winner per due time, whatever the number of
-- processes), recorded in schedule_runs in the same transaction; the run then starts with an idempotency key
-- made of the schedule id and the due time, so a claim retried after a crash still gives one run.

CREATE TABLE presets (
  id text PRIMARY KEY,
  owner_id text NOT NULL,
  graph_id text NOT NULL REFERENCES graphs (id) ON DELETE CASCADE,
  -- NULL: the graph's active version when the preset is executed.
  graph_version integer CHECK (graph_version >= 1),
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  inputs jsonb NOT NULL DEFAULT '{}',
  -- Credential ids by node id and field: {"<nodeId>": {"<field>": "<credentialId>"}}.
  credentials jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presets_owner_graph_idx ON presets (owner_id, graph_id, created_at DESC);

CREATE TABLE schedules (
  id text PRIMARY KEY,
  owner_id text NOT NULL,
  graph_id text NOT NULL REFERENCES graphs (id) ON DELETE CASCADE,
  -- NULL: the preset's version, else the graph's active version at each fire.
  graph_version integer CHECK (graph_version >= 1),
  -- A preset in use cannot be deleted (the API answers 409).
  preset_id text REFERENCES presets (id) ON DELETE RESTRICT,
  name text NOT NULL DEFAULT '',
  cron text NOT NULL,
  timezone text NOT NULL,
  -- Merged over the preset's inputs at each fire.
  inputs jsonb NOT NULL DEFAULT '{}',
  paused boolean NOT NULL DEFAULT false,
  -- The next due time; NULL while paused.
  next_fire_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (paused OR next_fire_at IS NOT NULL)
);
CREATE INDEX schedules_owner_graph_idx ON schedules (owner_id, graph_id, created_at DESC);
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE NOT paused;
CREATE INDEX schedules_preset_idx ON schedules (preset_id) WHERE preset_id IS NOT NULL;

-- One row per claimed due time: the run it started, or why none could start. A row with neither is a fire
-- whose start has not completed yet (or was cut short: it is retried, with the same idempotency key).
CREATE TABLE schedule_runs (
  schedule_id text NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  due_at timestamptz NOT NULL,
  run_id text REFERENCES runs (id) ON DELETE SET NULL,
  error text,
  claimed_at timestamptz NOT NULL,
  started_at timestamptz,
  PRIMARY KEY (schedule_id, due_at)
);
CREATE INDEX schedule_runs_pending_idx ON schedule_runs (claimed_at) WHERE started_at IS NULL;
CREATE INDEX schedule_runs_run_idx ON schedule_runs (run_id) WHERE run_id IS NOT NULL;
