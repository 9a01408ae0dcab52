-- NULLs sort last ascending and first descending unless told.
SELECT host, ts, usage_user FROM cpu WHERE host = 'b' ORDER BY usage_user;
SELECT host, ts, usage_user FROM cpu WHERE host = 'b' ORDER BY usage_user DESC;
SELECT host, ts, usage_user FROM cpu WHERE host = 'b' ORDER BY usage_user ASC NULLS FIRST;
SELECT host, ts, usage_user FROM cpu WHERE host = 'b' ORDER BY usage_user DESC NULLS LAST;

-- Several keys, by name, by position, by an expression not selected.
SELECT host, ts, cores FROM cpu ORDER BY cores DESC, ts DESC LIMIT 4;
SELECT host, usage_system FROM cpu ORDER BY 2 DESC, 1 LIMIT 3;
SELECT host, ts FROM cpu ORDER BY usage_system * -1 LIMIT 2;
SELECT host, note FROM cpu WHERE note IS NOT NULL ORDER BY note LIMIT 4;

-- LIMIT / OFFSET, the MySQL form, LIMIT 0, OFFSET past the end.
SELECT host, ts FROM cpu ORDER BY host, ts LIMIT 2 OFFSET 5;
SELECT host, ts FROM cpu ORDER BY host, ts LIMIT 5, 2;
SELECT host FROM cpu LIMIT 0;
SELECT host FROM cpu ORDER BY ts OFFSET 100;
SELECT count(*) FROM cpu LIMIT 1;

-- Top-N over aggregates.
SELECT host, max(usage_user) AS peak FROM cpu GROUP BY host ORDER BY peak DESC LIMIT 2;
SELECT sensor, ts, value FROM readings ORDER BY value DESC LIMIT 3;

-- ORDER BY a time bucket with LIMIT: the aggregation runs over a window of the latest (or
-- earliest) buckets, widened while it has too few rows.
SELECT time_bucket(ts, 'PT1M') AS minute, count(*), max(usage_user) FROM cpu WHERE ts < TIMESTAMP '2024-01-01 00:03' GROUP BY minute ORDER BY minute DESC LIMIT 2;
SELECT time_bucket(ts, 'PT1M') AS minute, host, max(usage_user) FROM cpu WHERE ts >= TIMESTAMP '2024-01-01' GROUP BY minute, host ORDER BY minute, host LIMIT 4 OFFSET 1;
SELECT date_trunc('day', ts) AS day, count(*) FROM readings WHERE ts < TIMESTAMP '2024-02-01' GROUP BY day ORDER BY day DESC LIMIT 2;
