-- ORDER BY the timestamp key with LIMIT over raw rows reads windows of time from the newest (or
-- oldest) row on, and stops once the windows read hold LIMIT + OFFSET rows. `ticks`: hosts a and
-- b every 10 s from 2024-01-01 00:00 to 02:00 and host c until 00:30, the first hour in one SST,
-- the next 55 minutes in another, the last 5 minutes in the memtable with a's point at 01:50
-- overwritten there (v = -1).

-- The newest rows, from the memtable; hosts tie on every timestamp (they keep the scan's order).
SELECT host, ts, v FROM ticks ORDER BY ts DESC LIMIT 5;
EXPLAIN SELECT host, ts, v FROM ticks ORDER BY ts DESC LIMIT 5;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks ORDER BY ts DESC LIMIT 5;

-- The oldest rows, ascending.
SELECT host, ts, v FROM ticks ORDER BY ts LIMIT 4;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks ORDER BY ts ASC LIMIT 4;

-- OFFSET: the windows must hold OFFSET + LIMIT rows.
SELECT host, ts, v FROM ticks ORDER BY ts DESC LIMIT 3 OFFSET 60;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks ORDER BY ts DESC LIMIT 3 OFFSET 60;
SELECT host, ts, v FROM ticks ORDER BY ts LIMIT 2, 3;

-- With a time range (one side or both), an alias, more sort keys after the timestamp, a hidden one.
SELECT ts AS t, host, v FROM ticks WHERE ts < TIMESTAMP '2024-01-01 01:00' ORDER BY t DESC, host DESC LIMIT 4;
SELECT host, ts, v FROM ticks WHERE ts >= TIMESTAMP '2024-01-01 00:59:40' ORDER BY ts, host DESC LIMIT 5;
SELECT host, v FROM ticks WHERE ts BETWEEN '2024-01-01 01:00' AND '2024-01-01 01:01' ORDER BY ts DESC LIMIT 3;
EXPLAIN SELECT host, v FROM ticks WHERE ts BETWEEN '2024-01-01 01:00' AND '2024-01-01 01:01' ORDER BY ts DESC LIMIT 3;
SELECT host, ts FROM ticks WHERE ts > TIMESTAMP '2024-03-01' ORDER BY ts DESC LIMIT 3;

-- Across an SST and the memtable: the overwrite in the memtable wins over its SST row; and rows
-- of one host read on from the memtable into the SST before it.
SELECT host, ts, v FROM ticks WHERE host = 'a' AND ts <= TIMESTAMP '2024-01-01 01:50' ORDER BY ts DESC LIMIT 3;
SELECT host, ts, v FROM ticks WHERE host = 'a' ORDER BY ts DESC LIMIT 3 OFFSET 28;

-- A host that stopped early: the windows widen back to its rows.
SELECT host, ts, v FROM ticks WHERE host = 'c' ORDER BY ts DESC LIMIT 2;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks WHERE host = 'c' ORDER BY ts DESC LIMIT 2;

-- A condition the scan does not apply: the windows widen until enough rows pass it.
SELECT host, ts, v FROM ticks WHERE v < 2 ORDER BY ts DESC LIMIT 3;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks WHERE v < 2 ORDER BY ts DESC LIMIT 3;

-- Fewer rows than asked for: the windows are read up to the newest row, then stop (no probe).
SELECT host, ts, v FROM ticks WHERE host = 'b' AND ts >= TIMESTAMP '2024-01-01 01:59:00' ORDER BY ts LIMIT 10;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks WHERE host = 'b' AND ts >= TIMESTAMP '2024-01-01 01:59:00' ORDER BY ts LIMIT 10;

-- A tag filter matching nothing, and an empty table (no window: the plan runs once).
SELECT host, ts, v FROM ticks WHERE host = 'none' ORDER BY ts DESC LIMIT 3;
EXPLAIN ANALYZE SELECT host, ts, v FROM ticks WHERE host = 'none' ORDER BY ts DESC LIMIT 3;
SELECT * FROM empty ORDER BY ts DESC LIMIT 3;
EXPLAIN SELECT * FROM empty ORDER BY ts DESC LIMIT 3;

-- `cpu`: two SSTs and a memtable overlapping in time, overwrites in the memtable.
SELECT host, ts, usage_user, note FROM cpu ORDER BY ts DESC LIMIT 4;
SELECT host, ts, usage_user, note FROM cpu WHERE ts <= TIMESTAMP '2024-01-01 00:01' ORDER BY ts DESC, host LIMIT 3 OFFSET 1;
SELECT host, ts, usage_user FROM cpu ORDER BY ts LIMIT 2 OFFSET 2;

-- Not read in windows: no LIMIT, DISTINCT, the order starting with another key or an expression.
EXPLAIN SELECT host, ts FROM ticks ORDER BY ts DESC;
EXPLAIN SELECT DISTINCT host, ts FROM ticks ORDER BY ts DESC LIMIT 2;
EXPLAIN SELECT host, ts FROM ticks ORDER BY host, ts DESC LIMIT 2;
EXPLAIN SELECT host, ts FROM ticks ORDER BY ts + INTERVAL '1 second' DESC LIMIT 2;

-- A time bucket without a time range: the windows start at the newest row too.
SELECT time_bucket(ts, 'PT10M') AS m, count(*) FROM ticks GROUP BY m ORDER BY m DESC LIMIT 2;
EXPLAIN ANALYZE SELECT time_bucket(ts, 'PT10M') AS m, count(*) FROM ticks GROUP BY m ORDER BY m DESC LIMIT 2;
