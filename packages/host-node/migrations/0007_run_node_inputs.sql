-- 0007_run_node_inputs: input values a start sets on some nodes of the graph version (a preset's or a
-- schedule's credential references), kept with the claim so that the worker that starts the run applies them.

ALTER TABLE runs ADD COLUMN node_inputs jsonb;
