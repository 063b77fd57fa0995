-- Workers: job options, the run lease, retries waiting their turn, and captured output.

ALTER TABLE jobs
    ADD COLUMN concurrency           VARCHAR(16) NOT NULL DEFAULT 'allow',
    ADD COLUMN misfire               VARCHAR(16) NOT NULL DEFAULT 'run_once',
    ADD COLUMN retries               SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN retry_backoff_seconds INT UNSIGNED NOT NULL DEFAULT 10,
    ADD COLUMN retry_interrupted     BOOLEAN NOT NULL DEFAULT TRUE,
    ADD CONSTRAINT jobs_concurrency_ck CHECK (concurrency IN ('allow', 'forbid', 'replace')),
    ADD CONSTRAINT jobs_misfire_ck CHECK (misfire IN ('run_once', 'skip'));

ALTER TABLE runs
    -- which life of the worker claimed it: a restarted worker tells its old runs from its own
    ADD COLUMN incarnation  CHAR(36) CHARACTER SET ascii NULL AFTER worker_id,
    -- the run's lease: renewed by its worker while it runs; a stale lease and a gone
    -- registration together mean the run was interrupted
    ADD COLUMN heartbeat_at DATETIME(6) NULL,
    -- a pending retry waits until then
    ADD COLUMN not_before   DATETIME(6) NULL,
    ADD CONSTRAINT runs_status_ck CHECK (status IN
        ('pending', 'running', 'succeeded', 'failed', 'timed_out', 'killed', 'skipped', 'interrupted'));

CREATE TABLE run_output (
    run_id           CHAR(36) CHARACTER SET ascii NOT NULL,
    stdout           MEDIUMBLOB NOT NULL,
    stderr           MEDIUMBLOB NOT NULL,
    -- output beyond the worker's per-run limit was dropped
    stdout_truncated BOOLEAN NOT NULL,
    stderr_truncated BOOLEAN NOT NULL,
    PRIMARY KEY (run_id),
    CONSTRAINT run_output_run_fk FOREIGN KEY (run_id) REFERENCES runs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
