-- POST /jobs with an Idempotency-Key header: the key is kept with the job it created (for as
-- long as the job's row, which is never deleted), so the same key and body again answer that
-- job, and the same key with another body is refused (422).

ALTER TABLE jobs
    ADD COLUMN idempotency_key VARCHAR(255) CHARACTER SET ascii NULL,
    ADD UNIQUE KEY jobs_idempotency (owner, idempotency_key);
