-- A stop asked of a running run (its owner was disabled): the run's worker, which reads the
-- stops of its own runs with every lease renewal, kills the run's process tree and records the
-- run `killed` with this reason. NULL for every run nobody asked to stop.

ALTER TABLE runs ADD COLUMN stop_reason VARCHAR(255) NULL AFTER reason;
