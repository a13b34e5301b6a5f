-- The trained model of a succeeded job: a JSON description (architecture, tensor names and
-- shapes, standardization, class names) and the parameters as little-endian f32 bytes.
CREATE TABLE models (
    job_id         TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    meta           TEXT NOT NULL,
    weights        BYTEA NOT NULL,
    weights_sha256 TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
