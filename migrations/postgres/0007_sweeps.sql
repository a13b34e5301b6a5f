-- Sweeps: one base job spec and a grid of values for some of its fields, expanded into one job
-- per combination, as in migrations/sqlite/0007_sweeps.sql. The jobs are ordinary rows of
-- `jobs`; `sweep_jobs` says which sweep each belongs to, in which position, and which values the
-- grid set for it. Deleting a job on its own takes it out of its sweep; deleting a sweep deletes
-- its jobs (the store does both in one transaction).
CREATE TABLE sweeps (
    id         TEXT PRIMARY KEY,
    name       TEXT,
    -- the base spec and the grid as submitted, JSON text
    base       TEXT NOT NULL,
    grid       TEXT NOT NULL,
    -- a u64 in decimal: the seed every job of the sweep starts from unless the grid sets one
    seed       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX sweeps_listing ON sweeps (created_at DESC, id DESC);

CREATE TABLE sweep_jobs (
    sweep_id  TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    position  BIGINT NOT NULL,
    job_id    TEXT NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    -- {grid key: value} of this job, JSON text
    overrides TEXT NOT NULL,
    PRIMARY KEY (sweep_id, position)
);
