-- Run now (POST /jobs/{id}/trigger): a run outside the schedule is a row of its own, at the
-- moment it was asked for (never a whole second, nor a whole millisecond, so it never takes a
-- scheduled tick's key), named by who asked. `triggered_by` is NULL for the schedule's runs:
-- a worker counts a job's ticks from its scheduled runs alone. `idempotency_key` is the
-- request's Idempotency-Key header: the same key twice for a job gives the one run.

ALTER TABLE runs
    ADD COLUMN triggered_by    VARCHAR(64)  NULL AFTER attempt,
    ADD COLUMN idempotency_key VARCHAR(255) CHARACTER SET ascii NULL,
    ADD UNIQUE KEY runs_idempotency (job_id, idempotency_key);
