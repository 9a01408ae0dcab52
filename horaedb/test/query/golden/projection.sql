-- Every column, overwritten rows from the memtable included. Without ORDER BY, rows come out by
-- stretches of time (where the SSTs and the memtable overlap, the shared stretch), each in key order.
SELECT * FROM cpu;

-- Columns, aliases, expressions; qualified names and a table alias.
SELECT host, ts AS t, usage_user * 2 AS double_usage, requests + 1, cores * 2, cpu.note FROM cpu WHERE host = 'a';
SELECT c.host, c.region FROM cpu AS c WHERE c.ts = TIMESTAMP '2024-01-01 00:00:00';

-- Integer arithmetic is exact int64; int32 widens; division truncates toward zero.
SELECT requests / 7, requests % 7, -requests, cores - 10, 9223372036854775807 - requests FROM cpu WHERE host = 'b';

-- Timestamps: interval arithmetic, differences in milliseconds, now() fixed per query.
SELECT ts + INTERVAL '1 hour', ts - INTERVAL '1 month', now() - ts FROM cpu WHERE host = 'c' AND ts < TIMESTAMP '2024-01-01 00:01:00';

-- SELECT without FROM.
SELECT 1 + 1, 2.5 * 2, 'x' AS s, NULL AS n, TRUE AND NULL, now(), now() - INTERVAL '1 hour' AS an_hour_ago;
SELECT CAST('42' AS int64) + 1, CAST(3.9 AS int32), CAST(TIMESTAMP '2024-03-01 12:00' AS int64), '2024-01-01'::timestamp;
SELECT abs(-3), round(2.5), floor(-1.5), ceil(1.2), sqrt(16.0), power(2, 10), lower('AbC'), upper('x'), length('héllo');
SELECT coalesce(NULL, 2, 3), concat('a', NULL, 1), date_trunc('month', TIMESTAMP '2024-02-17 13:14:15');
SELECT count(*), sum(1), max('z');

-- Literals adapt to each other: uint64 with small integers, integers with fractions.
SELECT 18446744073709551615 - 1, 1 + 2.5, 2.5 + 1, 1 = '1', '2024-01-01' < TIMESTAMP '2024-01-02';
