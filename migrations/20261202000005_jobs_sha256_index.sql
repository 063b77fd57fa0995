-- The leader's blob sweep asks which digests jobs still name.
CREATE INDEX jobs_sha256 ON jobs (sha256);
