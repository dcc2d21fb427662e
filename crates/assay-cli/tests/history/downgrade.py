"""Writes the history in NEW (today's schema) into OLD in the first schema
(migrations/0001_runs.sql), as an Assay from before the summary columns left it: settings and
environment in their own columns, the profile's overhead beside its operators.

usage: downgrade.py NEW OLD SCHEMA_0001
"""
import sqlite3
import sys

new_path, old_path, schema = sys.argv[1:4]
new = sqlite3.connect(new_path)
old = sqlite3.connect(old_path)
old.executescript(open(schema).read())
# sqlx's own bookkeeping, copied as sqlx wrote it: migration 1 applied, with its checksum.
(ddl,) = new.execute("SELECT sql FROM sqlite_master WHERE name = '_sqlx_migrations'").fetchone()
old.execute(ddl)
old.execute(
    "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) "
    "SELECT ?, ?, ?, ?, ?, ?",
    new.execute(
        "SELECT version, description, installed_on, success, checksum, execution_time "
        "FROM _sqlx_migrations WHERE version = 1"
    ).fetchone(),
)
for r in new.execute("SELECT sha256, path, size_bytes, first_seen, last_seen FROM models"):
    old.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?)", r)
for r in new.execute(
    "SELECT id, kind, model_sha256, created_at, json_extract(summary, '$.settings'), "
    "json_extract(summary, '$.environment'), summary FROM runs"
):
    old.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", r)
for r in new.execute(
    "SELECT run_id, row_index, provider, batch, concurrency, count, encoding, data FROM samples"
):
    old.execute("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)", r)
for r in new.execute(
    "SELECT run_id, optimized, "
    "json_remove(operators, '$.schema', '$.overhead', '$.kernel_ms_per_inference'), "
    "json_extract(operators, '$.overhead'), folded, trace_path FROM profiles"
):
    old.execute("INSERT INTO profiles VALUES (?, ?, ?, ?, ?, ?)", r)
old.commit()
