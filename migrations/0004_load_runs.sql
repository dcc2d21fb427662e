-- Served load runs (`assay load`) join the history as a third kind of run: the same report
-- document and samples as a benchmark, measured against a server instead of a local session.
--
-- SQLite cannot change a CHECK constraint in place, so `runs` is rebuilt. The migration runs
-- in one transaction with foreign keys on (sqlx's SQLite migrator always opens one, and
-- `PRAGMA foreign_keys` is a no-op inside a transaction), so dropping the old table
-- cascades to the samples and profiles that refer to it: they are kept aside and put back.
CREATE TABLE runs_new (
    id           TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('bench', 'profile', 'load')),
    model_sha256 TEXT NOT NULL REFERENCES models (sha256),
    created_at   INTEGER NOT NULL,
    summary      TEXT NOT NULL,
    model_path   TEXT NOT NULL DEFAULT '',
    rows         INTEGER NOT NULL DEFAULT 0,
    p50_ms       REAL,
    p99_ms       REAL,
    providers    TEXT NOT NULL DEFAULT ''
);
-- In rowid order: listing breaks ties of created_at by rowid.
INSERT INTO runs_new (id, kind, model_sha256, created_at, summary, model_path, rows, p50_ms, p99_ms, providers)
    SELECT id, kind, model_sha256, created_at, summary, model_path, rows, p50_ms, p99_ms, providers
    FROM runs ORDER BY rowid;
CREATE TEMP TABLE samples_kept AS SELECT * FROM samples;
CREATE TEMP TABLE profiles_kept AS SELECT * FROM profiles;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_model ON runs (model_sha256, created_at);
CREATE INDEX runs_by_time ON runs (created_at);
INSERT INTO samples SELECT * FROM samples_kept;
INSERT INTO profiles SELECT * FROM profiles_kept;
DROP TABLE samples_kept;
DROP TABLE profiles_kept;
