-- The latest checkpoint of a running job: the engine's state at an optimizer-step boundary as
-- opaque bytes (the `jobs` layer's versioned, checksummed format), the attempt that wrote it,
-- and the `seq` of the last epoch/step event it covers. One row per job, replaced in one
-- transaction, so a crash mid-write leaves the previous checkpoint whole.
CREATE TABLE checkpoints (
    job_id     TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    attempt    INTEGER NOT NULL,
    epoch      INTEGER NOT NULL,
    step       INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
