-- Each aggregate per host (NULLs skipped; first/last by timestamp, NULLs skipped).
SELECT host, count(*), count(usage_user), count(DISTINCT cores), sum(usage_user), sum(requests), avg(usage_user), min(usage_user), max(usage_user), first(usage_user), last(usage_user) FROM cpu GROUP BY host ORDER BY host;
SELECT host, min(note), max(note), first(note), last(note), min(ts), max(ts), min(healthy), max(healthy) FROM cpu GROUP BY host ORDER BY host;

-- Global aggregation: one row; over no rows count is 0 and the others NULL.
SELECT count(*), sum(usage_user), avg(cores), max(ts) FROM cpu;
SELECT count(*), count(value), sum(value), avg(value), min(value), max(value), first(value), last(value) FROM empty;
SELECT count(*), sum(usage_user) FROM cpu WHERE host = 'nobody';
SELECT host, count(*) FROM cpu WHERE host = 'nobody' GROUP BY host;

-- Result types: sum of int32 is int64, of double double, avg always double.
SELECT sum(cores), sum(requests), avg(requests), count(DISTINCT region), count(DISTINCT note) FROM cpu;

-- Group by time: time_bucket (ISO-8601 durations) and date_trunc.
SELECT time_bucket(ts, 'PT1M') AS minute, count(*), max(usage_user) FROM cpu GROUP BY minute ORDER BY minute;
SELECT time_bucket(ts, 'PT1M') AS minute, host, avg(usage_system) FROM cpu WHERE host IN ('a', 'c') GROUP BY minute, host ORDER BY minute, host;
SELECT date_trunc('minute', ts) AS m, count(*) FROM cpu GROUP BY 1 ORDER BY 1;
SELECT time_bucket(ts, 'PT5M'), count(*) FROM cpu GROUP BY time_bucket(ts, 'PT5M');
SELECT time_bucket(ts, 'P1D') AS day, sensor, count(*), avg(value) FROM readings GROUP BY day, sensor ORDER BY day, sensor LIMIT 5;
SELECT date_trunc('hour', ts) AS h, max(value) FROM readings WHERE sensor = 's3' AND ts >= TIMESTAMP '2024-01-02 22:00' AND ts < TIMESTAMP '2024-01-03 02:00' GROUP BY h ORDER BY h;

-- Group by an expression, by a tag not selected, HAVING on an aggregate.
SELECT region, max(usage_user) - min(usage_user) AS spread FROM cpu GROUP BY region ORDER BY region;
SELECT count(*) FROM cpu GROUP BY host;
SELECT host, count(*) AS n FROM cpu GROUP BY host HAVING sum(requests) > 1000 ORDER BY n DESC, host;
SELECT healthy, count(*) FROM cpu GROUP BY healthy ORDER BY healthy;
SELECT cores % 4 AS k, count(*) FROM cpu GROUP BY cores % 4 ORDER BY k;

-- DISTINCT.
SELECT DISTINCT region FROM cpu ORDER BY region;
SELECT DISTINCT host, region FROM cpu ORDER BY host DESC;

-- The last value per host (lastpoint).
SELECT host, last(usage_user), max(ts) FROM cpu GROUP BY host ORDER BY host;

-- Constant keys.
SELECT NULL AS nothing, 'x' AS x, count(*) FROM cpu GROUP BY 1, 2;
