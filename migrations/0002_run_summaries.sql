-- Listing runs reads columns, not reports: the figures `assay runs list` and the console's
-- Runs view show are kept beside each run, so no report is decoded to list them. And
-- nothing is stored twice: the settings and the environment are part of the report
-- (`summary`), and a profile's overhead is part of its operators document.

ALTER TABLE runs ADD COLUMN model_path TEXT NOT NULL DEFAULT '';  -- the path it was run from
ALTER TABLE runs ADD COLUMN rows       INTEGER NOT NULL DEFAULT 0; -- result rows
ALTER TABLE runs ADD COLUMN p50_ms     REAL;                       -- first row's p50
ALTER TABLE runs ADD COLUMN p99_ms     REAL;                       -- first row's p99
ALTER TABLE runs ADD COLUMN providers  TEXT NOT NULL DEFAULT '';   -- comma-separated, in row order

UPDATE runs SET
    model_path = coalesce(json_extract(summary, '$.model.path'), ''),
    rows       = coalesce(json_array_length(summary, '$.results'), 0),
    p50_ms     = json_extract(summary, '$.results[0].latency_ms.p50'),
    p99_ms     = json_extract(summary, '$.results[0].latency_ms.p99'),
    providers  = coalesce((SELECT group_concat(p, ',') FROM (
                     SELECT DISTINCT json_extract(value, '$.provider') AS p
                     FROM json_each(runs.summary, '$.results') ORDER BY key)), '');

ALTER TABLE runs DROP COLUMN config;
ALTER TABLE runs DROP COLUMN environment;

-- The operators document becomes the whole `assay.operators/1` document.
UPDATE profiles SET operators = json_set(
    operators,
    '$.schema', 'assay.operators/1',
    '$.overhead', json(overhead),
    '$.kernel_ms_per_inference', coalesce(json_extract(operators, '$.kernel_ms_per_inference'),
        (SELECT sum(json_extract(value, '$.per_inference_us')) / 1000.0
         FROM json_each(profiles.operators, '$.op_types')), 0.0));
ALTER TABLE profiles DROP COLUMN overhead;
