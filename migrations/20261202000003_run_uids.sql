-- Every user gets a uid of its own, which its jobs' runs get on the workers, so that runs of
-- different owners never share one (signals, ptrace, /proc and files stay apart). Allocated
-- once, from the managers' `run_uids` range (default 200000-299999), and never reused.

ALTER TABLE users ADD COLUMN run_uid INT UNSIGNED NULL AFTER is_admin;

-- The users that exist already, in creation order, from the default range's start.
SET @next_uid := 199999;
UPDATE users SET run_uid = (@next_uid := @next_uid + 1) ORDER BY created_at, name;

ALTER TABLE users
    MODIFY run_uid INT UNSIGNED NOT NULL,
    ADD UNIQUE KEY users_run_uid (run_uid);
