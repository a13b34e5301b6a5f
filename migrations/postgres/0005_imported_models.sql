-- Models imported with POST /v1/models (trainyard JSON or safetensors): the same description
-- and little-endian f32 blob as a job's model (0003_models.sql), under their own id, with the
-- figures the API lists without decoding the description.
CREATE TABLE imported_models (
    id              TEXT PRIMARY KEY,
    meta            TEXT NOT NULL,
    weights         BYTEA NOT NULL,
    weights_sha256  TEXT NOT NULL,
    parameter_count BIGINT NOT NULL,
    input_width     BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
