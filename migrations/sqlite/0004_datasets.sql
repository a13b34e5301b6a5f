-- Uploaded datasets, parsed once: a JSON description and the matrix as little-endian bytes.
CREATE TABLE datasets (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    rows         INTEGER NOT NULL,
    features     INTEGER NOT NULL,
    classes      INTEGER,
    label_column TEXT NOT NULL,
    meta         TEXT NOT NULL,
    matrix       BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX datasets_listing ON datasets (created_at DESC, id DESC);
