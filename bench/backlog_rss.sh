#!/usr/bin/env bash
# Peak memory of `sluice run` while it works off a large backlog, and its
# catch-up rate, with a native MariaDB replica catching up on the same
# backlog as the reference for the rate.
#
#   bash bench/backlog_rss.sh                  # a backlog of 1,000,000 row changes
#   CHANGES=3000000 bash bench/backlog_rss.sh
#
# 1. A source (log-bin, ROW, binlog_row_metadata=FULL) gets the schema:
#    bench.t (INT key, INT + index, SMALLINT NULL, VARCHAR(64), DECIMAL(12,2),
#    DATETIME(3), TEXT of 20-199 bytes: ~190 bytes a row image).
# 2. `sluice run` (start: earliest, batch {size: BATCH (1000), timeout_ms:
#    200}, parallel: PARALLEL (4)) replicates the schema to an empty target,
#    then is stopped (SIGTERM); a native replica (--slave-parallel-threads=4
#    --slave-parallel-mode=optimistic) does the same and is stopped (STOP SLAVE).
# 3. With both stopped, the source writes CHANGES (1,000,000) row changes,
#    100 rows per transaction: 80 % inserts, 15 % updates, 5 % deletes.
# 4. `sluice run` starts again (it resumes from its checkpoint) and is timed
#    until its global checkpoint row (`_sluice`.`checkpoints`, part -1)
#    records the source's final position; its VmHWM (the kernel's high-water
#    mark of the resident set) is read at that moment, and VmRSS is sampled
#    every 100 ms for the shape of the curve. Goal: peak RSS < 256 MiB.
# 5. The replica: START SLAVE, timed until MASTER_POS_WAIT returns for the
#    final position (its memory is the server's and is not comparable).
# Both targets must then equal the source (COUNT(*), CHECKSUM TABLE).
#
# Environment: CHANGES (1000000), TXN_ROWS (100), BATCH (1000), PARALLEL (4),
# QUEUE_BYTES (unset: sluice's default queue_bytes), REPLICA_THREADS (4),
# TARGET_ARGS (extra mariadbd options for both targets),
# REFERENCE (1: time the replica too), RSS_LIMIT_MB (256), KEEP=1, TIMEOUT (1800).
#
# Exit status: 0 goal met, 3 goal missed, other: the benchmark failed.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANGES=${CHANGES:-1000000}
TXN_ROWS=${TXN_ROWS:-100}
BATCH=${BATCH:-1000}
PARALLEL=${PARALLEL:-4}
REPLICA_THREADS=${REPLICA_THREADS:-4}
REFERENCE=${REFERENCE:-1}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-256}
TIMEOUT=${TIMEOUT:-1800}
for v in CHANGES TXN_ROWS BATCH PARALLEL REPLICA_THREADS RSS_LIMIT_MB TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || bench_die "$v must be a positive integer (got '${!v}')"
done
[ -z "${QUEUE_BYTES:-}" ] || [[ $QUEUE_BYTES =~ ^[0-9]+(KiB|MiB|GiB)?$ ]] || bench_die "QUEUE_BYTES: a size such as 64MiB"
INSERTS=$((CHANGES * 80 / 100))
UPDATES=$((CHANGES * 15 / 100))
DELETES=$((CHANGES - INSERTS - UPDATES))
[ "$DELETES" -le $((INSERTS - UPDATES)) ] || bench_die "CHANGES too small"

bench_need_sluice
command -v curl >/dev/null || bench_die "curl not found (to read sluice's /metrics)"

WORK=$(mktemp -d /tmp/sluice-bench-backlog.XXXXXX)
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

bench_log "starting the source MariaDB and two empty targets in $WORK"
mariadb_start SRC "$WORK/src" 1 --binlog-format=ROW --binlog-row-metadata=FULL \
  --innodb-buffer-pool-size=2G --innodb-log-file-size=1G \
  --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --innodb-doublewrite=0
SRC_DIR=$WORK/src
TGT_DIR=$WORK/tgt
REP_DIR=$WORK/rep
read -r -a TARGET_EXTRA <<<"${TARGET_ARGS:-}"
TARGET_OPTS=(--skip-log-bin --innodb-buffer-pool-size=2G --innodb-log-file-size=1G "${TARGET_EXTRA[@]}")
mariadb_start TGT "$TGT_DIR" 2 "${TARGET_OPTS[@]}"
if [ "$REFERENCE" = 1 ]; then
  mariadb_start REP "$REP_DIR" 3 "${TARGET_OPTS[@]}" \
    --slave-parallel-threads="$REPLICA_THREADS" --slave-parallel-mode=optimistic
fi
SERVER_VERSION=$(mariadb_sql "$SRC_DIR" "SELECT VERSION()")
mariadb_sql "$SRC_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.t (
  id INT NOT NULL PRIMARY KEY,
  k INT NOT NULL,
  qty SMALLINT NULL,
  name VARCHAR(64) NOT NULL,
  price DECIMAL(12,2) NOT NULL,
  created DATETIME(3) NOT NULL,
  note TEXT NULL,
  KEY k (k)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
src_end() { mariadb_sql "$SRC_DIR" "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }'; }

QUEUE_LINE=
[ -z "${QUEUE_BYTES:-}" ] || QUEUE_LINE="    queue_bytes: $QUEUE_BYTES"
HTTP_PORT=$(_mariadb_free_port)
cat >"$WORK/sluice.yaml" <<EOF
store: $WORK/sluice.db
http: 127.0.0.1:$HTTP_PORT
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  dst: {url: "mysql://root@127.0.0.1:$TGT_PORT"}
pipelines:
  - name: backlog
    source: src
    targets: [dst]
    start: earliest
    tables:
      - match: "bench.*"
    batch: {size: $BATCH, timeout_ms: 200}
    parallel: $PARALLEL
$QUEUE_LINE
EOF

# --- 2. schema to both targets, then stop them --------------------------------
"$SLUICE" run -c "$WORK/sluice.yaml" >"$WORK/sluice-1.log" 2>&1 &
SLUICE_PID=$!
deadline=$((SECONDS + 60))
until mariadb_sql "$TGT_DIR" "SELECT 1 FROM bench.t LIMIT 0" >/dev/null 2>&1; do
  kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice run exited: $(tail -n 20 "$WORK/sluice-1.log")"
  [ "$SECONDS" -lt "$deadline" ] || bench_die "sluice did not create bench.t on the target within 60 s"
  sleep 0.1
done
kill -TERM "$SLUICE_PID"
wait "$SLUICE_PID" || bench_die "sluice run exited with status $? on SIGTERM"
SLUICE_PID=
if [ "$REFERENCE" = 1 ]; then
  end=$(src_end)
  res=$(mariadb_sql "$REP_DIR" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$SRC_PORT, MASTER_USER='root',
    MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=4; START SLAVE;
    SELECT MASTER_POS_WAIT('${end%%:*}', ${end##*:}, 60); STOP SLAVE;")
  [[ $res =~ ^[0-9]+$ ]] || bench_die "the replica did not replicate the schema (MASTER_POS_WAIT: $res)"
fi
bench_log "schema replicated; sluice and the replica stopped"

# --- 3. the backlog -------------------------------------------------------------
gen_sql() {
  awk -v ins="$INSERTS" -v upd="$UPDATES" -v del="$DELETES" -v txn="$TXN_ROWS" 'BEGIN {
    print "USE bench;"
    for (lo = 1; lo <= ins; lo += txn) {
      hi = lo + txn - 1; if (hi > ins) hi = ins
      printf "INSERT INTO t SELECT seq, seq * 37 %% 1000003, IF(seq %% 7 = 0, NULL, seq %% 1000), " \
             "CONCAT(\"customer name \", seq), (seq %% 100000) / 100 + 0.01, " \
             "TIMESTAMP\"2024-01-01 00:00:00\" + INTERVAL seq * 1001000 MICROSECOND, " \
             "REPEAT(CHAR(97 + seq %% 26), 20 + seq %% 180) FROM seq_%d_to_%d;\n", lo, hi
    }
    # Updates on the first ids, deletes on the last ones: disjoint.
    for (lo = 1; lo <= upd; lo += txn) {
      hi = lo + txn - 1; if (hi > upd) hi = upd
      printf "UPDATE t SET qty = IFNULL(qty, 0) + 1, price = price * 2, k = k + 1, note = CONCAT(note, \"-u\") " \
             "WHERE id BETWEEN %d AND %d;\n", lo, hi
    }
    for (lo = ins - del + 1; lo <= ins; lo += txn) {
      hi = lo + txn - 1; if (hi > ins) hi = ins
      printf "DELETE FROM t WHERE id BETWEEN %d AND %d;\n", lo, hi
    }
  }'
}
bench_log "writing the backlog: $INSERTS inserts, $UPDATES updates, $DELETES deletes, $TXN_ROWS rows/transaction"
t0=$(bench_now)
gen_sql | mariadb_sql "$SRC_DIR" -
t1=$(bench_now)
bench_log "backlog written in $(bench_elapsed "$t0" "$t1") s"
SRC_COUNT=$(mariadb_sql "$SRC_DIR" "SELECT COUNT(*) FROM bench.t")
[ "$SRC_COUNT" = $((INSERTS - DELETES)) ] || bench_die "source holds $SRC_COUNT rows, want $((INSERTS - DELETES))"
SRC_SUM=$(mariadb_sql "$SRC_DIR" "CHECKSUM TABLE bench.t" | awk '{ print $2 }')
END=$(src_end)
BINLOG_BYTES=$(mariadb_sql "$SRC_DIR" "SHOW BINARY LOGS" | awk '{ s += $2 } END { print s }')
bench_log "backlog binlog: $(bench_human_bytes "$BINLOG_BYTES") in all, final position $END"

verify() {  # LABEL DIR
  local count sum
  count=$(mariadb_sql "$2" "SELECT COUNT(*) FROM bench.t")
  sum=$(mariadb_sql "$2" "CHECKSUM TABLE bench.t" | awk '{ print $2 }')
  if [ "$count" != "$SRC_COUNT" ] || [ "$sum" != "$SRC_SUM" ]; then
    bench_die "$1: target differs from the source: $count rows, checksum $sum (source $SRC_COUNT, $SRC_SUM)"
  fi
}

# --- 4. sluice catches up -----------------------------------------------------------
t0=$(bench_now)
"$SLUICE" run -c "$WORK/sluice.yaml" >"$WORK/sluice-2.log" 2>&1 &
SLUICE_PID=$!
# VmRSS every 100 ms, "seconds_since_start KiB", for the shape of the curve.
(
  start=$SECONDS
  while kill -0 "$SLUICE_PID" 2>/dev/null; do
    while read -r key value _; do
      if [ "$key" = VmRSS: ]; then echo "$((SECONDS - start)) $value"; fi
    done <"/proc/$SLUICE_PID/status" 2>/dev/null || true
    sleep 0.1
  done
) >"$WORK/rss.txt" &
SAMPLER_PID=$!
deadline=$((SECONDS + TIMEOUT))
until mariadb_sql "$TGT_DIR" "SELECT 1 FROM _sluice.checkpoints LIMIT 0" >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || bench_die "no checkpoint table on the target"
  sleep 0.05
done
out=$(mariadb_sql "$TGT_DIR" - 2>&1 <<EOF
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
DELIMITER //
BEGIN NOT ATOMIC
  DECLARE n INT DEFAULT 0;
  DECLARE give_up DATETIME DEFAULT NOW() + INTERVAL $TIMEOUT SECOND;
  WHILE n = 0 AND NOW() < give_up DO
    SELECT COUNT(*) INTO n FROM _sluice.checkpoints
      WHERE pipeline = 'backlog' AND part = -1 AND resume_position = '$END';
    IF n = 0 THEN DO SLEEP(0.01); END IF;
  END WHILE;
  SELECT n, UNIX_TIMESTAMP(SYSDATE(6));
END //
EOF
) || bench_die "waiting for sluice failed: $out"
read -r n t1 <<<"$out"
[ "$n" = 1 ] || bench_die "sluice did not reach $END within ${TIMEOUT}s: $(tail -n 20 "$WORK/sluice-2.log")"
SLUICE_SECS=$(bench_elapsed "$t0" "$t1")
PEAK_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SLUICE_PID/status")
SLUICE_CPU=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SLUICE_PID/stat")
# Where the time went: sluice's own apply histogram (time inside MysqlLoader::ApplyBatch).
METRICS=$(curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics" || true)
printf '%s\n' "$METRICS" >"$WORK/metrics.txt"
read -r APPLY_S BATCHES BATCH_ROWS < <(printf '%s\n' "$METRICS" | awk '
  /^sluice_apply_seconds_sum/ { s = $NF } /^sluice_apply_seconds_count/ { n = $NF } /^sluice_batch_rows_sum/ { r = $NF }
  END { printf "%.2f %d %d\n", s, n, r }')
kill -TERM "$SLUICE_PID"
wait "$SLUICE_PID" || bench_die "sluice run exited with status $? on SIGTERM"
SLUICE_PID=
wait "$SAMPLER_PID" 2>/dev/null || true
verify "sluice" "$TGT_DIR"
bench_log "sluice caught up in $SLUICE_SECS s, peak RSS $(bench_mib "$PEAK_KB") MiB"
# RSS curve: the largest sample of each second.
RSS_CURVE=$(awk '{ if ($2 > m[$1]) m[$1] = $2; if ($1 > last) last = $1 }
  END { for (s = 0; s <= last; s++) printf "%s%d:%.0f", (s ? " " : ""), s, m[s] / 1024 }' "$WORK/rss.txt")

# --- 5. the replica catches up ------------------------------------------------------
if [ "$REFERENCE" = 1 ]; then
  t0=$(bench_now)
  out=$(mariadb_sql "$REP_DIR" "START SLAVE; SELECT MASTER_POS_WAIT('${END%%:*}', ${END##*:}, $TIMEOUT), UNIX_TIMESTAMP(SYSDATE(6))")
  read -r res t1 <<<"$out"
  [[ $res =~ ^[0-9]+$ ]] || bench_die "the replica did not reach $END (MASTER_POS_WAIT: $res)"
  REP_SECS=$(bench_elapsed "$t0" "$t1")
  mariadb_sql "$REP_DIR" "STOP SLAVE"
  verify "replica" "$REP_DIR"
  bench_log "replica caught up in $REP_SECS s"
fi

goal_met=$(awk -v k="$PEAK_KB" -v l="$RSS_LIMIT_MB" 'BEGIN { print (k < l * 1024 ? "yes" : "NO") }')
echo
echo "== backlog: sluice run working off $CHANGES row changes written while it was stopped =="
echo "server:    MariaDB $SERVER_VERSION; source binlog ROW, binlog_row_metadata=FULL"
echo "backlog:   $INSERTS inserts + $UPDATES updates + $DELETES deletes = $CHANGES row changes, $TXN_ROWS rows/transaction, $(bench_human_bytes "$BINLOG_BYTES") of binlog"
echo "sluice:    batch {size: $BATCH, timeout_ms: 200}, parallel: $PARALLEL, queue_bytes: ${QUEUE_BYTES:-default}"
printf 'peak RSS:  %.1f MiB (VmHWM at catch-up; goal < %s MiB: %s)\n' "$(bench_mib "$PEAK_KB")" "$RSS_LIMIT_MB" "$goal_met"
printf 'catch-up:  sluice %.3f s = %s rows/s (CPU %s s)\n' "$SLUICE_SECS" "$(bench_div "$CHANGES" "$SLUICE_SECS")" "$SLUICE_CPU"
if [ "$REFERENCE" = 1 ]; then
  printf '           native replica (%s threads, optimistic) %.3f s = %s rows/s; sluice/replica %sx\n' "$REPLICA_THREADS" \
    "$REP_SECS" "$(bench_div "$CHANGES" "$REP_SECS")" "$(awk -v s="$SLUICE_SECS" -v r="$REP_SECS" 'BEGIN { printf "%.2f", r / s }')"
fi
printf '           time inside ApplyBatch %s s over %s batches (%s rows/batch, %s ms/batch)\n' "$APPLY_S" "$BATCHES" \
  "$(bench_div "$BATCH_ROWS" "$BATCHES")" "$(awk -v s="$APPLY_S" -v n="$BATCHES" 'BEGIN { printf "%.1f", n ? 1000 * s / n : 0 }')"
echo "RSS curve: MiB by second since start (largest 100 ms sample): $RSS_CURVE"
echo "verified:  targets hold $SRC_COUNT rows, CHECKSUM TABLE $SRC_SUM, equal to the source"
echo "command:   $SLUICE run -c sluice.yaml   # resumes from its checkpoint, start: earliest, tables: [{match: \"bench.*\"}]"

[ "$goal_met" = yes ] || exit 3
