-- GET /audit filters by actor and by time, newest first: an index for each, so that neither
-- reads the whole log.

ALTER TABLE audit_log
    ADD KEY audit_actor (actor, id),
    ADD KEY audit_at (at);
