#!/usr/bin/env bash
# Apply rate of `sluice run` against a native MariaDB replica
# (--slave-parallel-threads=4 --slave-parallel-mode=optimistic), both applying
# the same source binlog from its first event into an EMPTY target.
#
#   bash bench/apply.sh                   # 160,000 row changes, 7,000 transactions
#   PARALLEL="4 8" REPEAT=2 bash bench/apply.sh
#
# Workload, written once to a source with log-bin, ROW format,
# binlog_row_metadata=FULL (binlog_row_image=FULL, the default), into
# bench.t (INT primary key, INT with a secondary index, SMALLINT NULL,
# VARCHAR(64), DECIMAL(10,2), DATETIME(3), VARCHAR(255) NULL; ~150 bytes a row):
#   INSERTS (100,000) rows, INSERT ... SELECT of INSERT_TXN (100) rows per transaction
#   UPDATES (50,000) single-row UPDATEs, UPDATE_TXN (10) per transaction, each on
#           a different row (ids spread over the table: no two updates of one key)
#   DELETES (10,000) single-row DELETEs, UPDATE_TXN (10) per transaction
# The binlog starts with the CREATE DATABASE / CREATE TABLE, so both targets
# get the schema from the stream (checked: SHOW CREATE TABLE must match).
#
# Timed, each into a fresh empty MariaDB target:
#   sluice:  `sluice run -c CONFIG` (start: earliest, batch size BATCH (1000),
#            timeout 200 ms, parallel: each of PARALLEL ("4 8")), from the
#            process start until the pipeline's global checkpoint row
#            (`_sluice`.`checkpoints`, part -1) records the source's final
#            position: it is written after every partition of the last batch
#            committed, so the target then holds the final state.
#   replica: CHANGE MASTER TO ... MASTER_LOG_FILE='binlog.000001',
#            MASTER_LOG_POS=4; START SLAVE, timed until MASTER_POS_WAIT returns
#            for the source's final position (the SQL thread executed it all).
# Both end times are read from the server clock (SYSDATE(6)) at the moment
# the condition holds, so polling adds no error. Row rate = total row changes /
# seconds. Afterwards (untimed) CHECKSUM TABLE and COUNT(*) of every target
# must equal the source's.
#
# Both targets run with the same options (TARGET_ARGS): durable InnoDB
# (innodb_flush_log_at_trx_commit=1, the default), no binary log (the
# replica does not log replicated events either: log_slave_updates is off).
#
# Environment:
#   INSERTS UPDATES DELETES INSERT_TXN UPDATE_TXN   workload (see above)
#   PARALLEL ("4 8")  sluice `parallel:` values to time (the first one is the
#                     one the goal is judged on)
#   BATCH (1000)      sluice batch size
#   REPLICA_THREADS (4)  --slave-parallel-threads of the native replica
#   REPEAT (3)        timed runs of each, alternating; the best is reported
#   TARGET_ARGS       extra mariadbd options for every target
#   COMPARE=PATH      also time the sluice binary at PATH in every round (an A/B
#                     of two builds on the same source; they take turns going first)
#   PROFILE=1         perf record -a -g during the first sluice run: reports of sluice and of its target server
#   KEEP=1            keep the work directory;  TIMEOUT (900) s per timed run
#
# Exit status: 0 goal (sluice >= 1.0x the replica) met, 3 missed, other: failed.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSERTS=${INSERTS:-100000}
UPDATES=${UPDATES:-50000}
DELETES=${DELETES:-10000}
INSERT_TXN=${INSERT_TXN:-100}
UPDATE_TXN=${UPDATE_TXN:-10}
PARALLEL=${PARALLEL:-4 8}
BATCH=${BATCH:-1000}
REPLICA_THREADS=${REPLICA_THREADS:-4}
REPEAT=${REPEAT:-3}
TIMEOUT=${TIMEOUT:-900}
GOAL=${GOAL:-1.0}
for v in INSERTS UPDATES DELETES INSERT_TXN UPDATE_TXN BATCH REPLICA_THREADS REPEAT TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || bench_die "$v must be a positive integer (got '${!v}')"
done
for p in $PARALLEL; do [[ $p =~ ^[0-9]+$ && $p -ge 1 ]] || bench_die "PARALLEL must list positive integers"; done
if [ "$UPDATES" -gt "$INSERTS" ] || [ "$DELETES" -gt "$INSERTS" ]; then
  bench_die "UPDATES and DELETES must not exceed INSERTS"
fi
TOTAL=$((INSERTS + UPDATES + DELETES))
read -r -a TARGET_EXTRA <<<"${TARGET_ARGS:-}"

bench_need_sluice

WORK=$(mktemp -d /tmp/sluice-bench-apply.XXXXXX)
SLUICE_PID=
cleanup() {
  local status=$?
  if [ -n "$SLUICE_PID" ]; then kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; fi
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then bench_log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Durability off on the source: writing the workload is setup, not measured.
bench_log "starting the source MariaDB in $WORK/src"
mariadb_start SRC "$WORK/src" 1 --binlog-format=ROW --binlog-row-metadata=FULL --binlog-row-image=FULL \
  --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
  --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --innodb-doublewrite=0
SRC_DIR=$WORK/src
SERVER_VERSION=$(mariadb_sql "$SRC_DIR" "SELECT VERSION()")

mariadb_sql "$SRC_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.t (
  id INT NOT NULL PRIMARY KEY,
  k INT NOT NULL,
  qty SMALLINT NULL,
  name VARCHAR(64) NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  created DATETIME(3) NOT NULL,
  note VARCHAR(255) NULL,
  KEY k (k)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"

# Updates and deletes pick ids i * P mod INSERTS + 1 for a prime P that does
# not divide INSERTS: distinct ids spread over the whole table. The deletes
# use another prime, so some deleted rows were updated before.
gen_sql() {
  awk -v ins="$INSERTS" -v upd="$UPDATES" -v del="$DELETES" -v itxn="$INSERT_TXN" -v utxn="$UPDATE_TXN" 'BEGIN {
    print "USE bench;"
    for (lo = 1; lo <= ins; lo += itxn) {
      hi = lo + itxn - 1; if (hi > ins) hi = ins
      printf "INSERT INTO t SELECT seq, seq * 37 %% 1000003, IF(seq %% 7 = 0, NULL, seq %% 1000), " \
             "CONCAT(\"customer \", seq), (seq %% 100000) / 100 + 0.01, " \
             "TIMESTAMP\"2024-01-01 00:00:00\" + INTERVAL seq * 1001000 MICROSECOND, " \
             "IF(seq %% 5 = 0, NULL, REPEAT(CHAR(97 + seq %% 26), 20 + seq %% 60)) FROM seq_%d_to_%d;\n", lo, hi
    }
    for (i = 0; i < upd; i += utxn) {
      printf "BEGIN;"
      for (j = i; j < i + utxn && j < upd; j++) {
        id = (j * 7919) % ins + 1
        printf " UPDATE t SET qty = IFNULL(qty, 0) + 1, price = price + 1.25, k = k + 1, " \
               "note = CONCAT(\"updated \", %d) WHERE id = %d;", j, id
      }
      print " COMMIT;"
    }
    for (i = 0; i < del; i += utxn) {
      printf "BEGIN;"
      for (j = i; j < i + utxn && j < del; j++) printf " DELETE FROM t WHERE id = %d;", (j * 104729) % ins + 1
      print " COMMIT;"
    }
  }'
}

for p in 7919 104729; do
  [ $((INSERTS % p)) != 0 ] || bench_die "INSERTS must not be a multiple of $p"
done
bench_log "writing $INSERTS inserts ($INSERT_TXN/txn), $UPDATES updates and $DELETES deletes ($UPDATE_TXN/txn)"
t0=$(bench_now)
gen_sql | mariadb_sql "$SRC_DIR" -
t1=$(bench_now)
bench_log "workload written in $(bench_elapsed "$t0" "$t1") s"

SRC_COUNT=$(mariadb_sql "$SRC_DIR" "SELECT COUNT(*) FROM bench.t")
[ "$SRC_COUNT" = $((INSERTS - DELETES)) ] || bench_die "source holds $SRC_COUNT rows, want $((INSERTS - DELETES))"
SRC_SUM=$(mariadb_sql "$SRC_DIR" "CHECKSUM TABLE bench.t" | awk '{ print $2 }')
SRC_CREATE=$(mariadb_sql "$SRC_DIR" "SHOW CREATE TABLE bench.t" | cut -f2-)
read -r END_FILE END_POS _ < <(mariadb_sql "$SRC_DIR" "SHOW MASTER STATUS")
mapfile -t BINLOGS < <(mariadb_sql "$SRC_DIR" "SHOW BINARY LOGS" | awk '{ print $1 }')
BINLOG_BYTES=$(mariadb_sql "$SRC_DIR" "SHOW BINARY LOGS" | awk '{ s += $2 } END { print s }')
TXNS=$(( (INSERTS + INSERT_TXN - 1) / INSERT_TXN + (UPDATES + UPDATE_TXN - 1) / UPDATE_TXN + (DELETES + UPDATE_TXN - 1) / UPDATE_TXN ))
bench_log "binlog: ${BINLOGS[*]} ($(bench_human_bytes "$BINLOG_BYTES")), final position $END_FILE:$END_POS"

# utime + stime of PID in seconds (0 when it is gone).
cpu_of() {
  local stat
  if read -r -a stat <"/proc/$1/stat" 2>/dev/null; then
    awk -v t=$((stat[13] + stat[14])) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
  else
    echo 0
  fi
}
vmhwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

run_no=0
TGT_FLUSH="?"
new_target() {  # NAME SERVER_ID [extra args]: a fresh, empty target; sets TGT_DIR
  local name=$1 id=$2
  shift 2
  run_no=$((run_no + 1))
  TGT_DIR=$WORK/t$run_no
  mariadb_start TGT "$TGT_DIR" "$id" --skip-log-bin --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
    "$@" "${TARGET_EXTRA[@]}" || bench_die "cannot start target $name"
  TGT_FLUSH=$(mariadb_sql "$TGT_DIR" "SELECT @@innodb_flush_log_at_trx_commit")
}
stop_target() { mariadb_stop "$TGT_DIR"; rm -rf "$TGT_DIR"; }
server_pid() { cat "$1/mariadbd.pid"; }

# Untimed: the target must equal the source. Sets VERIFIED.
verify_target() {  # LABEL
  local label=$1 count sum create
  count=$(mariadb_sql "$TGT_DIR" "SELECT COUNT(*) FROM bench.t")
  sum=$(mariadb_sql "$TGT_DIR" "CHECKSUM TABLE bench.t" | awk '{ print $2 }')
  create=$(mariadb_sql "$TGT_DIR" "SHOW CREATE TABLE bench.t" | cut -f2-)
  if [ "$count" != "$SRC_COUNT" ] || [ "$sum" != "$SRC_SUM" ]; then
    bench_die "$label: target differs from the source: $count rows, checksum $sum (source: $SRC_COUNT rows, checksum $SRC_SUM)"
  fi
  [ "$create" = "$SRC_CREATE" ] || bench_die "$label: the target's table is not the source's: $create"
  VERIFIED="$count rows, CHECKSUM TABLE $sum = source"
}

declare -A BEST CPU_S CPU_T CPU_SRC RSS
record() {  # KEY SECONDS SLUICE_CPU TARGET_CPU RSS_KB SOURCE_CPU
  if [ -z "${BEST[$1]:-}" ] || awk -v a="$2" -v b="${BEST[$1]}" 'BEGIN { exit !(a < b) }'; then
    BEST[$1]=$2 CPU_S[$1]=$3 CPU_T[$1]=$4 RSS[$1]=$5 CPU_SRC[$1]=$6
  fi
}
# The source server's CPU from $1 (a cpu_of reading) until now: its dump
# thread sends the binlog to sluice or the replica on the same 2 cores.
source_cpu_since() { awk -v a="$1" -v b="$(cpu_of "$(server_pid "$SRC_DIR")")" 'BEGIN { printf "%.2f", b - a }'; }

run_sluice() {  # PARALLEL RUN_INDEX
  local par=$1 i=$2 dir cfg t0 t1 secs tpid cpu_t0 scpu tcpu rss wait_sql src0 srccpu perf_pid=
  new_target "sluice p$par" $((10 + run_no))
  dir=$WORK/${LABEL:-sluice}-p$par-$i
  mkdir -p "$dir"
  cfg=$dir/sluice.yaml
  cat >"$cfg" <<EOF
store: $dir/sluice.db
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  dst: {url: "mysql://root@127.0.0.1:$TGT_PORT"}
pipelines:
  - name: apply
    source: src
    targets: [dst]
    start: earliest
    tables:
      - match: "bench.*"
    batch: {size: $BATCH, timeout_ms: 200}
    parallel: $par
EOF
  tpid=$(server_pid "$TGT_DIR")
  cpu_t0=$(cpu_of "$tpid")
  src0=$(cpu_of "$(server_pid "$SRC_DIR")")
  t0=$(bench_now)
  "$SLUICE" run -c "$cfg" >"$dir/sluice.log" 2>&1 &
  SLUICE_PID=$!
  if [ "${PROFILE:-0}" = 1 ] && [ "$i" = 1 ] && [ "$par" = "${PARALLEL%% *}" ] && command -v perf >/dev/null; then
    # System-wide for the run: threads that start after perf would attach
    # to a pid (sluice's, the server's connection threads) are missed
    # otherwise. The reports keep one process's samples each (--pid).
    perf record -a -g -o "$WORK/perf-p$par.data" >/dev/null 2>&1 &
    perf_pid=$!
    printf 'sluice %s\ntarget %s\n' "$SLUICE_PID" "$tpid" >"$WORK/perf-p$par.pids"
  fi
  # The loader creates `_sluice`.`checkpoints` when it connects; from then on
  # one statement waits on the server for the final global checkpoint.
  local deadline=$((SECONDS + TIMEOUT))
  until mariadb_sql "$TGT_DIR" "SELECT 1 FROM _sluice.checkpoints LIMIT 0" >/dev/null 2>&1; do
    kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice run exited early; log: $(tail -n 20 "$dir/sluice.log")"
    [ "$SECONDS" -lt "$deadline" ] || bench_die "sluice run: no checkpoint table after ${TIMEOUT}s"
    sleep 0.02
  done
  wait_sql="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
DELIMITER //
BEGIN NOT ATOMIC
  DECLARE n INT DEFAULT 0;
  DECLARE give_up DATETIME DEFAULT NOW() + INTERVAL $TIMEOUT SECOND;
  WHILE n = 0 AND NOW() < give_up DO
    SELECT COUNT(*) INTO n FROM _sluice.checkpoints
      WHERE pipeline = 'apply' AND part = -1 AND resume_position = '$END_FILE:$END_POS';
    IF n = 0 THEN DO SLEEP(0.005); END IF;
  END WHILE;
  SELECT n, UNIX_TIMESTAMP(SYSDATE(6));
END //"
  local out
  out=$(mariadb_sql "$TGT_DIR" - <<<"$wait_sql" 2>&1) || bench_die "waiting for sluice failed: $out"
  read -r n t1 <<<"$out"
  [ "$n" = 1 ] || bench_die "sluice p$par did not reach $END_FILE:$END_POS within ${TIMEOUT}s; log: $(tail -n 20 "$dir/sluice.log")"
  secs=$(bench_elapsed "$t0" "$t1")
  scpu=$(cpu_of "$SLUICE_PID")
  rss=$(vmhwm_kb "$SLUICE_PID")
  tcpu=$(awk -v a="$cpu_t0" -v b="$(cpu_of "$tpid")" 'BEGIN { printf "%.2f", b - a }')
  srccpu=$(source_cpu_since "$src0")
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi  # the run only, not the checks after it
  if [ "${PROFILE:-0}" = 1 ] && [ "$i" = 1 ]; then sleep 0.1; fi
  kill -TERM "$SLUICE_PID"
  wait "$SLUICE_PID" || bench_die "sluice run exited with status $? on SIGTERM; log: $dir/sluice.log"
  SLUICE_PID=
  verify_target "sluice p$par"
  bench_log "  ${LABEL:-sluice} parallel $par: $secs s, $(bench_div "$TOTAL" "$secs") rows/s, sluice CPU $scpu s, target CPU $tcpu s, source CPU $srccpu s, peak RSS $(bench_mib "$rss") MiB ($VERIFIED)"
  record "${LABEL:-sluice}-p$par" "$secs" "$scpu" "$tcpu" "$rss" "$srccpu"
  stop_target
}

run_replica() {  # RUN_INDEX
  local i=$1 t0 t1 out res tpid cpu_t0 tcpu status src0 srccpu
  new_target "replica" $((10 + run_no)) --slave-parallel-threads="$REPLICA_THREADS" --slave-parallel-mode=optimistic
  tpid=$(server_pid "$TGT_DIR")
  mariadb_sql "$TGT_DIR" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$SRC_PORT, MASTER_USER='root',
    MASTER_LOG_FILE='${BINLOGS[0]}', MASTER_LOG_POS=4"
  cpu_t0=$(cpu_of "$tpid")
  src0=$(cpu_of "$(server_pid "$SRC_DIR")")
  t0=$(bench_now)
  out=$(mariadb_sql "$TGT_DIR" "START SLAVE; SELECT MASTER_POS_WAIT('$END_FILE', $END_POS, $TIMEOUT), UNIX_TIMESTAMP(SYSDATE(6))" 2>&1) ||
    bench_die "replica: $out"
  read -r res t1 <<<"$out"
  tcpu=$(awk -v a="$cpu_t0" -v b="$(cpu_of "$tpid")" 'BEGIN { printf "%.2f", b - a }')
  srccpu=$(source_cpu_since "$src0")
  if ! [[ $res =~ ^[0-9]+$ ]]; then  # -1: timed out; NULL: the SQL thread stopped
    status=$(mariadb_sql "$TGT_DIR" "SHOW SLAVE STATUS\G" --column-names | grep -E 'Running|Error|Exec_Master' || true)
    bench_die "replica did not reach $END_FILE:$END_POS (MASTER_POS_WAIT returned $res): $status"
  fi
  secs=$(bench_elapsed "$t0" "$t1")
  status=$(mariadb_sql "$TGT_DIR" "SHOW SLAVE STATUS\G" --column-names | awk -F': ' '/ Exec_Master_Log_Pos:/ { p = $2 } / Relay_Master_Log_File:/ { f = $2 } END { print f ":" p }')
  [ "$status" = "$END_FILE:$END_POS" ] || bench_die "replica stopped at $status, not $END_FILE:$END_POS"
  mariadb_sql "$TGT_DIR" "STOP SLAVE"
  verify_target "replica"
  bench_log "  native replica ($REPLICA_THREADS threads, optimistic): $secs s, $(bench_div "$TOTAL" "$secs") rows/s, server CPU $tcpu s, source CPU $srccpu s ($VERIFIED)"
  record replica "$secs" 0 "$tcpu" 0 "$srccpu"
  stop_target
}

for ((i = 1; i <= REPEAT; i++)); do
  bench_log "run $i/$REPEAT"
  for p in $PARALLEL; do
    # With COMPARE, the two builds take turns going first: the second run of
    # a round measured 5-10% slower whichever build it was.
    if [ -n "${COMPARE:-}" ] && [ $((i % 2)) = 0 ]; then SLUICE=$COMPARE LABEL=compare run_sluice "$p" "$i"; fi
    run_sluice "$p" "$i"
    if [ -n "${COMPARE:-}" ] && [ $((i % 2)) = 1 ]; then SLUICE=$COMPARE LABEL=compare run_sluice "$p" "$i"; fi
  done
  run_replica "$i"
done

if [ "${PROFILE:-0}" = 1 ]; then
  for f in "$WORK"/perf-p*.data; do
    [ -f "$f" ] || continue
    while read -r who pid; do
      perf report -i "$f" --pid "$pid" --no-children --sort comm,dso,sym --percent-limit 1.5 --stdio 2>/dev/null |
        grep -v '^$' | head -n 80 >"${f%.data}-$who.txt" || true
      bench_log "profile of $who: ${f%.data}-$who.txt (KEEP=1 keeps it)"
      head -n 40 "${f%.data}-$who.txt" >&2
    done <"${f%.data}.pids"
  done
fi

first_p=${PARALLEL%% *}
ratio=$(awk -v s="${BEST[sluice-p$first_p]}" -v r="${BEST[replica]}" 'BEGIN { printf "%.2f", r / s }')
goal_met=$(awk -v r="$ratio" -v g="$GOAL" 'BEGIN { print (r >= g ? "yes" : "NO") }')

echo
echo "== apply: sluice run vs native MariaDB replica (same binlog, empty targets) =="
echo "server:    MariaDB $SERVER_VERSION; source binlog ROW, binlog_row_metadata=FULL, binlog_row_image=FULL"
echo "workload:  $INSERTS inserts ($INSERT_TXN rows/txn) + $UPDATES single-row updates + $DELETES single-row deletes ($UPDATE_TXN statements/txn)"
echo "           = $TOTAL row changes in $TXNS transactions; ${#BINLOGS[@]} binlog file(s), $BINLOG_BYTES bytes ($(bench_human_bytes "$BINLOG_BYTES"))"
echo "targets:   fresh, empty, --skip-log-bin --innodb-buffer-pool-size=1G ${TARGET_ARGS:-} (innodb_flush_log_at_trx_commit=$TGT_FLUSH)"
echo "figures:   best of $REPEAT run(s); seconds from start until the target holds the final state"
for k in $(for p in $PARALLEL; do echo "sluice-p$p"; [ -n "${COMPARE:-}" ] && echo "compare-p$p"; done); do
  p=${k##*-p}
  printf '%-34s %8.3f s %9s rows/s  %5.2fx  sluice CPU %6.2f s  target CPU %6.2f s  source CPU %5.2f s  peak RSS %5.1f MiB\n' \
    "${k%%-p*} run, parallel $p, batch $BATCH" "${BEST[$k]}" "$(bench_div "$TOTAL" "${BEST[$k]}")" \
    "$(awk -v s="${BEST[$k]}" -v r="${BEST[replica]}" 'BEGIN { printf "%.2f", r / s }')" \
    "${CPU_S[$k]}" "${CPU_T[$k]}" "${CPU_SRC[$k]}" "$(bench_mib "${RSS[$k]}")"
done
printf '%-34s %8.3f s %9s rows/s  %5.2fx  %-19s target CPU %6.2f s  source CPU %5.2f s\n' \
  "native replica, $REPLICA_THREADS threads optimistic" "${BEST[replica]}" "$(bench_div "$TOTAL" "${BEST[replica]}")" 1 "" "${CPU_T[replica]}" "${CPU_SRC[replica]}"
echo "ratio:     sluice (parallel $first_p) / replica row rate ${ratio}x (goal >= ${GOAL}x: $goal_met)"
echo "verified:  every target: COUNT(*) $SRC_COUNT and CHECKSUM TABLE $SRC_SUM equal to the source's; SHOW CREATE TABLE identical (the DDL replicated)"
echo "commands:"
echo "  $SLUICE run -c sluice.yaml   # pipelines[0]: start: earliest, tables: [{match: \"bench.*\"}], batch: {size: $BATCH, timeout_ms: 200}, parallel: P"
echo "  replica: CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$SRC_PORT, MASTER_USER='root', MASTER_LOG_FILE='${BINLOGS[0]}', MASTER_LOG_POS=4; START SLAVE"

[ "$goal_met" = yes ] || exit 3
