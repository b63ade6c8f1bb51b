#!/usr/bin/env bash
# Apply rate of `sluice run` into Redis, per mode (hash, string, stream).
#
#   bash bench/redis.sh                    # 100,000 inserts + 50,000 updates + 10,000 deletes
#   MODES="hash" REPEAT=1 bash bench/redis.sh
#
# Workload, written once to a source MariaDB (ROW, binlog_row_metadata=FULL)
# into bench.t (INT primary key, INT, SMALLINT NULL, VARCHAR(64),
# DECIMAL(10,2), DATETIME(3), VARCHAR(255) NULL): INSERTS rows by INSERT ...
# SELECT of INSERT_TXN (100) per transaction, UPDATES single-row updates and
# DELETES single-row deletes, UPDATE_TXN (10) per transaction; then one row
# in bench.done, the end marker.
#
# Timed, for each mode into a fresh redis-server (no persistence, as a
# cache runs): from the start of `sluice run` (start: earliest, batch BATCH
# (1000)) until the marker's key exists in Redis (it is the last change in
# the binlog, and each source transaction lands in order). Rate = row
# changes / seconds. Afterwards (untimed) the number of keys of bench.t
# (hash, string) or the length of its stream must match the source.
#
# Environment: INSERTS UPDATES DELETES INSERT_TXN UPDATE_TXN BATCH, MODES
# ("hash string stream"), REPEAT (3; best reported), KEEP=1 keeps the work dir.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSERTS=${INSERTS:-100000}
UPDATES=${UPDATES:-50000}
DELETES=${DELETES:-10000}
INSERT_TXN=${INSERT_TXN:-100}
UPDATE_TXN=${UPDATE_TXN:-10}
BATCH=${BATCH:-1000}
MODES=${MODES:-hash string stream}
REPEAT=${REPEAT:-3}
TIMEOUT=${TIMEOUT:-900}
TOTAL=$((INSERTS + UPDATES + DELETES))

bench_need_sluice
command -v redis-server >/dev/null || bench_die "redis-server not found (scripts/install-deps.sh installs it)"

WORK=$(mktemp -d /tmp/sluice-bench-redis.XXXXXX)
SLUICE_PID= REDIS_PID=
cleanup() {
  local status=$?
  [ -z "$SLUICE_PID" ] || { kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; }
  [ -z "$REDIS_PID" ] || { kill -TERM "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then bench_log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_log "starting the source MariaDB in $WORK/src"
mariadb_start SRC "$WORK/src" 1 --binlog-format=ROW --binlog-row-metadata=FULL --binlog-row-image=FULL \
  --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=0 --sync-binlog=0
SRC_DIR=$WORK/src
mariadb_sql "$SRC_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, qty SMALLINT NULL, name VARCHAR(64) NOT NULL,
  price DECIMAL(10,2) NOT NULL, created DATETIME(3) NOT NULL, note VARCHAR(255) NULL);
CREATE TABLE bench.done (id INT PRIMARY KEY);"

bench_log "writing $INSERTS inserts, $UPDATES updates, $DELETES deletes"
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
    for (j = i; j < i + utxn && j < upd; j++)
      printf " UPDATE t SET qty = IFNULL(qty, 0) + 1, price = price + 1.25, note = CONCAT(\"updated \", %d) WHERE id = %d;", j, (j * 7919) % ins + 1
    print " COMMIT;"
  }
  for (i = 0; i < del; i += utxn) {
    printf "BEGIN;"
    for (j = i; j < i + utxn && j < del; j++) printf " DELETE FROM t WHERE id = %d;", (j * 104729) % ins + 1
    print " COMMIT;"
  }
  print "INSERT INTO done VALUES (1);"
}' | mariadb_sql "$SRC_DIR" -
SRC_COUNT=$(mariadb_sql "$SRC_DIR" "SELECT COUNT(*) FROM bench.t")

start_redis() {
  REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
    --logfile "$WORK/redis/redis.log" &
  REDIS_PID=$!
  until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done
}
stop_redis() { kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=; }

declare -A BEST
for mode in $MODES; do
  for i in $(seq 1 "$REPEAT"); do
    start_redis
    dir=$WORK/$mode-$i
    mkdir -p "$dir"
    cat >"$dir/sluice.yaml" <<YAML
store: $dir/sluice.db
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  cache: {url: "redis://127.0.0.1:$REDIS_PORT/0", mode: $mode}
pipelines:
  - name: bench
    source: src
    targets: [cache]
    start: earliest
    tables:
      - match: "bench.*"
    batch: {size: $BATCH, timeout_ms: 200}
YAML
    if [ "$mode" = stream ]; then marker_cmd=(XLEN bench:done); else marker_cmd=(EXISTS bench:done:1); fi
    t0=$(bench_now)
    "$SLUICE" run -c "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
    SLUICE_PID=$!
    deadline=$((SECONDS + TIMEOUT))
    until [ "$(redis-cli -p "$REDIS_PORT" "${marker_cmd[@]}")" = 1 ]; do
      kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice exited; log: $(tail -n 20 "$dir/sluice.log")"
      [ "$SECONDS" -lt "$deadline" ] || bench_die "$mode: not done after ${TIMEOUT}s"
      sleep 0.02
    done
    t1=$(bench_now)
    secs=$(bench_elapsed "$t0" "$t1")
    kill -TERM "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=
    if [ "$mode" = stream ]; then
      got=$(redis-cli -p "$REDIS_PORT" XLEN bench:t); want=$TOTAL
    else
      got=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'bench:t:*' | wc -l); want=$SRC_COUNT
    fi
    [ "$got" = "$want" ] || bench_die "$mode: Redis holds $got (keys or entries), want $want"
    rate=$(awk -v n="$TOTAL" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    bench_log "$mode run $i: $TOTAL row changes in $secs s = $rate rows/s (checked: $got)"
    if [ -z "${BEST[$mode]:-}" ] || awk -v a="$secs" -v b="${BEST[$mode]}" 'BEGIN { exit !(a < b) }'; then BEST[$mode]=$secs; fi
    stop_redis
    rm -rf "$WORK/redis"
  done
done

echo "| mode | row changes | best of $REPEAT (s) | rows/s |"
echo "| --- | --- | --- | --- |"
for mode in $MODES; do
  echo "| $mode | $TOTAL | ${BEST[$mode]} | $(awk -v n="$TOTAL" -v s="${BEST[$mode]}" 'BEGIN { printf "%.0f", n / s }') |"
done
