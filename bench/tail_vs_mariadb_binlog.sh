#!/usr/bin/env bash
# End-to-end row rate of `sluice tail` against MariaDB's own `mariadb-binlog`,
# both reading the same binlog from the same private server over TCP.
#
#   bash bench/tail_vs_mariadb_binlog.sh          # 1,000,000 inserted rows
#   ROWS=100000 bash bench/tail_vs_mariadb_binlog.sh
#
# Workload (ROW binlog, binlog_row_metadata=FULL): a table with BIGINT,
# INT, TINYINT, VARCHAR, DECIMAL, DATETIME(3), DATETIME and TEXT columns; ROWS
# rows inserted in transactions of TXN_ROWS (default 100) rows each with
# INSERT ... SELECT FROM the Sequence engine; then ROWS/10 rows updated and
# ROWS/20 deleted, also TXN_ROWS per transaction. Total row changes =
# ROWS + ROWS/10 + ROWS/20 (1,150,000 by default).
#
# Timed, each from the first binlog to the end of the last one, stdout to
# /dev/null:
#   sluice:         sluice tail --source mysql://root@127.0.0.1:PORT --start earliest
#                     --format json --limit TOTAL
#   mariadb-binlog: mariadb-binlog --read-from-remote-server -v
#                     --base64-output=decode-rows --to-last-log FIRST_BINLOG
# Row rate = total row changes / wall seconds. Goal (issue 13): sluice >= 2.5x mariadb-binlog.
#
# Environment:
#   ROWS (1000000), TXN_ROWS (100)   workload size
#   REPEAT (3)         timed runs of each tool, alternating; the best is reported
#                      (the machines are shared: best-of-N filters out neighbours)
#   VERIFY (1)         afterwards (untimed) count the rows each tool printed
#   CHECKSUM_REF (1)   also time `mariadb-binlog --verify-binlog-checksum`
#                      (informative: sluice verifies CRC32s, mariadb-binlog by
#                      default does not)
#   SAVE_BINLOG=PATH   copy the first binlog file there (for decoder_bench's
#                      SLUICE_BENCH_BINLOG)
#   KEEP=1             keep the server directory
#   TIMEOUT (900)      seconds a timed run may take before it counts as failed
#
# Exit status: 0 goal met, 3 goal missed, other: the benchmark failed.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-1000000}
TXN_ROWS=${TXN_ROWS:-100}
REPEAT=${REPEAT:-3}
CHECKSUM_REF=${CHECKSUM_REF:-1}
VERIFY=${VERIFY:-1}
TIMEOUT=${TIMEOUT:-900}
[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 100 ]] || bench_die "ROWS must be an integer >= 100 (got '$ROWS')"
[[ $TXN_ROWS =~ ^[0-9]+$ && $TXN_ROWS -ge 1 ]] || bench_die "TXN_ROWS must be a positive integer"
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || bench_die "REPEAT must be a positive integer"
UPDATES=$((ROWS / 10))
DELETES=$((ROWS / 20))
TOTAL=$((ROWS + UPDATES + DELETES))

bench_need_sluice
MARIADB_BINLOG=$(_mariadb_bin mariadb-binlog) || bench_die "mariadb-binlog not found (package mariadb-client)"

WORK=$(mktemp -d /tmp/sluice-bench-tail.XXXXXX)
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
# Durability off and a big buffer pool: the load is setup, not what is measured.
mariadb_start SRC "$WORK/db" 1 \
  --log-bin=binlog --binlog-format=ROW --binlog-row-metadata=FULL \
  --innodb-buffer-pool-size=2G --innodb-log-file-size=1G \
  --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --innodb-doublewrite=0 \
  --max-connections=20
DB_DIR="$WORK/db"
SERVER_VERSION=$(mariadb_sql "$DB_DIR" "SELECT VERSION()")

mariadb_sql "$DB_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.t (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  flag TINYINT NULL,
  code VARCHAR(32) NOT NULL,
  name VARCHAR(64) NULL,
  price DECIMAL(12,2) NOT NULL,
  created DATETIME(3) NOT NULL,
  updated DATETIME NULL,
  note TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"

# One statement per transaction (autocommit): TXN_ROWS rows each.
gen_sql() {
  awk -v rows="$ROWS" -v txn="$TXN_ROWS" -v updates="$UPDATES" -v deletes="$DELETES" 'BEGIN {
    print "USE bench;"
    for (lo = 1; lo <= rows; lo += txn) {
      hi = lo + txn - 1; if (hi > rows) hi = rows
      printf "INSERT INTO t SELECT seq, seq %% 100000, IF(seq %% 7 = 0, NULL, seq %% 100), " \
             "CONCAT(\"C\", HEX(seq)), CONCAT(\"customer name \", seq), (seq %% 100000) / 100 + 0.01, " \
             "TIMESTAMP\"2024-01-01 00:00:00\" + INTERVAL seq * 1001000 MICROSECOND, " \
             "IF(seq %% 3 = 0, NULL, TIMESTAMP\"2024-06-01 12:00:00\" + INTERVAL seq MINUTE), " \
             "REPEAT(CHAR(97 + seq %% 26), 20 + seq %% 180) FROM seq_%d_to_%d;\n", lo, hi
    }
    # Updates touch the first ROWS/10 ids, deletes the last ROWS/20: disjoint,
    # so each statement changes exactly the rows it names.
    for (lo = 1; lo <= updates; lo += txn) {
      hi = lo + txn - 1; if (hi > updates) hi = updates
      printf "UPDATE t SET qty = qty + 1, price = price * 2, updated = TIMESTAMP\"2025-01-01 00:00:00\", " \
             "note = CONCAT(note, \"-u\") WHERE id BETWEEN %d AND %d;\n", lo, hi
    }
    for (lo = rows - deletes + 1; lo <= rows; lo += txn) {
      hi = lo + txn - 1; if (hi > rows) hi = rows
      printf "DELETE FROM t WHERE id BETWEEN %d AND %d;\n", lo, hi
    }
  }'
}

bench_log "writing $ROWS inserts, $UPDATES updates, $DELETES deletes in transactions of $TXN_ROWS rows"
t0=$(bench_now)
gen_sql | mariadb_sql "$DB_DIR" -
t1=$(bench_now)
bench_log "workload written in $(bench_elapsed "$t0" "$t1") s"

# Check the workload did what TOTAL assumes.
remaining=$(mariadb_sql "$DB_DIR" "SELECT COUNT(*) FROM bench.t")
updated=$(mariadb_sql "$DB_DIR" "SELECT COUNT(*) FROM bench.t WHERE updated = '2025-01-01 00:00:00'")
if [ "$remaining" != $((ROWS - DELETES)) ] || [ "$updated" != "$UPDATES" ]; then
  bench_die "workload check failed: $remaining rows remain (want $((ROWS - DELETES))), $updated updated (want $UPDATES)"
fi

mapfile -t BINLOGS < <(mariadb_sql "$DB_DIR" "SHOW BINARY LOGS" | awk '{ print $1 }')
BINLOG_BYTES=$(mariadb_sql "$DB_DIR" "SHOW BINARY LOGS" | awk '{ s += $2 } END { print s }')
bench_log "binlog: ${BINLOGS[*]} ($(bench_human_bytes "$BINLOG_BYTES"))"
if [ -n "${SAVE_BINLOG:-}" ]; then
  cp "$DB_DIR/data/${BINLOGS[0]}" "$SAVE_BINLOG"
  bench_log "copied ${BINLOGS[0]} to $SAVE_BINLOG"
fi

export BENCH_TIMEOUT=$TIMEOUT
SLUICE_CMD=("$SLUICE" tail --source "mysql://root@127.0.0.1:$SRC_PORT" --start earliest
  --format json --limit "$TOTAL")
REF_CMD=("$MARIADB_BINLOG" --no-defaults --read-from-remote-server --host=127.0.0.1
  --port="$SRC_PORT" --user=root -v --base64-output=decode-rows --to-last-log "${BINLOGS[0]}")
# Informative, not the goal's reference: sluice verifies every event's CRC32
# by default, mariadb-binlog only with --verify-binlog-checksum.
REFC_CMD=("${REF_CMD[@]}" --verify-binlog-checksum)

# Per tool: best wall time, least CPU time, largest peak RSS over REPEAT runs.
declare -A WALL CPU RSS
record() {  # TOOL PREFIX: fold the last bench_measure PREFIX into TOOL's figures
  local tool=$1 p=$2 w c r
  w=${p}_WALL c=${p}_CPU r=${p}_RSS_KB
  if [ -z "${WALL[$tool]:-}" ] || awk -v a="${!w}" -v b="${WALL[$tool]}" 'BEGIN { exit !(a < b) }'; then
    WALL[$tool]=${!w}
  fi
  if [ -z "${CPU[$tool]:-}" ] || awk -v a="${!c}" -v b="${CPU[$tool]}" 'BEGIN { exit !(a < b) }'; then
    CPU[$tool]=${!c}
  fi
  if [ "${!r}" -gt "${RSS[$tool]:-0}" ]; then RSS[$tool]=${!r}; fi
}
run_tool() {  # TOOL LABEL CMD...
  local tool=$1 label=$2
  shift 2
  bench_measure M "$@"
  if [ "$M_STATUS" != 0 ]; then
    bench_die "$label exited with status $M_STATUS$([ "$M_STATUS" = 124 ] && echo " (timed out after ${TIMEOUT}s)")"
  fi
  bench_log "  $label: $M_WALL s wall, $M_CPU s CPU, peak RSS $(bench_mib "$M_RSS_KB") MiB"
  record "$tool" M
}

# The binlog was just written, so every run reads it from the server's page
# cache; the tools alternate so that neither always goes first.
for ((i = 1; i <= REPEAT; i++)); do
  bench_log "run $i/$REPEAT"
  run_tool sluice "sluice tail" "${SLUICE_CMD[@]}"
  run_tool ref "mariadb-binlog" "${REF_CMD[@]}"
done
if [ "$CHECKSUM_REF" = 1 ]; then
  bench_log "informative: mariadb-binlog --verify-binlog-checksum"
  run_tool refc "mariadb-binlog -c" "${REFC_CMD[@]}"
fi

if [ "$VERIFY" = 1 ]; then
  # Untimed: both tools must have seen every row change.
  bench_log "verifying row counts (untimed)"
  n_sluice=$(timeout "$TIMEOUT" "${SLUICE_CMD[@]}" | wc -l)
  n_ref=$(timeout "$TIMEOUT" "${REF_CMD[@]}" | grep -c -E '^### (INSERT INTO|UPDATE|DELETE FROM) ' || true)
  if [ "$n_sluice" != "$TOTAL" ] || [ "$n_ref" != "$TOTAL" ]; then
    bench_die "row counts differ from $TOTAL: sluice printed $n_sluice, mariadb-binlog $n_ref"
  fi
  verified="both saw all $TOTAL (sluice: JSON lines; mariadb-binlog: '### INSERT/UPDATE/DELETE' headers)"
else
  verified="not checked (VERIFY=0)"
fi

line() {  # TOOL LABEL
  local tool=$1 label=$2
  printf '%-28s %8.3f s  %9s rows/s  %6.1f MiB/s  CPU %6.2f s (%9s rows/CPU-s)  peak RSS %5.1f MiB\n' \
    "$label" "${WALL[$tool]}" "$(bench_div "$TOTAL" "${WALL[$tool]}")" \
    "$(awk -v b="$BINLOG_BYTES" -v s="${WALL[$tool]}" 'BEGIN { print b / s / 1048576 }')" \
    "${CPU[$tool]}" "$(bench_div "$TOTAL" "${CPU[$tool]}")" "$(bench_mib "${RSS[$tool]}")"
}
ratio=$(awk -v s="${WALL[sluice]}" -v r="${WALL[ref]}" 'BEGIN { printf "%.2f", r / s }')
cpu_ratio=$(awk -v s="${CPU[sluice]}" -v r="${CPU[ref]}" 'BEGIN { printf "%.2f", (s > 0 ? r / s : 0) }')
goal_met=$(awk -v r="$ratio" 'BEGIN { print (r >= 2.5 ? "yes" : "NO") }')

echo
echo "== sluice tail vs mariadb-binlog (end to end over TCP, same server, stdout to /dev/null) =="
echo "server:    MariaDB $SERVER_VERSION, binlog_format=ROW, binlog_row_metadata=FULL"
echo "workload:  $ROWS inserts + $UPDATES updates + $DELETES deletes = $TOTAL row changes, $TXN_ROWS rows/transaction"
echo "binlog:    ${#BINLOGS[@]} file(s), $BINLOG_BYTES bytes ($(bench_human_bytes "$BINLOG_BYTES"))"
echo "figures:   best wall time / least CPU time / largest RSS of $REPEAT run(s); rows/s = $TOTAL / wall s"
line sluice "sluice tail --format json"
line ref "mariadb-binlog -v"
[ "$CHECKSUM_REF" = 1 ] && line refc "mariadb-binlog -v -c (info)"
echo "ratio:     sluice/mariadb-binlog row rate ${ratio}x wall (goal >= 2.5x: $goal_met), ${cpu_ratio}x per CPU second"
echo "rows:      $verified"
echo "RSS from:  $(bench_rss_method)"
echo "commands:"
echo "  ${SLUICE_CMD[*]} > /dev/null"
echo "  ${REF_CMD[*]} > /dev/null"

[ "$goal_met" = yes ] || exit 3
