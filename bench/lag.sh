#!/usr/bin/env bash
# Replication delay under a steady load: per-row delay from the source write
# to the row's first appearance on the target, for `sluice run` and, as the
# reference, a native MariaDB replica (--slave-parallel-threads=4
# --slave-parallel-mode=optimistic), one after the other on the same source.
#
#   bash bench/lag.sh                     # 8,000 rows/s for 30 s, each target
#   RATE=20000 SECONDS_LOAD=60 bash bench/lag.sh
#
# The load and the measurement are bench/lag_probe (lag_probe.cc, built with
# the benchmarks): one thread INSERTs RATE rows/s into bench.lag on the source
# in autocommit transactions of TXN_ROWS (10) rows on a fixed schedule, each
# row carrying its write time (the client clock just before the INSERT was
# sent, column src_ms); another asks the target every POLL_MS (10) ms for the
# ids it has not seen yet and stamps each with the time the answer came
# back. Delay of a row = that stamp - its write time (rounded up by at most
# POLL_MS plus one query). Reported: p50 / p90 / p99 / p99.9 / max over all
# rows, and per 5-second window. Goal: sluice p99 < 40 ms (issue 13).
#
# sluice: `sluice run` (start: earliest, so the table's CREATE replicates;
# batch {size: BATCH (1000), timeout_ms: BATCH_TIMEOUT_MS (200)}, parallel:
# PARALLEL (4)), started and caught up before the load begins. Its own
# gauge sluice_apply_delay_seconds is scraped from /metrics every 250 ms during the load
# and reported for comparison (it estimates commit times from binlog
# timestamps, which have one-second resolution on MariaDB).
# replica: CHANGE MASTER TO ... binlog.000001:4, caught up, then the same load.
#
# Environment: RATE (8000), SECONDS_LOAD (30), TXN_ROWS (10), POLL_MS (10),
# BATCH, BATCH_TIMEOUT_MS, PARALLEL, REPLICA_THREADS (4), REFERENCE (1:
# measure the replica too), LAG_PROBE (path of the lag_probe binary),
# GOAL_P99_MS (40), TARGET_ARGS (extra mariadbd options of both targets,
# e.g. --innodb-flush-log-at-trx-commit=2), KEEP=1 (keep the work directory).
#
# Exit status: 0 goal met, 3 goal missed, other: the benchmark failed.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=${RATE:-8000}
SECONDS_LOAD=${SECONDS_LOAD:-30}
TXN_ROWS=${TXN_ROWS:-10}
POLL_MS=${POLL_MS:-10}
BATCH=${BATCH:-1000}
BATCH_TIMEOUT_MS=${BATCH_TIMEOUT_MS:-200}
PARALLEL=${PARALLEL:-4}
REPLICA_THREADS=${REPLICA_THREADS:-4}
REFERENCE=${REFERENCE:-1}
GOAL_P99_MS=${GOAL_P99_MS:-40}
LAG_PROBE=${LAG_PROBE:-$BENCH_ROOT/build/bench/lag_probe}
for v in RATE SECONDS_LOAD TXN_ROWS POLL_MS BATCH BATCH_TIMEOUT_MS PARALLEL REPLICA_THREADS GOAL_P99_MS; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || bench_die "$v must be a positive integer (got '${!v}')"
done
ROWS=$((RATE * SECONDS_LOAD))

bench_need_sluice
[ -x "$LAG_PROBE" ] || bench_die "$LAG_PROBE not found: run 'make build' (it builds bench/lag_probe)"
command -v curl >/dev/null || bench_die "curl not found (to scrape /metrics)"

WORK=$(mktemp -d /tmp/sluice-bench-lag.XXXXXX)
SLUICE_PID=
SCRAPER_PID=
cleanup() {
  local status=$?
  if [ -n "$SCRAPER_PID" ]; then kill "$SCRAPER_PID" 2>/dev/null || true; wait "$SCRAPER_PID" 2>/dev/null || true; fi
  if [ -n "$SLUICE_PID" ]; then kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; fi
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then bench_log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The source is tuned to take the load without stalls (durability off): what
# is measured is the trip to the target.
bench_log "starting the source MariaDB in $WORK/src"
mariadb_start SRC "$WORK/src" 1 --binlog-format=ROW --binlog-row-metadata=FULL \
  --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
  --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --innodb-doublewrite=0
SRC_DIR=$WORK/src
SERVER_VERSION=$(mariadb_sql "$SRC_DIR" "SELECT VERSION()")
mariadb_sql "$SRC_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.lag (
  id BIGINT NOT NULL PRIMARY KEY,
  src_ms BIGINT NOT NULL,
  k INT NOT NULL,
  name VARCHAR(64) NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  KEY k (k)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"

src_end() { mariadb_sql "$SRC_DIR" "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }'; }

run_probe() {  # LABEL TARGET_PORT FIRST_ID OUTFILE
  local label=$1 port=$2 first=$3 out=$4 status=0
  bench_log "  $label: $RATE rows/s for $SECONDS_LOAD s (ids from $first)"
  "$LAG_PROBE" --source-port "$SRC_PORT" --target-port "$port" --table bench.lag --rate "$RATE" \
    --seconds "$SECONDS_LOAD" --txn-rows "$TXN_ROWS" --poll-ms "$POLL_MS" --first-id "$first" \
    --drain-seconds 60 >"$out" || status=$?
  [ "$status" -le 1 ] || bench_die "$label: lag_probe failed (status $status)"
  [ "$status" = 0 ] || bench_log "  $label: some rows never reached the target (see rows_unseen)"
}
get() { awk -F= -v k="$1" '$1 == k { print $2 }' "$2"; }

# --- sluice ---------------------------------------------------------------
TGT_DIR=$WORK/tgt
read -r -a TARGET_EXTRA <<<"${TARGET_ARGS:-}"
mariadb_start TGT "$TGT_DIR" 2 --skip-log-bin --innodb-buffer-pool-size=1G --innodb-log-file-size=512M "${TARGET_EXTRA[@]}"
HTTP_PORT=$(_mariadb_free_port)
cat >"$WORK/sluice.yaml" <<EOF
store: $WORK/sluice.db
http: 127.0.0.1:$HTTP_PORT
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  dst: {url: "mysql://root@127.0.0.1:$TGT_PORT"}
pipelines:
  - name: lag
    source: src
    targets: [dst]
    start: earliest
    tables:
      - match: "bench.*"
    batch: {size: $BATCH, timeout_ms: $BATCH_TIMEOUT_MS}
    parallel: $PARALLEL
EOF
"$SLUICE" run -c "$WORK/sluice.yaml" >"$WORK/sluice.log" 2>&1 &
SLUICE_PID=$!
# The CREATE TABLE is the last event: once the target has the table, sluice
# has caught up. (The checkpoint's resume position stays at the start of a
# DDL statement, so it is not compared with the source's end here.)
deadline=$((SECONDS + 60))
until mariadb_sql "$TGT_DIR" "SELECT 1 FROM bench.lag LIMIT 0" >/dev/null 2>&1; do
  kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice run exited: $(tail -n 20 "$WORK/sluice.log")"
  [ "$SECONDS" -lt "$deadline" ] || bench_die "sluice did not create bench.lag on the target within 60 s"
  sleep 0.1
done
bench_log "sluice caught up (the CREATE TABLE replicated)"

# sluice's own view: sluice_apply_delay_seconds (in ms) every 250 ms.
(
  while sleep 0.25; do
    curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^sluice_apply_delay_seconds[{ ]/ { print $NF * 1000 }' || true
  done
) >"$WORK/sluice_delay.txt" 2>/dev/null &
SCRAPER_PID=$!
cpu0=$(awk '{ print $14 + $15 }' "/proc/$SLUICE_PID/stat")
run_probe "sluice run" "$TGT_PORT" 1 "$WORK/sluice.out"
cpu1=$(awk '{ print $14 + $15 }' "/proc/$SLUICE_PID/stat")
kill "$SCRAPER_PID" 2>/dev/null || true
wait "$SCRAPER_PID" 2>/dev/null || true
SCRAPER_PID=
SLUICE_RSS=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SLUICE_PID/status")
SLUICE_CPU=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
kill -TERM "$SLUICE_PID"
wait "$SLUICE_PID" || bench_die "sluice run exited with status $? on SIGTERM"
SLUICE_PID=
read -r METRIC_N METRIC_MEAN METRIC_MAX < <(sort -n "$WORK/sluice_delay.txt" |
  awk '{ a[NR] = $1; s += $1 } END { if (NR == 0) print 0, 0, 0; else printf "%d %.0f %.0f\n", NR, s / NR, a[NR] }')
count=$(mariadb_sql "$TGT_DIR" "SELECT COUNT(*) FROM bench.lag")
[ "$count" = "$ROWS" ] || bench_die "sluice target holds $count rows, want $ROWS"

# --- native replica -----------------------------------------------------------
if [ "$REFERENCE" = 1 ]; then
  REP_DIR=$WORK/rep
  mariadb_start REP "$REP_DIR" 3 --skip-log-bin --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
    --slave-parallel-threads="$REPLICA_THREADS" --slave-parallel-mode=optimistic "${TARGET_EXTRA[@]}"
  end=$(src_end)
  res=$(mariadb_sql "$REP_DIR" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$SRC_PORT, MASTER_USER='root',
    MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=4; START SLAVE;
    SELECT MASTER_POS_WAIT('${end%%:*}', ${end##*:}, 120)")
  [[ $res =~ ^[0-9]+$ ]] || bench_die "the replica did not catch up with $end (MASTER_POS_WAIT: $res)"
  bench_log "replica caught up at $end"
  run_probe "native replica" "$REP_PORT" $((ROWS + 1)) "$WORK/replica.out"
  count=$(mariadb_sql "$REP_DIR" "SELECT COUNT(*) FROM bench.lag")
  [ "$count" = $((2 * ROWS)) ] || bench_die "replica holds $count rows, want $((2 * ROWS))"
fi

row() {  # LABEL FILE
  printf '%-36s %7s %9s %5s %5s %5s %6s %6s %7s  %s\n' "$1" "$(get rows_seen "$2")" "$(get achieved_rate "$2")" \
    "$(get delay_p50_ms "$2")" "$(get delay_p90_ms "$2")" "$(get delay_p99_ms "$2")" "$(get delay_p999_ms "$2")" \
    "$(get delay_max_ms "$2")" "$(get delay_mean_ms "$2")" "unseen $(get rows_unseen "$2"), writer max behind $(get writer_max_behind_ms "$2") ms"
}
windows() {  # LABEL FILE
  echo "  $1, per 5 s of write time:"
  grep '^window=' "$2" | sed 's/^/    /'
}
p99=$(get delay_p99_ms "$WORK/sluice.out")
unseen=$(get rows_unseen "$WORK/sluice.out")
goal_met=$(awk -v p="$p99" -v g="$GOAL_P99_MS" -v u="$unseen" 'BEGIN { print (p < g && u == 0 ? "yes" : "NO") }')

echo
echo "== lag: per-row delay source write -> visible on the target, steady load =="
echo "server:    MariaDB $SERVER_VERSION; source binlog ROW, binlog_row_metadata=FULL; targets without binlog, durable InnoDB"
echo "load:      $RATE rows/s for $SECONDS_LOAD s = $ROWS rows, autocommit INSERTs of $TXN_ROWS rows, table bench.lag (BIGINT key, BIGINT, INT + index, VARCHAR(64), DECIMAL)"
echo "sampling:  target polled every $POLL_MS ms; delay = first seen - write time (ms)"
printf '%-36s %7s %9s %5s %5s %5s %6s %6s %7s\n' "" rows "rows/s" p50 p90 p99 p99.9 max mean
row "sluice run (parallel $PARALLEL, batch $BATCH/${BATCH_TIMEOUT_MS}ms)" "$WORK/sluice.out"
[ "$REFERENCE" = 1 ] && row "native replica ($REPLICA_THREADS thr, optimistic)" "$WORK/replica.out"
windows "sluice run" "$WORK/sluice.out"
[ "$REFERENCE" = 1 ] && windows "native replica" "$WORK/replica.out"
echo "sluice:    CPU $SLUICE_CPU s during the load ($(awk -v c="$SLUICE_CPU" -v s="$SECONDS_LOAD" 'BEGIN { printf "%.0f", 100 * c / s }') % of one core), peak RSS $(bench_mib "$SLUICE_RSS") MiB"
echo "sluice:    own gauge sluice_apply_delay_seconds over $METRIC_N scrapes: mean $METRIC_MEAN ms, max $METRIC_MAX ms"
echo "goal:      sluice p99 < $GOAL_P99_MS ms: $goal_met (p99 $p99 ms)"
echo "commands:"
echo "  $SLUICE run -c sluice.yaml   # start: earliest, tables: [{match: \"bench.*\"}], batch: {size: $BATCH, timeout_ms: $BATCH_TIMEOUT_MS}, parallel: $PARALLEL"
echo "  $LAG_PROBE --source-port SRC --target-port TGT --table bench.lag --rate $RATE --seconds $SECONDS_LOAD --txn-rows $TXN_ROWS --poll-ms $POLL_MS"

[ "$goal_met" = yes ] || exit 3
