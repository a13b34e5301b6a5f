-- Jobs: the queue and the record of every submission, shared by every node of a cluster. Times
-- are milliseconds since the Unix epoch (UTC) in BIGINT; JSON documents are TEXT, as in the
-- SQLite schema (migrations/sqlite), so both stores read and write the same values.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    name             TEXT,
    status           TEXT NOT NULL
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         BIGINT NOT NULL DEFAULT 0,
    spec             TEXT NOT NULL,
    resolved_spec    TEXT NOT NULL,
    -- a u64 in decimal: BIGINT is signed 64-bit
    seed             TEXT NOT NULL,
    parameter_count  BIGINT NOT NULL,
    total_steps      BIGINT NOT NULL,
    epochs           BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    -- fences every write of a running attempt: only the latest attempt may write
    attempt          BIGINT NOT NULL DEFAULT 0,
    -- `node/worker-n` of the running (or last) attempt
    worker           TEXT,
    -- a running job belongs to its attempt until then; the node renews it by heartbeat and
    -- any node takes the job over once it has passed
    lease_expires_at BIGINT,
    progress         TEXT,
    error            TEXT,
    weights_sha256   TEXT,
    idempotency_key  TEXT UNIQUE,
    request_hash     TEXT
);

CREATE INDEX jobs_queue ON jobs (priority DESC, created_at, id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_listing ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_listing_by_status ON jobs (status, created_at DESC, id DESC);

-- Terminal states never change again, whatever code path tries.
CREATE FUNCTION jobs_terminal_status_is_final() RETURNS trigger AS $$
BEGIN
    IF OLD.status IN ('succeeded', 'failed', 'cancelled') AND NEW.status <> OLD.status THEN
        RAISE EXCEPTION 'a finished job keeps its status';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_terminal_status_is_final
BEFORE UPDATE OF status ON jobs
FOR EACH ROW EXECUTE FUNCTION jobs_terminal_status_is_final();

-- Which uploaded datasets a job reads, so that a dataset in use cannot be deleted.
CREATE TABLE job_datasets (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    dataset_id TEXT NOT NULL,
    PRIMARY KEY (job_id, dataset_id)
);

CREATE INDEX job_datasets_by_dataset ON job_datasets (dataset_id);
