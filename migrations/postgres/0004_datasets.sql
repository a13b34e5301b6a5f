-- Uploaded datasets, parsed once: a JSON description and the matrix as little-endian bytes.
CREATE TABLE datasets (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    rows         BIGINT NOT NULL,
    features     BIGINT NOT NULL,
    classes      BIGINT,
    label_column TEXT NOT NULL,
    meta         TEXT NOT NULL,
    matrix       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE INDEX datasets_listing ON datasets (created_at DESC, id DESC);
