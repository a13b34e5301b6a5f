-- The latest checkpoint of a running job: the engine's state at an optimizer-step boundary,
-- opaque bytes to the store. `last_seq` is the seq of the last epoch/step event it covers (0
-- when none): when the job goes back to the queue (requeue, or a lease that expired), its later
-- epoch and step events are deleted. The row goes when the job reaches a terminal status, and
-- with the job.
CREATE TABLE checkpoints (
    job_id     TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    attempt    BIGINT NOT NULL,
    epoch      BIGINT NOT NULL,
    step       BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
