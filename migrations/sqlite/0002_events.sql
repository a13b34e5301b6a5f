-- Everything that happens to a job, in order: status transitions (the job's history), epoch
-- records (its metrics), step records and log lines. `seq` is the SSE event id.
CREATE TABLE job_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind   TEXT NOT NULL CHECK (kind IN ('status', 'epoch', 'step', 'log')),
    epoch  INTEGER,
    body   TEXT NOT NULL,
    at     INTEGER NOT NULL
);

CREATE INDEX job_events_by_job ON job_events (job_id, seq);
CREATE INDEX job_events_by_kind_and_epoch ON job_events (job_id, kind, epoch);
