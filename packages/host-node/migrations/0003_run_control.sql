-- 0003_run_control: requests to a run from a process that does not drive it. A stop request is recorded on the
-- run (the driving worker hears it by NOTIFY and also checks it on every heartbeat, so a missed notice is
-- not lost); a review decision waits in run_decisions until the worker that drives the run applies it.
-- Claimed runs keep their decoded inputs from the claim on, so an unstarted run can always be started.
-- An idempotency key remembers a fingerprint of its request, so that reusing it for a different request
-- (another graph, version or inputs) is refused instead of answered with the first run.

ALTER TABLE runs ADD COLUMN stop_requested_at timestamptz;

CREATE TABLE run_decisions (
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  execution_id text NOT NULL,
  decision jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, execution_id)
);

ALTER TABLE run_requests ADD COLUMN fingerprint text;
