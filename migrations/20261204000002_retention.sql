-- History that does not grow for ever: the leader prunes a job's runs beyond its
-- `history_limit` (NULL: the cluster's default) and runs ended more than the cluster's
-- retention ago, in small batches, always keeping each job's newest scheduled run (a worker
-- counts the job's ticks from it). `history_from` is where the job's kept history starts:
-- the scheduled time of the newest run pruned. `runs_finished` finds the aged runs.

ALTER TABLE jobs
    ADD COLUMN history_limit INT UNSIGNED NULL,
    ADD COLUMN history_from  DATETIME(6)  NULL;

ALTER TABLE runs
    ADD KEY runs_finished (finished_at);
