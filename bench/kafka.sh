#!/usr/bin/env bash
# Rows per second of `sluice run` into Kafka (librdkafka's mock cluster, 3
# brokers, in a process of its own: build/bench/kafka_mock_server) beside
# `kcat -P` producing the same messages, already encoded, to a fresh mock.
#
#   bash bench/kafka.sh                 # 50,000 inserts, json format
#   ROWS=80000 BATCH=5000 EXACTLY_ONCE=true FORMAT=canal bash bench/kafka.sh
#   KAFKA_PARAMS='linger.ms=20' bash bench/kafka.sh   # producer properties in sluice's URL
#   QUEUE_BYTES=8MiB bash bench/kafka.sh   # the pipeline's queue_bytes (default 64 MiB)
#   PERF=1 bash bench/kafka.sh          # also `perf record -g` sluice (perf.data kept in $WORK, KEEP=1)
#   PERF=1 PERF_ARGS='-e context-switches -c 1 --call-graph dwarf --switch-events' bash bench/kafka.sh
#                                       # where threads block (bench/offcpu.py reads `perf script` of it)
#
# Workload: ROWS inserts into bench.t (INT key, INT, VARCHAR(64), DECIMAL,
# DATETIME; ~150-byte json messages), TXN rows per transaction, written
# before sluice starts (start: earliest, so sluice reads the whole binlog).
# Timed:
#   sluice: from the process start until the target's rows_applied (status
#           API) reaches ROWS: every message acknowledged by the brokers and
#           the position recorded (batch BATCH, exactly_once EXACTLY_ONCE).
#   kcat:   `kcat -P -K TAB -l FILE` of the messages sluice wrote (key TAB
#           value per line, read back with kcat -C), into a fresh cluster;
#           kcat exits once every message is acknowledged.
# The mock keeps about 5 MB per partition (older messages are dropped):
# bench.t gets PARTITIONS partitions (default 16) in both clusters, so that
# ROWS json rows fit for the read-back (~25,000 per 4 partitions of json,
# fewer for debezium's larger messages).
# Both with the same producer defaults (idempotence on for sluice only: kcat
# has none by default). Output: both rates, CPU per row (sluice, kcat, and the
# mock cluster beside each: the same work for both), and their ratio.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-50000}
TXN=${TXN:-100}
BATCH=${BATCH:-1000}
EXACTLY_ONCE=${EXACTLY_ONCE:-false}
FORMAT=${FORMAT:-json}
PARTITIONS=${PARTITIONS:-16}
MOCK=${MOCK:-$BENCH_ROOT/build/bench/kafka_mock_server}
bench_need_sluice
[ -x "$MOCK" ] || bench_die "$MOCK not found: build first"
command -v kcat >/dev/null || bench_die "kcat not found (apt-get install kcat)"

WORK=$(mktemp -d /tmp/sluice-kafka-bench.XXXXXX)
PIDS=()
# CPU seconds (user + system, all threads) process PID has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Per thread of PID: "tid name on-CPU-ms runnable-ms" from schedstat (time
# run, and time spent runnable waiting for a CPU: preempted or not yet
# scheduled), busiest first. A thread whose on-CPU time nears the run's wall
# time is the bottleneck; one with a large runnable time wanted a CPU it did
# not get (the box is saturated); the rest of the wall time it was blocked.
threads_of() {
  local t name
  for t in /proc/"$1"/task/*; do
    name=$(cat "$t/comm" 2>/dev/null) || continue
    awk -v tid="${t##*/}" -v name="$name" '{ printf "%s %s %.1f %.1f\n", tid, name, $1 / 1e6, $2 / 1e6 }' \
      "$t/schedstat" 2>/dev/null || true
  done | sort -k3 -rn
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  mariadb_stop_all || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

start_mock() {  # FILE: starts a mock cluster, writes its bootstraps to FILE
  bench_kafka_mock "$1" "$PARTITIONS"
  PIDS+=("$BENCH_MOCK_PID")
}

bench_log "source: $ROWS rows in transactions of $TXN"
mariadb_start SRC "$WORK/src" 1 >/dev/null
mariadb_sql "$WORK/src" "CREATE DATABASE bench; CREATE TABLE bench.t (id INT PRIMARY KEY, k INT, c VARCHAR(64),
  d DECIMAL(10,2), ts DATETIME(3))"
for ((first = 1; first <= ROWS; first += 10000)); do
  last=$((first + 9999 > ROWS ? ROWS : first + 9999))
  {
    for ((i = first; i <= last; i += TXN)); do
      j=$((i + TXN - 1 > last ? last : i + TXN - 1))
      echo "INSERT INTO bench.t SELECT seq, seq % 1000, CONCAT('row-', seq, '-', REPEAT('x', 40)), seq / 100,
        '2024-05-01 10:00:00.123' FROM seq_${i}_to_${j};"
    done
  } | mariadb_sql "$WORK/src" - --database=bench
done

start_mock "$WORK/boot1"
MOCK1=${PIDS[-1]}
BOOT1=$(head -n 1 "$WORK/boot1")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/sluice.yaml" <<YAML
store: $WORK/sluice.db
http: 127.0.0.1:$PORT
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  bus: {url: "kafka://$BOOT1${KAFKA_PARAMS:+?$KAFKA_PARAMS}", format: $FORMAT, exactly_once: $EXACTLY_ONCE}
pipelines:
  - name: p
    source: src
    targets: [bus]
    start: earliest
    tables:
      - match: "bench.t"
    batch: {size: $BATCH, timeout_ms: 200}
${QUEUE_BYTES:+    queue_bytes: $QUEUE_BYTES}
YAML

bench_log "sluice run into the mock cluster"
mock1_cpu0=$(cpu_of "$MOCK1")
SRC_PID=$(cat "$WORK/src/mariadbd.pid")
src_cpu0=$(cpu_of "$SRC_PID")
t0=$(bench_now)
if [ "${PERF:-0}" = 1 ]; then
  perf record ${PERF_ARGS:--g} -o "$WORK/perf.data" "$SLUICE" run -c "$WORK/sluice.yaml" ${SLUICE_ARGS:-} >"$WORK/sluice.log" 2>&1 &
else
  "$SLUICE" run -c "$WORK/sluice.yaml" ${SLUICE_ARGS:-} >"$WORK/sluice.log" 2>&1 &
fi
PIDS+=($!)
# The target's rows_applied: acknowledged rows only.
while true; do
  bench_rows_applied "$PORT" p
  [ "$BENCH_APPLIED" -ge "$ROWS" ] && break
  bench_nap 0.01
done
t1=$(bench_now)
sluice_secs=$(bench_elapsed "$t0" "$t1")
# CPU seconds (user + system, all threads) sluice used up to here.
# Start-up: from the process start to the binlog dump (store, source check,
# position read-back, producer); the rest is streaming.
dump_at=$(grep -m1 'binlog dump started' "$WORK/sluice.log" | cut -d ' ' -f 1 || true)
first_at=$(head -n 1 "$WORK/sluice.log" | cut -d ' ' -f 1 || true)
startup_secs=0
init_secs=0
if [ -n "$first_at" ] && [[ $first_at == 20* ]]; then
  init_secs=$(awk -v a="$t0" -v b="$(date -d "$first_at" +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
fi
if [ -n "$dump_at" ]; then
  startup_secs=$(awk -v a="$t0" -v b="$(date -d "$dump_at" +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
fi
sluice_cpu=$(cpu_of "${PIDS[-1]}")
threads_of "${PIDS[-1]}" >"$WORK/threads"
# The source server's CPU while sluice read from it (its binlog dump thread).
src_cpu=$(awk -v a="$src_cpu0" -v b="$(cpu_of "$SRC_PID")" 'BEGIN { printf "%.2f", b - a }')
threads_of "$SRC_PID" | sort -n | tail -n 2 >"$WORK/src_threads"
# The mock cluster's CPU serving sluice's messages (and kcat's, below): on 2
# cores the brokers take CPU from both producers alike.
mock1_cpu=$(awk -v a="$mock1_cpu0" -v b="$(cpu_of "$MOCK1")" 'BEGIN { printf "%.2f", b - a }')
if [ "${PERF:-0}" = 1 ]; then
  kill -INT "${PIDS[-1]}"
  wait "${PIDS[-1]}" || true
  bench_log "perf data: $WORK/perf.data"
fi

bench_log "reading back the messages sluice wrote"
# kcat -e stops at the first end of partition it meets; read until all came.
for _ in $(seq 30); do
  kcat -C -b "$BOOT1" -t bench.t -e -q -f '%k\t%s\n' >"$WORK/messages.tsv"
  count=$(wc -l <"$WORK/messages.tsv")
  [ "$count" -ge "$ROWS" ] && break
  sleep 1
done
[ "$count" -ge "$ROWS" ] || bench_die "only $count messages in bench.t"

start_mock "$WORK/boot2"
MOCK2=${PIDS[-1]}
BOOT2=$(head -n 1 "$WORK/boot2")
bench_log "kcat -P of the same $count messages into a fresh mock cluster"
mock2_cpu0=$(cpu_of "$MOCK2")
t0=$(bench_now)
/usr/bin/time -f '%U %S' -o "$WORK/kcat.time" kcat -P -b "$BOOT2" -t bench.t -K $'\t' -l "$WORK/messages.tsv"
t1=$(bench_now)
kcat_secs=$(bench_elapsed "$t0" "$t1")
kcat_cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$WORK/kcat.time")
mock2_cpu=$(awk -v a="$mock2_cpu0" -v b="$(cpu_of "$MOCK2")" 'BEGIN { printf "%.2f", b - a }')

awk -v sc="$sluice_cpu" -v kc="$kcat_cpu" -v loadavg="$(cut -d ' ' -f 1-3 /proc/loadavg)" -v rows="$ROWS" -v batch="$BATCH" -v parts="$PARTITIONS" -v fmt="$FORMAT" -v s="$sluice_secs" -v su="$startup_secs" -v ini="$init_secs" -v k="$kcat_secs" -v eo="$EXACTLY_ONCE" -v m1="$mock1_cpu" -v m2="$mock2_cpu" 'BEGIN {
  printf "rows %d, format %s, exactly_once %s, batch %d, %d partitions\n", rows, fmt, eo, batch, parts
  printf "sluice run (binlog -> %s -> Kafka): %.2f s, %.0f rows/s, %.2f CPU s (%.1f us/row)\n", fmt, s, rows / s, sc, sc * 1e6 / rows
  printf "  of which start-up %.2f s (%.2f s to its first log line); streaming %.0f rows/s\n", su, ini, (s > su ? rows / (s - su) : 0)
  printf "kcat -P (pre-encoded messages): %.2f s, %.0f rows/s, %.2f CPU s (%.1f us/row)\n", k, rows / k, kc, kc * 1e6 / rows
  printf "mock cluster CPU: %.2f s beside sluice (%.1f us/row), %.2f s beside kcat (%.1f us/row)\n", m1, m1 * 1e6 / rows, m2, m2 * 1e6 / rows
  printf "load average: %s\n", loadavg
  printf "ratio sluice / kcat: %.2f\n", (rows / s) / (rows / k)
}'
echo "source server CPU during sluice's run: $src_cpu s; its newest threads (the dump thread among them):"
awk '{ printf "  %s\n", $0 }' "$WORK/src_threads"
echo "sluice threads (tid name, on-CPU ms, runnable-but-waiting ms; the run took $sluice_secs s):"
awk '$3 + $4 >= 5 { printf "  %s\n", $0 }' "$WORK/threads"
