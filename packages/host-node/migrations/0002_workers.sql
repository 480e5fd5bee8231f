-- 0002_workers: worker processes of the Postgres mode (`weft worker`) with their heartbeats, and which worker
-- drives which run. A run held by a worker whose heartbeat is older than the threshold is taken over by a
-- live worker (`UPDATE run_leases … RETURNING`, one winner per run) and resumed from the store.
-- worker_id has no foreign key: a lease whose worker row is gone belongs to a dead worker.

CREATE TABLE weft_workers (
  id text PRIMARY KEY,
  hostname text NOT NULL DEFAULT '',
  pid integer,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE run_leases (
  run_id text PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  worker_id text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_leases_worker_idx ON run_leases (worker_id);
