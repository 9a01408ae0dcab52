-- Comparisons and boolean logic.
SELECT host, ts, usage_user FROM cpu WHERE usage_user > 30 OR (host = 'a' AND usage_user <= 11);
SELECT host, ts FROM cpu WHERE NOT (host != 'c') AND ts >= '2024-01-01 00:02:00';

-- NULL never satisfies a comparison; three-valued logic.
SELECT host, ts, usage_user FROM cpu WHERE usage_user = NULL;
SELECT host, ts, usage_user FROM cpu WHERE usage_user IS NULL;
SELECT count(*) FROM cpu WHERE usage_user IS NOT NULL;
SELECT host, ts, healthy, healthy OR usage_user > 20 AS either, healthy AND usage_user > 20 AS both FROM cpu WHERE host = 'b';
SELECT host, ts FROM cpu WHERE healthy IS NOT TRUE AND host = 'a';
SELECT count(*) FROM cpu WHERE NOT healthy;

-- IN and NOT IN, with a NULL in the list.
SELECT host, ts FROM cpu WHERE cores IN (2, 8) AND ts = TIMESTAMP '2024-01-01 00:00:00';
SELECT host, count(*) FROM cpu WHERE host NOT IN ('a') GROUP BY host ORDER BY host;
SELECT count(*) FROM cpu WHERE host NOT IN ('a', NULL);

-- BETWEEN (inclusive), NOT BETWEEN.
SELECT host, ts, usage_user FROM cpu WHERE usage_user BETWEEN 20 AND 23 ORDER BY usage_user;
SELECT count(*) FROM cpu WHERE ts NOT BETWEEN TIMESTAMP '2024-01-01 00:00:30' AND TIMESTAMP '2024-01-01 00:02:00';

-- LIKE and ILIKE: % any run, _ one character.
SELECT host, ts, note FROM cpu WHERE note LIKE 'start%';
SELECT host, ts, note FROM cpu WHERE note LIKE '_-_' AND host = 'c';
SELECT count(*) FROM cpu WHERE note ILIKE 'START %';
SELECT count(*) FROM cpu WHERE note NOT LIKE '%-%';

-- CAST and CASE.
SELECT host, ts, CAST(usage_user AS int64) AS u, CAST(healthy AS string) AS h FROM cpu WHERE host = 'b';
SELECT host, ts, CASE WHEN usage_user IS NULL THEN 'none' WHEN usage_user > 22 THEN 'high' ELSE 'low' END AS level FROM cpu WHERE host = 'b';
SELECT CASE host WHEN 'a' THEN 1 WHEN 'b' THEN 2 END AS code, count(*) FROM cpu GROUP BY code ORDER BY code;
SELECT host, ts, CASE WHEN requests = 100 THEN 0 ELSE 1000 / (requests - 100) END AS safe FROM cpu WHERE host = 'a';

-- uint64 (the generated tsid) against signed integers and exact uint64 literals.
SELECT count(*) FROM cpu WHERE tsid > -1;
SELECT host FROM cpu WHERE tsid = 10433508962914594359 LIMIT 1;
