-- When a job's schedule (or its time zone) last changed: workers count its ticks from the
-- later of its creation, its latest resume and this, so an edit never makes a time of the new
-- schedule that fell before the edit a tick to catch up.

ALTER TABLE jobs
    ADD COLUMN schedule_changed_at DATETIME(6) NULL;
