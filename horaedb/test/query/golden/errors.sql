-- Unknown names, with where they are.
SELECT nope FROM cpu;
SELECT host,
       Usage_User FROM cpu;
SELECT * FROM nope;
SELECT x.host FROM cpu;
SELECT foo(host) FROM cpu;
SELECT nope;

-- Types.
SELECT sum(host) FROM cpu;
SELECT avg(note) FROM cpu;
SELECT host + 1 FROM cpu;
SELECT * FROM cpu WHERE usage_user;
SELECT * FROM cpu WHERE host = 5;
SELECT * FROM cpu WHERE usage_user = 'high';
SELECT * FROM cpu WHERE note LIKE 5;
SELECT time_bucket(ts, 'P1M') FROM cpu;
SELECT time_bucket(ts, '1 minute') FROM cpu;
SELECT date_trunc('fortnight', ts) FROM cpu;
SELECT time_bucket(host, 'PT1M') FROM cpu;
SELECT INTERVAL '1 hour';
SELECT CAST('abc' AS double);

-- Aggregates where they cannot be.
SELECT * FROM cpu WHERE count(*) > 1;
SELECT max(count(*)) FROM cpu;
SELECT host, count(*) FROM cpu;
SELECT host FROM cpu GROUP BY region;
SELECT count(*) FROM cpu GROUP BY count(*);
SELECT sum(DISTINCT usage_user) FROM cpu;
SELECT max(*) FROM cpu;

-- Positions, limits, DISTINCT with ORDER BY.
SELECT host FROM cpu ORDER BY 2;
SELECT host FROM cpu GROUP BY 3;
SELECT DISTINCT host FROM cpu ORDER BY ts;
SELECT 1 / 0;
SELECT host, requests / (cores - cores) FROM cpu WHERE requests IS NOT NULL;
