-- A sweep submitted with an `Idempotency-Key` header keeps the key and a hash of the request,
-- so a retried POST returns the sweep the first one created instead of queueing its jobs
-- twice. Sweep keys are their own namespace, apart from the keys of single jobs.
ALTER TABLE sweeps ADD COLUMN idempotency_key TEXT;
ALTER TABLE sweeps ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX sweeps_idempotency_key ON sweeps (idempotency_key);
