-- Pause and resume (POST /jobs/{id}/pause, /resume). A paused job is off the schedule (its
-- task withdrawn from the workers) until it is resumed; the ticks that fall in a pause never
-- run and are accounted for by the pause itself, one row per interval, not one per tick.
-- `jobs.resumed_at` is the latest resume: workers count a resumed job's ticks from there, so
-- nothing of the pause is caught up.

ALTER TABLE jobs
    DROP CONSTRAINT jobs_status_ck,
    ADD CONSTRAINT jobs_status_ck CHECK (status IN ('scheduled', 'paused', 'finished', 'error')),
    ADD COLUMN paused_at  DATETIME(6) NULL,
    ADD COLUMN resumed_at DATETIME(6) NULL;

CREATE TABLE job_pauses (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    job_id     CHAR(36) CHARACTER SET ascii NOT NULL,
    paused_at  DATETIME(6)  NOT NULL,
    paused_by  VARCHAR(64)  NOT NULL,
    -- NULL while the pause lasts
    resumed_at DATETIME(6)  NULL,
    resumed_by VARCHAR(64)  NULL,
    PRIMARY KEY (id),
    KEY job_pauses_job (job_id, paused_at),
    CONSTRAINT job_pauses_job_fk FOREIGN KEY (job_id) REFERENCES jobs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
