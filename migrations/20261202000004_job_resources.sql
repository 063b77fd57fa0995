-- What one run of a job may use (NULL: the worker's default), enforced with the run's cgroup.
ALTER TABLE jobs
    ADD COLUMN memory_mb INT UNSIGNED NULL,
    ADD COLUMN cpu_millis INT UNSIGNED NULL,
    ADD COLUMN max_processes INT UNSIGNED NULL;
