-- distcron's job store. MySQL holds the desired state (users, jobs); ZooKeeper is made to match it.
-- All times are UTC.

CREATE TABLE users (
    name          VARCHAR(64) NOT NULL,
    is_admin      BOOLEAN     NOT NULL DEFAULT FALSE,
    -- sha256 of the API token. Tokens are 256-bit random values, so a fast hash is enough and
    -- lets authentication be one indexed lookup; the token itself is never stored.
    token_sha256  CHAR(64) CHARACTER SET ascii NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (name),
    UNIQUE KEY users_token (token_sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE jobs (
    id              CHAR(36) CHARACTER SET ascii NOT NULL,
    name            VARCHAR(255) NULL,
    owner           VARCHAR(64)  NOT NULL,
    status          VARCHAR(16)  NOT NULL,
    job_type        VARCHAR(16)  NOT NULL,
    executable      TEXT         NOT NULL,
    sha256          CHAR(64) CHARACTER SET ascii NULL,
    schedule        VARCHAR(255) NOT NULL,
    timezone        VARCHAR(64)  NOT NULL,
    timeout_seconds INT UNSIGNED NULL,
    privileged      BOOLEAN      NOT NULL,
    run_as          VARCHAR(32)  NULL,
    -- bumped when the definition changes; workers reload a task whose version moved
    version         BIGINT UNSIGNED NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    updated_at      DATETIME(6)  NOT NULL,
    finished_at     DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY jobs_owner (owner, id),
    KEY jobs_status (status, id),
    CONSTRAINT jobs_owner_fk FOREIGN KEY (owner) REFERENCES users (name),
    CONSTRAINT jobs_status_ck CHECK (status IN ('scheduled', 'finished', 'error')),
    CONSTRAINT jobs_type_ck CHECK (job_type IN ('command', 'script', 'binary'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per attempt at one scheduled time of one job. The worker writes it BEFORE it starts
-- the process; the unique key is the fence that keeps a scheduled time from running twice.
CREATE TABLE runs (
    id           CHAR(36) CHARACTER SET ascii NOT NULL,
    job_id       CHAR(36) CHARACTER SET ascii NOT NULL,
    scheduled_at DATETIME(6)  NOT NULL,
    attempt      SMALLINT UNSIGNED NOT NULL,
    worker_id    VARCHAR(128) NULL,
    status       VARCHAR(16)  NOT NULL,
    reason       VARCHAR(1024) NULL,
    created_at   DATETIME(6)  NOT NULL,
    started_at   DATETIME(6)  NULL,
    finished_at  DATETIME(6)  NULL,
    exit_code    INT NULL,
    term_signal  INT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY runs_tick (job_id, scheduled_at, attempt),
    KEY runs_status_worker (status, worker_id),
    CONSTRAINT runs_job_fk FOREIGN KEY (job_id) REFERENCES jobs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Who created, changed or deleted what, and when.
CREATE TABLE audit_log (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    at          DATETIME(6)  NOT NULL,
    actor       VARCHAR(64)  NOT NULL,
    action      VARCHAR(32)  NOT NULL,
    object_type VARCHAR(16)  NOT NULL,
    object_id   VARCHAR(64)  NOT NULL,
    detail      JSON NULL,
    PRIMARY KEY (id),
    KEY audit_object (object_type, object_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
