-- Jobs: the queue and the record of every submission. Times are milliseconds since the Unix
-- epoch (UTC); JSON documents are stored as TEXT so the schema ports to PostgreSQL unchanged.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    name             TEXT,
    status           TEXT NOT NULL
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    spec             TEXT NOT NULL,
    resolved_spec    TEXT NOT NULL,
    -- a u64 in decimal: SQLite integers are signed 64-bit
    seed             TEXT NOT NULL,
    parameter_count  INTEGER NOT NULL,
    total_steps      INTEGER NOT NULL,
    epochs           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    worker           TEXT,
    progress         TEXT,
    error            TEXT,
    weights_sha256   TEXT,
    idempotency_key  TEXT UNIQUE,
    request_hash     TEXT
);

CREATE INDEX jobs_queue ON jobs (priority DESC, created_at, id) WHERE status = 'queued';
CREATE INDEX jobs_listing ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_listing_by_status ON jobs (status, created_at DESC, id DESC);

-- Terminal states never change again, whatever code path tries.
CREATE TRIGGER jobs_terminal_status_is_final
BEFORE UPDATE OF status ON jobs
WHEN OLD.status IN ('succeeded', 'failed', 'cancelled') AND NEW.status <> OLD.status
BEGIN
    SELECT RAISE(ABORT, 'a finished job keeps its status');
END;

-- Which uploaded datasets a job reads, so that a dataset in use cannot be deleted.
CREATE TABLE job_datasets (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    dataset_id TEXT NOT NULL,
    PRIMARY KEY (job_id, dataset_id)
);

CREATE INDEX job_datasets_by_dataset ON job_datasets (dataset_id);
