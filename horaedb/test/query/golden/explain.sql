-- The time range and tag filter pushed into the scan, and only the columns used read.
EXPLAIN SELECT time_bucket(ts, 'PT1M') AS minute, max(usage_user) FROM cpu WHERE host = 'a' AND ts >= TIMESTAMP '2024-01-01' AND ts < TIMESTAMP '2024-01-01 01:00' GROUP BY minute ORDER BY minute;
EXPLAIN SELECT host, avg(usage_user) FROM cpu WHERE ts BETWEEN now() - INTERVAL '2 minutes' AND now() AND host IN ('a', 'b') AND usage_user > 10 GROUP BY host;
EXPLAIN SELECT * FROM cpu WHERE region = 'eu' AND region IN ('eu', 'us') ORDER BY ts DESC LIMIT 10 OFFSET 1;
EXPLAIN SELECT count(*) FROM readings;
EXPLAIN SELECT DISTINCT sensor FROM readings WHERE ts = TIMESTAMP '2024-01-02 03:00';
EXPLAIN SELECT host FROM cpu WHERE host = 'a' AND host = 'b';
EXPLAIN SELECT 1;
-- ORDER BY a time bucket with LIMIT: the plan below the top-N runs over a first window of 8 buckets.
EXPLAIN SELECT time_bucket(ts, 'PT1M') AS minute, max(usage_user) FROM cpu WHERE ts < TIMESTAMP '2024-01-01 00:03' GROUP BY minute ORDER BY minute DESC LIMIT 2;
EXPLAIN SELECT date_trunc('day', ts) AS day, count(*) FROM readings WHERE ts >= TIMESTAMP '2024-01-01' GROUP BY day HAVING count(*) > 1 ORDER BY day LIMIT 1;
