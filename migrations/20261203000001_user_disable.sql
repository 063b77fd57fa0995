-- Users are disabled (DELETE /users/{name}), never deleted: their jobs, runs and audit rows
-- keep naming them, their name is not given to anyone else, and neither is their run uid (new
-- users take one above the highest ever given, disabled users' included). A disabled user's
-- token no longer authenticates, and its jobs are finished in the same transaction.

ALTER TABLE users ADD COLUMN disabled_at DATETIME(6) NULL AFTER run_uid;
