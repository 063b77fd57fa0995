-- The sha256 of the definition a job was created with: a POST /jobs replayed with its
-- Idempotency-Key is the same request when its definition has this digest, even after the
-- job was edited (then the answer is the job as it now is, not a 422).

ALTER TABLE jobs
    ADD COLUMN created_spec_sha256 CHAR(64) CHARACTER SET ascii NULL;
