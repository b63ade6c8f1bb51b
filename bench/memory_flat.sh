#!/usr/bin/env bash
# Peak RSS of `sluice tail` over a binlog of more than 1 GiB whose largest
# transactions are hundreds of MB: memory must stay flat (< 64 MiB) whatever
# the transaction size, because rows are streamed, never buffered whole.
#
#   bash bench/memory_flat.sh                      # ~1.1 GiB of binlog
#   BIG_TXN_MB=800 TOTAL_MB=1500 bash bench/memory_flat.sh
#
# Workload (ROW binlog, binlog_row_metadata=FULL, rows of ~1 KiB:
# BIGINT key, INT, DATETIME, VARCHAR(1000)), in this order:
#   1. half of the normal rows, 100 rows per transaction
#   2. ONE INSERT transaction of BIG_TXN_MB (default 400) MiB
#   3. the other half of the normal rows
#   4. ONE UPDATE transaction of UPDATE_TXN_MB (default 300) MiB of row
#      images (before + after, so half as many rows)
# The normal rows fill the binlog up to TOTAL_MB (default 1100) MiB. The run
# fails if the binlog ends up smaller than MIN_BINLOG_MB (default 1024).
#
# Measured (stdout to /dev/null), peak RSS with GNU time %M or /proc VmHWM:
#   sluice tail --source mysql://root@127.0.0.1:PORT --start earliest --format json --limit TOTAL
#   sluice tail --source file:///DATADIR/binlog.000001 --format json --limit TOTAL
#   mariadb-binlog --read-from-remote-server -v --base64-output=decode-rows --to-last-log (reference)
#
# Environment: BIG_TXN_MB, UPDATE_TXN_MB, TOTAL_MB, MIN_BINLOG_MB,
# RSS_LIMIT_MB (64), VERIFY (1: count sluice's rows in an extra untimed
# pass), REFERENCE (1: measure mariadb-binlog too), KEEP=1 (keep the server
# directory), TIMEOUT (1800 s per measured command).
#
# Exit status: 0 goal met, 3 goal missed, other: the benchmark failed.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIG_TXN_MB=${BIG_TXN_MB:-400}
UPDATE_TXN_MB=${UPDATE_TXN_MB:-300}
TOTAL_MB=${TOTAL_MB:-1100}
MIN_BINLOG_MB=${MIN_BINLOG_MB:-1024}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-64}
VERIFY=${VERIFY:-1}
REFERENCE=${REFERENCE:-1}
export BENCH_TIMEOUT=${TIMEOUT:-1800}
for v in BIG_TXN_MB UPDATE_TXN_MB TOTAL_MB MIN_BINLOG_MB RSS_LIMIT_MB; do
  [[ ${!v} =~ ^[0-9]+$ ]] || bench_die "$v must be a non-negative integer (got '${!v}')"
done

# A row event carries ~1,040 bytes per row of this table (measured: 8 + 4 + 5
# + 2 + 1,000 bytes of values, a null bitmap, and the event's share of
# headers); an UPDATE carries two images.
ROW_BYTES=1040
BIG_ROWS=$((BIG_TXN_MB * 1048576 / ROW_BYTES))
UPDATE_ROWS=$((UPDATE_TXN_MB * 1048576 / ROW_BYTES / 2))
NORMAL_MB=$((TOTAL_MB - BIG_TXN_MB - UPDATE_TXN_MB))
[ "$NORMAL_MB" -ge 0 ] || bench_die "TOTAL_MB ($TOTAL_MB) must be at least BIG_TXN_MB + UPDATE_TXN_MB"
NORMAL_ROWS=$((NORMAL_MB * 1048576 / ROW_BYTES / 100 * 100))
INSERT_ROWS=$((NORMAL_ROWS + BIG_ROWS))
[ "$UPDATE_ROWS" -le "$INSERT_ROWS" ] || bench_die "UPDATE_TXN_MB is too large for the rows inserted"
TOTAL=$((INSERT_ROWS + UPDATE_ROWS))

bench_need_sluice
MARIADB_BINLOG=$(_mariadb_bin mariadb-binlog) || bench_die "mariadb-binlog not found (package mariadb-client)"

WORK=$(mktemp -d /tmp/sluice-bench-mem.XXXXXX)
cleanup() {
  local status=$?
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then
    bench_log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_log "starting MariaDB in $WORK/db"
mariadb_start SRC "$WORK/db" 1 \
  --log-bin=binlog --binlog-format=ROW --binlog-row-metadata=FULL \
  --innodb-buffer-pool-size=2G --innodb-log-file-size=2G \
  --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --innodb-doublewrite=0 \
  --max-allowed-packet=64M --max-connections=20
DB_DIR="$WORK/db"
SERVER_VERSION=$(mariadb_sql "$DB_DIR" "SELECT VERSION()")

mariadb_sql "$DB_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.big (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  k INT NOT NULL,
  ts DATETIME NOT NULL,
  payload VARCHAR(1000) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=latin1;"

# Rows lo..hi, as one INSERT ... SELECT statement (one transaction).
insert_sql() {
  printf 'INSERT INTO big SELECT seq, seq %% 1000, TIMESTAMP"2024-01-01 00:00:00" + INTERVAL seq SECOND, '
  printf 'RPAD(CONCAT("row ", seq, " "), 1000, CHAR(97 + seq %% 26)) FROM seq_%d_to_%d;\n' "$1" "$2"
}
normal_sql() {  # FIRST_ID COUNT: COUNT rows in transactions of 100
  local lo=$1 end=$(($1 + $2 - 1)) hi
  for ((; lo <= end; lo += 100)); do
    hi=$((lo + 99 > end ? end : lo + 99))
    insert_sql "$lo" "$hi"
  done
}

half=$((NORMAL_ROWS / 2))
bench_log "writing: $half normal rows, one $BIG_ROWS-row INSERT (~$BIG_TXN_MB MiB), $((NORMAL_ROWS - half)) normal rows, one $UPDATE_ROWS-row UPDATE (~$UPDATE_TXN_MB MiB)"
t0=$(bench_now)
{
  echo "USE bench;"
  normal_sql 1 "$half"
  insert_sql $((half + 1)) $((half + BIG_ROWS))
  normal_sql $((half + BIG_ROWS + 1)) $((NORMAL_ROWS - half))
  echo "UPDATE big SET k = k + 1, payload = RPAD(CONCAT(\"updated \", id, \" \"), 1000, \"u\") WHERE id <= $UPDATE_ROWS;"
} | mariadb_sql "$DB_DIR" -
t1=$(bench_now)
bench_log "workload written in $(bench_elapsed "$t0" "$t1") s"

count=$(mariadb_sql "$DB_DIR" "SELECT COUNT(*) FROM bench.big")
[ "$count" = "$INSERT_ROWS" ] || bench_die "workload check failed: $count rows in bench.big, want $INSERT_ROWS"

mapfile -t BINLOGS < <(mariadb_sql "$DB_DIR" "SHOW BINARY LOGS" | awk '{ print $1 }')
BINLOG_BYTES=$(mariadb_sql "$DB_DIR" "SHOW BINARY LOGS" | awk '{ s += $2 } END { print s }')
bench_log "binlog: ${BINLOGS[*]} ($(bench_human_bytes "$BINLOG_BYTES"))"
if [ "$BINLOG_BYTES" -lt $((MIN_BINLOG_MB * 1048576)) ]; then
  bench_die "the binlog is $(bench_human_bytes "$BINLOG_BYTES"), less than MIN_BINLOG_MB=$MIN_BINLOG_MB: raise TOTAL_MB"
fi
# The largest transaction as written: GTID event to XID event, from the
# binlog's own event positions.
LARGEST_TXN=$(
  for f in "${BINLOGS[@]}"; do
    mariadb_sql "$DB_DIR" "SHOW BINLOG EVENTS IN '$f'"
  done | awk -F'\t' '$3 == "Gtid" { start = $2 } $3 == "Xid" && $5 - start > max { max = $5 - start } END { print max + 0 }'
)
bench_log "largest transaction: $(bench_human_bytes "$LARGEST_TXN")"

SLUICE_STREAM=("$SLUICE" tail --source "mysql://root@127.0.0.1:$SRC_PORT" --start earliest --format json
  --limit "$TOTAL")
SLUICE_FILE=("$SLUICE" tail --source "file://$DB_DIR/data/${BINLOGS[0]}" --format json --limit "$TOTAL")
REF_CMD=("$MARIADB_BINLOG" --no-defaults --read-from-remote-server --host=127.0.0.1 --port="$SRC_PORT"
  --user=root -v --base64-output=decode-rows --to-last-log "${BINLOGS[0]}")

measure() {  # PREFIX LABEL CMD...
  local p=$1 label=$2 s
  shift 2
  bench_log "measuring $label"
  bench_measure "$p" "$@"
  s=${p}_STATUS
  [ "${!s}" = 0 ] || bench_die "$label exited with status ${!s}$([ "${!s}" = 124 ] && echo " (timed out)")"
  local w=${p}_WALL c=${p}_CPU r=${p}_RSS_KB
  bench_log "  ${!w} s wall, ${!c} s CPU, peak RSS $(bench_mib "${!r}") MiB"
}
measure ST "sluice tail (server stream)" "${SLUICE_STREAM[@]}"
measure FI "sluice tail (binlog files)" "${SLUICE_FILE[@]}"
if [ "$REFERENCE" = 1 ]; then
  measure RF "mariadb-binlog -v" "${REF_CMD[@]}"
fi

if [ "$VERIFY" = 1 ]; then
  bench_log "counting the rows sluice prints (untimed)"
  n=$(timeout "$BENCH_TIMEOUT" "${SLUICE_FILE[@]}" | wc -l)
  [ "$n" = "$TOTAL" ] || bench_die "sluice tail (binlog files) printed $n rows, want $TOTAL"
  verified="sluice printed all $TOTAL rows (binlog files)"
else
  verified="not checked (VERIFY=0)"
fi

limit_kb=$((RSS_LIMIT_MB * 1024))
goal_met=yes
[ "$ST_RSS_KB" -lt "$limit_kb" ] && [ "$FI_RSS_KB" -lt "$limit_kb" ] || goal_met=NO

row() {  # LABEL PREFIX
  local w=${2}_WALL c=${2}_CPU r=${2}_RSS_KB
  printf '%-30s peak RSS %6.1f MiB   %8.2f s wall  %7.2f s CPU  %8s rows/s\n' "$1" "$(bench_mib "${!r}")" \
    "${!w}" "${!c}" "$(bench_div "$TOTAL" "${!w}")"
}
echo
echo "== sluice tail peak memory over large transactions (stdout to /dev/null) =="
echo "server:      MariaDB $SERVER_VERSION, binlog_format=ROW, binlog_row_metadata=FULL"
echo "binlog:      ${#BINLOGS[@]} file(s), $BINLOG_BYTES bytes ($(bench_human_bytes "$BINLOG_BYTES"))"
echo "rows:        $TOTAL row changes ($INSERT_ROWS inserts, $UPDATE_ROWS updates), ~1 KiB each"
echo "largest txn: $(bench_human_bytes "$LARGEST_TXN") (one INSERT of $BIG_ROWS rows); one UPDATE of $UPDATE_ROWS rows; the rest 100 rows/txn"
row "sluice tail (server stream)" ST
row "sluice tail (binlog files)" FI
[ "$REFERENCE" = 1 ] && row "mariadb-binlog -v (reference)" RF
echo "goal:        peak RSS < $RSS_LIMIT_MB MiB: $goal_met"
echo "check:       $verified"
echo "RSS from:    $(bench_rss_method)"
echo "commands:"
echo "  ${SLUICE_STREAM[*]} > /dev/null"
echo "  ${SLUICE_FILE[*]} > /dev/null"
[ "$REFERENCE" = 1 ] && echo "  ${REF_CMD[*]} > /dev/null"

[ "$goal_met" = yes ] || exit 3
