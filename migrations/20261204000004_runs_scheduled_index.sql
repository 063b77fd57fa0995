-- A job's newest scheduled run (`MAX(scheduled_at) ... WHERE triggered_by IS NULL`): what an
-- adopting worker counts its ticks from, and what the pruner keeps. Read through this index it
-- is one lookup per job, however many runs the job has.

ALTER TABLE runs
    ADD KEY runs_scheduled (job_id, triggered_by, scheduled_at);
