#!/usr/bin/env bash
# Capture rate of `sluice tail --source postgres://...` against PostgreSQL's
# own `pg_recvlogical` (pgoutput, proto_version 1, into /dev/null), both
# reading the same WAL from the same private PostgreSQL 15.
#
#   bash bench/pg_capture.sh                  # 200,000 inserts + 20,000 updates + 10,000 deletes
#   ROWS=50000 REPEAT=1 bash bench/pg_capture.sh
#
# Workload (wal_level=logical, fsync=off): bench.t (bigint key, int, smallint
# NULL, varchar(64), numeric(12,2), timestamptz, text) in publication `p`;
# ROWS rows inserted TXN_ROWS per transaction, then ROWS/10 updated and
# ROWS/20 deleted, also TXN_ROWS per transaction. Total row changes =
# ROWS + ROWS/10 + ROWS/20. A fresh slot of each tool is created before the
# workload for every timed run, so each run decodes all of it.
#
# Timed, from the process start to its exit, stdout to /dev/null:
#   sluice:         sluice tail --source postgres://bench@127.0.0.1:PORT/bench?slot=S&publication=p
#                     --start earliest --limit TOTAL
#   pg_recvlogical: pg_recvlogical -d bench -S S --start -o proto_version=1 -o publication_names=p
#                     -E END_LSN -f /dev/null
#   sluice run:     PostgreSQL -> Kafka (librdkafka's mock cluster, 3 brokers, in
#                   build/bench/kafka_mock_server), format FORMAT (json), from the
#                   process start until the target's rows_applied (every message
#                   acknowledged by the brokers) reaches the total. KAFKA=0 skips it.
# Row rate = total row changes / wall seconds. Goal: sluice tail >= 1x
# pg_recvlogical (which only copies pgoutput's bytes; sluice decodes every
# value into JSON). The Kafka rate is reported beside both (published
# figures: Sequin > 50k ops/s, Debezium 23k ops/s, on larger machines).
#
# Environment: ROWS (200000), TXN_ROWS (1000), REPEAT (3, best of N), KEEP=1,
# TIMEOUT (900 s per timed run), KAFKA (1), FORMAT (json), BATCH (1000).
# Exit status: 0 goal met, 3 missed, other: the benchmark failed.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-200000}
TXN_ROWS=${TXN_ROWS:-1000}
REPEAT=${REPEAT:-3}
export BENCH_TIMEOUT=${TIMEOUT:-900}
bench_positive ROWS TXN_ROWS REPEAT
UPDATES=$((ROWS / 10))
DELETES=$((ROWS / 20))
TOTAL=$((ROWS + UPDATES + DELETES))
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/pg_recvlogical" ] || bench_die "$PGBIN/pg_recvlogical not found (package postgresql-15)"
bench_has_subcommand tail
KAFKA=${KAFKA:-1}
FORMAT=${FORMAT:-json}
BATCH=${BATCH:-1000}
MOCK=${MOCK:-$BENCH_ROOT/build/bench/kafka_mock_server}
[ "$KAFKA" = 0 ] || [ -x "$MOCK" ] || bench_die "$MOCK not found: build the kafka_mock_server target (or KAFKA=0)"

bench_workdir pgcapture
PGDIR=$WORK/pg
KAFKA_PIDS=()
bench_on_exit() {
  for p in "${KAFKA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" stop -D "$PGDIR/data" -m fast -w >/dev/null 2>&1) || true
}
id postgres >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin postgres
mkdir -p "$PGDIR"
chown postgres: "$WORK" "$PGDIR"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bench_log "starting PostgreSQL 15 in $PGDIR (port $PGPORT)"
(cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
  --auth-local=trust --auth-host=trust >"$PGDIR/initdb.log" 2>&1) || bench_die "initdb failed"
(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c wal_level=logical -c max_wal_size=4GB" \
  start >/dev/null) || bench_die "PostgreSQL did not start: $(tail -5 "$PGDIR/server.log")"
psql_pg() { (cd / && runuser -u postgres -- "$PGBIN/psql" -h "$PGDIR" -p "$PGPORT" -d "${PGDB:-postgres}" -XAtq -v ON_ERROR_STOP=1 "$@"); }
psql_pg -c "CREATE ROLE bench LOGIN REPLICATION"
psql_pg -c "CREATE DATABASE bench OWNER bench"
PGDB=bench psql_pg -c "SET ROLE bench; CREATE TABLE t (id bigint PRIMARY KEY, qty int NOT NULL, flag smallint,
  code varchar(64) NOT NULL, price numeric(12,2) NOT NULL, created timestamptz NOT NULL, note text);
  CREATE PUBLICATION p FOR TABLE t"

workload() {  # the same changes every run, on an emptied table
  PGDB=bench psql_pg -c "TRUNCATE t" >/dev/null
  awk -v rows="$ROWS" -v txn="$TXN_ROWS" -v updates="$UPDATES" -v deletes="$DELETES" 'BEGIN {
    for (lo = 1; lo <= rows; lo += txn) {
      hi = lo + txn - 1; if (hi > rows) hi = rows
      printf "INSERT INTO t SELECT i, i %% 100000, CASE WHEN i %% 7 = 0 THEN NULL ELSE i %% 100 END, " \
             "'\''C'\'' || to_hex(i), (i %% 100000) / 100.0 + 0.01, " \
             "timestamptz '\''2024-01-01 00:00:00+00'\'' + i * interval '\''1001 ms'\'', " \
             "repeat(chr(97 + (i %% 26)::int), 20 + (i %% 180)::int) FROM generate_series(%d, %d) i;\n", lo, hi
    }
    for (lo = 1; lo <= updates; lo += txn) {
      hi = lo + txn - 1; if (hi > updates) hi = updates
      printf "UPDATE t SET qty = qty + 1, price = price * 2, note = note || '\''-u'\'' WHERE id BETWEEN %d AND %d;\n", lo, hi
    }
    for (lo = rows - deletes + 1; lo <= rows; lo += txn) {
      hi = lo + txn - 1; if (hi > rows) hi = rows
      printf "DELETE FROM t WHERE id BETWEEN %d AND %d;\n", lo, hi
    }
  }' | PGDB=bench psql_pg -f - >/dev/null
}

# Both slots exist before the workload, so both decode exactly the same WAL.
prepare_round() {  # ROUND: fresh slots, the workload, END_LSN
  PGDB=bench psql_pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
  PGDB=bench psql_pg -c "SELECT pg_create_logical_replication_slot('recv_$1', 'pgoutput')" >/dev/null
  PGDB=bench psql_pg -c "SELECT pg_create_logical_replication_slot('sluice_$1', 'pgoutput')" >/dev/null
  [ "$KAFKA" = 0 ] || PGDB=bench psql_pg -c "SELECT pg_create_logical_replication_slot('kafka_$1', 'pgoutput')" >/dev/null
  local t0 t1
  t0=$(bench_now)
  workload
  t1=$(bench_now)
  END_LSN=$(PGDB=bench psql_pg -c "SELECT pg_current_wal_lsn()")
  bench_log "  workload written in $(bench_elapsed "$t0" "$t1") s; WAL end $END_LSN"
}

run_reference() {
  prepare_round "$1"
  bench_measure M "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PGPORT" -U bench -d bench -S "recv_$1" --start \
    -o proto_version=1 -o publication_names=p -E "$END_LSN" --no-loop -f /dev/null
  [ "$M_STATUS" = 0 ] || bench_die "pg_recvlogical exited with status $M_STATUS"
  bench_log "  pg_recvlogical: $M_WALL s wall, $M_CPU s CPU"
  bench_keep_best ref "$M_WALL" "$M_CPU"
}
run_sluice() {
  bench_measure M "$SLUICE" tail --source "postgres://bench@127.0.0.1:$PGPORT/bench?slot=sluice_$1&publication=p" \
    --start earliest --limit "$TOTAL"
  [ "$M_STATUS" = 0 ] || bench_die "sluice tail exited with status $M_STATUS"
  bench_log "  sluice tail: $M_WALL s wall, $M_CPU s CPU, peak RSS $(bench_mib "$M_RSS_KB") MiB"
  bench_keep_best sluice "$M_WALL" "$M_CPU"
}

cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
run_kafka() {  # ROUND: sluice run from the slot kafka_ROUND into a fresh mock cluster
  local dir=$WORK/kafka$1 port t0 t1 pid mock cpu
  mkdir -p "$dir"
  bench_kafka_mock "$dir/boot" 16
  mock=$BENCH_MOCK_PID
  KAFKA_PIDS+=("$mock")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/sluice.yaml" <<YAML
store: $dir/sluice.db
http: 127.0.0.1:$port
sources:
  src: {url: "postgres://bench@127.0.0.1:$PGPORT/bench?slot=kafka_$1&publication=p"}
targets:
  bus: {url: "kafka://$(head -n 1 "$dir/boot")", format: $FORMAT}
pipelines:
  - name: p
    source: src
    targets: [bus]
    start: earliest
    tables:
      - match: "public.t"
    batch: {size: $BATCH, timeout_ms: 200}
YAML
  t0=$(bench_now)
  "$SLUICE" run -c "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
  pid=$!
  KAFKA_PIDS+=("$pid")
  while true; do
    bench_rows_applied "$port" p
    [ "$BENCH_APPLIED" -ge "$TOTAL" ] && break
    kill -0 "$pid" 2>/dev/null || bench_die "sluice run exited: $(tail -n 20 "$dir/sluice.log")"
    awk -v a="$t0" -v b="$(bench_now)" -v t="$BENCH_TIMEOUT" 'BEGIN { exit !(b - a > t) }' &&
      bench_die "sluice run: only $BENCH_APPLIED of $TOTAL rows after $BENCH_TIMEOUT s"
    bench_nap 0.01
  done
  t1=$(bench_now)
  cpu=$(cpu_of "$pid")
  kill "$pid" "$mock" 2>/dev/null || true
  wait "$pid" "$mock" 2>/dev/null || true
  bench_log "  sluice run -> Kafka ($FORMAT): $(bench_elapsed "$t0" "$t1") s wall, $cpu s CPU"
  bench_keep_best kafka "$(bench_elapsed "$t0" "$t1")" "$cpu"
}
run_sluice_and_kafka() {
  run_sluice "$1"
  [ "$KAFKA" = 0 ] || run_kafka "$1"
}

bench_alternate "$REPEAT" run_reference run_sluice_and_kafka
bench_sluice_missing tail
bench_ratio ref sluice 1
printf '%s row changes (%s inserts, %s updates, %s deletes; %s per transaction), best of %s\n' \
  "$TOTAL" "$ROWS" "$UPDATES" "$DELETES" "$TXN_ROWS" "$REPEAT"
printf '  pg_recvlogical (pgoutput v1 to /dev/null): %s s  %s rows/s\n' "${BENCH_BEST[ref]}" \
  "$(bench_div "$TOTAL" "${BENCH_BEST[ref]}")"
printf '  sluice tail --format json:                 %s s  %s rows/s\n' "${BENCH_BEST[sluice]}" \
  "$(bench_div "$TOTAL" "${BENCH_BEST[sluice]}")"
if [ "$KAFKA" != 0 ]; then
  printf '  sluice run -> Kafka (%s, mock cluster): %s s  %s rows/s  (%sx pg_recvlogical'"'"'s rate)\n' "$FORMAT" \
    "${BENCH_BEST[kafka]}" "$(bench_div "$TOTAL" "${BENCH_BEST[kafka]}")" \
    "$(awk -v r="${BENCH_BEST[ref]}" -v k="${BENCH_BEST[kafka]}" 'BEGIN { printf "%.2f", r / k }')"
fi
printf '  ratio %sx (goal >= 1x: %s); %s, %s cores; load average %s\n' "$BENCH_RATIO" "$BENCH_GOAL_MET" \
  "$(bench_cpu_model)" "$(nproc)" "$(cut -d ' ' -f 1-3 /proc/loadavg)"
[ "$BENCH_GOAL_MET" = yes ] || exit 3
