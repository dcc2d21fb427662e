-- Output comparisons (`assay accuracy`). Kept apart from the timing runs: their document is
-- `assay.accuracy/1`, they have no latency samples, and listing them reads these columns,
-- never the document.
CREATE TABLE accuracy_runs (
    id            TEXT PRIMARY KEY NOT NULL,          -- 8 hex digits, like a run's
    model_sha256  TEXT NOT NULL REFERENCES models (sha256),  -- the reference's model
    model_path    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,                   -- unix seconds
    candidates    INTEGER NOT NULL,
    passed        INTEGER NOT NULL,                   -- 1 when every candidate passed
    worst_max_abs REAL,                               -- the largest max abs error of any output
    labels        TEXT NOT NULL,                      -- the candidates' labels, ' | '-separated
    report        TEXT NOT NULL                       -- the assay.accuracy/1 document
);
CREATE INDEX accuracy_runs_by_model ON accuracy_runs (model_sha256, created_at);
