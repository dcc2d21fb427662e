-- Assay's run history. Forward-only: a change is a new numbered file, never an edit.

-- Every model ever measured, by content.
CREATE TABLE models (
    sha256      TEXT PRIMARY KEY NOT NULL,
    path        TEXT NOT NULL,           -- the path it was last seen at
    size_bytes  INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,        -- unix seconds
    last_seen   INTEGER NOT NULL
);

-- A benchmark or profile run.
CREATE TABLE runs (
    id           TEXT PRIMARY KEY NOT NULL,   -- short random id, printed to the user
    kind         TEXT NOT NULL CHECK (kind IN ('bench', 'profile')),
    model_sha256 TEXT NOT NULL REFERENCES models (sha256),
    created_at   INTEGER NOT NULL,            -- unix seconds
    config       TEXT NOT NULL,               -- JSON: the settings
    environment  TEXT NOT NULL,               -- JSON: the environment fingerprint
    summary      TEXT NOT NULL                -- JSON: the report without raw samples
);
CREATE INDEX runs_by_model ON runs (model_sha256, created_at);
CREATE INDEX runs_by_time ON runs (created_at);

-- Every latency sample of a result row, in measurement order, delta+zigzag+LEB128 encoded.
CREATE TABLE samples (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    row_index   INTEGER NOT NULL,
    provider    TEXT NOT NULL,
    batch       INTEGER NOT NULL,
    concurrency INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    encoding    TEXT NOT NULL,               -- 'ns-delta-zigzag-leb128'
    data        BLOB NOT NULL,
    PRIMARY KEY (run_id, row_index)
);

-- Operator profiles: the aggregates, the folded stacks, and where the trace file is.
CREATE TABLE profiles (
    run_id      TEXT PRIMARY KEY NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    optimized   INTEGER NOT NULL,
    operators   TEXT NOT NULL,               -- JSON: per node and per op type
    overhead    TEXT NOT NULL,               -- JSON: profiled vs unprofiled p50
    folded      TEXT NOT NULL,               -- folded stacks (flamegraph.folded)
    trace_path  TEXT                         -- the Chrome trace written by `assay profile`
);
