#!/usr/bin/env bash
# `sluice snapshot` of a ROWS (1,000,000)-row table into an empty target,
# against `mariadb-dump | mariadb` into an identical empty target.
#
#   bash bench/snapshot.sh
#   ROWS=100000 PARALLEL=8 bash bench/snapshot.sh
#
# A source (bench_start_source in lib.sh: log-bin ROW, binlog_row_metadata=FULL,
# not durable) gets bench.orders (BIGINT key, INT customer_id with an index,
# VARCHAR(16), DECIMAL(12,2), VARCHAR(200) NULL, DATETIME(3); 143 MiB at
# 1M rows) filled with INSERT ... SELECT from the Sequence engine
# (bench_orders_load). Two targets start empty, with the same options
# (bench_start_target: log-bin ROW, binlog_row_metadata=FULL, durable:
# innodb_flush_log_at_trx_commit=1, sync_binlog=1, 1 GiB buffer pool, plus
# TARGET_ARGS). Everything goes over TCP to 127.0.0.1.
#
# Timed, REPEAT (3) times each, alternating (before each run the target's
# `bench` database is dropped; the best run is reported):
#   reference (target A, where `bench` is created first, untimed):
#     mariadb-dump --single-transaction --quick bench orders | mariadb bench
#     (mariadb-dump's defaults otherwise: --opt, extended inserts), the whole
#     pipeline from start to end.
#   sluice (target B, `bench` and `_sluice` dropped: sluice creates the table):
#     sluice snapshot -c CONFIG --pipeline bench (pipeline `bench`, tables
#     [{match: "bench.orders"}], parallel: PARALLEL (4)), a fresh store each run.
# Both targets must then hold ROWS rows, and CHECKSUM TABLE bench.orders on
# B must equal A's (and the source's).
# Goal (issue 13): sluice's row rate >= GOAL (2.5) times the reference's.
#
# Environment: ROWS (1000000), PARALLEL (4), REPEAT (3), GOAL (2.5),
# TARGET_ARGS (extra mariadbd options for both targets), TIMEOUT (900) s per
# timed run, KEEP=1 (keep the work directory).
#
# Exit status: 0 goal met, 3 goal missed, 1 the benchmark failed (also when
# $SLUICE has no `snapshot` subcommand yet: the reference is still measured).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-1000000}
PARALLEL=${PARALLEL:-4}
REPEAT=${REPEAT:-3}
GOAL=${GOAL:-2.5}
export BENCH_TIMEOUT=${TIMEOUT:-900}
bench_positive ROWS PARALLEL REPEAT BENCH_TIMEOUT
MARIADB_DUMP=$(_mariadb_bin mariadb-dump) || bench_die "mariadb-dump not found (package mariadb-client)"
MARIADB=$(_mariadb_bin mariadb) || bench_die "mariadb not found (package mariadb-client)"
bench_has_subcommand snapshot

bench_workdir snapshot
bench_log "starting a source and two empty targets in $WORK"
bench_start_source SRC "$WORK/src" 1
bench_start_target REF "$WORK/ref" 2
bench_start_target SL "$WORK/sl" 3
SRC_DIR=$WORK/src REF_DIR=$WORK/ref SL_DIR=$WORK/sl
SERVER_VERSION=$(mariadb_sql "$SRC_DIR" "SELECT VERSION()")

bench_log "loading $ROWS rows into bench.orders on the source"
t0=$(bench_now)
bench_orders_load "$SRC_DIR" "$ROWS"
bench_log "loaded in $(bench_elapsed "$t0" "$(bench_now)") s"
SRC_SUM=$(bench_checksum "$SRC_DIR" bench.orders)
TABLE_MIB=$(mariadb_sql "$SRC_DIR" "ANALYZE TABLE bench.orders" >/dev/null && mariadb_sql "$SRC_DIR" "SELECT ROUND((DATA_LENGTH + INDEX_LENGTH) / 1048576, 1) FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = 'bench' AND TABLE_NAME = 'orders'")

# verify_target DIR LABEL: ROWS rows, the source's CHECKSUM TABLE, and the
# source's definition (sluice builds the secondary index after the copy: it
# must be there at the end).
verify_target() {
  local n sum
  n=$(mariadb_sql "$1" "SELECT COUNT(*) FROM bench.orders") || bench_die "$2: no bench.orders on the target"
  sum=$(bench_checksum "$1" bench.orders)
  [ "$n" = "$ROWS" ] || bench_die "$2: the target holds $n rows, want $ROWS"
  if [ "$sum" != "$SRC_SUM" ]; then
    bench_die "$2: CHECKSUM TABLE $sum, the source's is $SRC_SUM; source table:
$(mariadb_sql "$SRC_DIR" "SHOW CREATE TABLE bench.orders" | cut -f2-)
target table:
$(mariadb_sql "$1" "SHOW CREATE TABLE bench.orders" | cut -f2-)"
  fi
  [ "$(mariadb_sql "$1" "SHOW CREATE TABLE bench.orders" | cut -f2-)" = "$(mariadb_sql "$SRC_DIR" "SHOW CREATE TABLE bench.orders" | cut -f2-)" ] ||
    bench_die "$2: bench.orders is not defined as on the source: $(mariadb_sql "$1" "SHOW CREATE TABLE bench.orders" | cut -f2-)"
}

# The pipeline is measured as one command: bash waits for both processes, so
# the CPU time is mariadb-dump's plus the mariadb client's.
# shellcheck disable=SC2016  # expanded by the inner bash
PIPELINE='set -o pipefail; "$1" --no-defaults --host=127.0.0.1 --port="$2" --user=root --single-transaction --quick bench orders |
  "$3" --no-defaults --host=127.0.0.1 --port="$4" --user=root bench'
run_reference() {  # ROUND
  mariadb_sql "$REF_DIR" "DROP DATABASE IF EXISTS bench; CREATE DATABASE bench"
  bench_measure REF bash -c "$PIPELINE" pipeline "$MARIADB_DUMP" "$SRC_PORT" "$MARIADB" "$REF_PORT" 2>"$WORK/ref-$1.err"
  [ "$REF_STATUS" = 0 ] || bench_die "mariadb-dump | mariadb exited with status $REF_STATUS: $(tail -n 20 "$WORK/ref-$1.err")"
  verify_target "$REF_DIR" "mariadb-dump | mariadb"
  bench_log "  mariadb-dump | mariadb: $REF_WALL s, $(bench_div "$ROWS" "$REF_WALL") rows/s, client CPU $REF_CPU s"
  bench_keep_best ref "$REF_WALL" "$REF_CPU"
}

run_sluice() {  # ROUND
  local dir=$WORK/sluice-$1
  mkdir -p "$dir"
  bench_sluice_config "$dir/sluice.yaml" "$SRC_PORT" "$SL_PORT" "$PARALLEL"
  mariadb_sql "$SL_DIR" "DROP DATABASE IF EXISTS bench; DROP DATABASE IF EXISTS _sluice"
  bench_measure SNAP "$SLUICE" snapshot -c "$dir/sluice.yaml" --pipeline bench 2>"$dir/sluice.log"
  [ "$SNAP_STATUS" = 0 ] || bench_die "sluice snapshot exited with status $SNAP_STATUS: $(tail -n 20 "$dir/sluice.log")"
  verify_target "$SL_DIR" "sluice snapshot"
  bench_log "  sluice snapshot: $SNAP_WALL s, $(bench_div "$ROWS" "$SNAP_WALL") rows/s, CPU $SNAP_CPU s, peak RSS $(bench_mib "$SNAP_RSS_KB") MiB"
  bench_keep_best sluice "$SNAP_WALL" "$SNAP_CPU"
  SNAP_RSS_MAX=$((SNAP_RSS_KB > ${SNAP_RSS_MAX:-0} ? SNAP_RSS_KB : ${SNAP_RSS_MAX:-0}))
}

bench_alternate "$REPEAT" run_reference run_sluice

echo
echo "== snapshot: sluice snapshot vs mariadb-dump | mariadb ($ROWS rows, $TABLE_MIB MiB of data and index on the source) =="
echo "server:    MariaDB $SERVER_VERSION; targets empty, identical: $BENCH_TARGET_DESC"
echo "figures:   best of $REPEAT run(s), wall seconds; CPU = user + sys of the client processes (not the servers')"
if [ "$BENCH_HAVE_SLUICE" = 1 ]; then
  printf '%-34s %8.3f s %10s rows/s  CPU %6.2f s  peak RSS %s MiB\n' "sluice snapshot, parallel $PARALLEL" \
    "${BENCH_BEST[sluice]}" "$(bench_div "$ROWS" "${BENCH_BEST[sluice]}")" "${BENCH_BEST_CPU[sluice]}" "$(bench_mib "$SNAP_RSS_MAX")"
fi
printf '%-34s %8.3f s %10s rows/s  CPU %6.2f s\n' "mariadb-dump | mariadb" \
  "${BENCH_BEST[ref]}" "$(bench_div "$ROWS" "${BENCH_BEST[ref]}")" "${BENCH_BEST_CPU[ref]}"
echo "verified:  every target: COUNT(*) $ROWS, CHECKSUM TABLE $SRC_SUM and SHOW CREATE TABLE, the source's"
echo "commands:"
echo "  $SLUICE snapshot -c sluice.yaml --pipeline bench   # tables: [{match: \"bench.orders\"}], parallel: $PARALLEL"
echo "  mariadb-dump --no-defaults --host=127.0.0.1 --port=$SRC_PORT --user=root --single-transaction --quick bench orders | mariadb --no-defaults --host=127.0.0.1 --port=$REF_PORT --user=root bench"
bench_sluice_missing snapshot
bench_ratio ref sluice "$GOAL"
echo "ratio:     sluice / reference row rate ${BENCH_RATIO}x (goal >= ${GOAL}x: $BENCH_GOAL_MET)"
[ "$BENCH_GOAL_MET" = yes ] || exit 3
