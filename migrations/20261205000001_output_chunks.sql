-- Live output: workers write a run's output in chunks while it runs (at least every second),
-- so a follower sees it live and what a run printed before its worker died is kept. The
-- chunks are the only copy: the whole output is the run's chunks in `seq` order.

CREATE TABLE run_output_chunks (
    run_id    CHAR(36) CHARACTER SET ascii NOT NULL,
    -- the chunk's place in the run's output: both streams share one sequence, from 0
    seq       INT UNSIGNED NOT NULL,
    -- 1 stdout, 2 stderr
    stream    TINYINT UNSIGNED NOT NULL,
    data      MEDIUMBLOB NOT NULL,
    -- what the stream printed after this chunk was dropped (the worker's per-run limit)
    truncated BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, seq),
    CONSTRAINT run_output_chunks_run_fk FOREIGN KEY (run_id) REFERENCES runs (id),
    CONSTRAINT run_output_chunks_stream_ck CHECK (stream IN (1, 2))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The output kept so far, one chunk per stream.
INSERT INTO run_output_chunks (run_id, seq, stream, data, truncated)
    SELECT run_id, 0, 1, stdout, stdout_truncated FROM run_output
    WHERE LENGTH(stdout) > 0 OR stdout_truncated;
INSERT INTO run_output_chunks (run_id, seq, stream, data, truncated)
    SELECT run_id, 1, 2, stderr, stderr_truncated FROM run_output
    WHERE LENGTH(stderr) > 0 OR stderr_truncated;

DROP TABLE run_output;
