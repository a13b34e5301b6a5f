-- Everything that happens to a job, in order: status transitions (the job's history), epoch
-- records (its metrics), step records and log lines. `seq` is the SSE event id. Identity values
-- are handed out before commit, so across jobs they may commit out of order; within one job
-- they do not, because every write that appends a job's events holds the job's row lock until
-- it commits (see src/store/postgres.rs).
CREATE TABLE job_events (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind   TEXT NOT NULL CHECK (kind IN ('status', 'epoch', 'step', 'log')),
    epoch  BIGINT,
    body   TEXT NOT NULL,
    at     BIGINT NOT NULL
);

CREATE INDEX job_events_by_job ON job_events (job_id, seq);
CREATE INDEX job_events_by_kind_and_epoch ON job_events (job_id, kind, epoch);
