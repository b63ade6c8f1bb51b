#!/usr/bin/env bash
# Apply rate of `sluice run` into PostgreSQL 15 beside its rate into MariaDB,
# both applying the same source binlog from its first event into an EMPTY
# target (the workload of bench/apply.sh: 160,000 row changes).
#
#   bash bench/apply_postgres.sh            # 100,000 inserts + 50,000 updates + 10,000 deletes
#   REPEAT=3 PG_PARALLEL="1 4" bash bench/apply_postgres.sh
#
# Timed from the start of `sluice run` until the pipeline's checkpoint row
# (`_sluice.checkpoints`, part -1) records the source's final position: it
# commits with the last batch, so the target then holds the final state.
# PostgreSQL runs with fsync=off (as in the tests), MariaDB with
# innodb_flush_log_at_trx_commit=2; both targets apply with batch BATCH; the
# MariaDB target with parallel PARALLEL (4), PostgreSQL with each `parallel:`
# of PG_PARALLEL ("4 1"; the first, the same setting as the MariaDB
# target's, is the one the goal is judged on). Each
# timed run starts from an empty target (a fresh database / server). REPEAT
# (3) rounds, each timing every PostgreSQL setting and then MariaDB, so that
# the load of the machine hits both alike; the best of each is reported, and
# the ratio of every round too. CPU seconds of sluice and of the target
# server's processes (from /proc, utime + stime) are printed per run: they
# tell which side bounds the rate. PROFILE=1: perf record -g of the first
# PostgreSQL run, system-wide so that the server's backends show beside
# sluice (reports under the work dir, KEEP=1 keeps them). Afterwards
# (untimed) row count and sum(qty), sum(price) must equal the source's.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSERTS=${INSERTS:-100000}
UPDATES=${UPDATES:-50000}
DELETES=${DELETES:-10000}
INSERT_TXN=${INSERT_TXN:-100}
UPDATE_TXN=${UPDATE_TXN:-10}
BATCH=${BATCH:-1000}
PARALLEL=${PARALLEL:-4}
PG_PARALLEL=${PG_PARALLEL:-4 1}
REPEAT=${REPEAT:-3}
TIMEOUT=${TIMEOUT:-900}
TOTAL=$((INSERTS + UPDATES + DELETES))
PGBIN=/usr/lib/postgresql/15/bin

bench_need_sluice
WORK=$(mktemp -d /tmp/sluice-bench-pg.XXXXXX)
chmod 755 "$WORK"
SLUICE_PID=
PGDIR=
cleanup() {
  local status=$?
  if [ -n "$SLUICE_PID" ]; then kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; fi
  if [ -n "$PGDIR" ]; then (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" stop -D "$PGDIR/data" -m fast -w >/dev/null 2>&1) || true; fi
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then bench_log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_log "starting the source MariaDB"
mariadb_start SRC "$WORK/src" 1 --binlog-format=ROW --binlog-row-metadata=FULL --innodb-flush-log-at-trx-commit=0 \
  --sync-binlog=0 --innodb-buffer-pool-size=512M
SRC_DIR=$WORK/src
mariadb_sql "$SRC_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, qty SMALLINT NULL, name VARCHAR(64) NOT NULL,
  price DECIMAL(10,2) NOT NULL, created DATETIME(3) NOT NULL, note VARCHAR(255) NULL, KEY k (k)) ENGINE=InnoDB;"
awk -v ins="$INSERTS" -v upd="$UPDATES" -v del="$DELETES" -v itxn="$INSERT_TXN" -v utxn="$UPDATE_TXN" 'BEGIN {
  print "USE bench;"
  for (lo = 1; lo <= ins; lo += itxn) {
    hi = lo + itxn - 1; if (hi > ins) hi = ins
    printf "INSERT INTO t SELECT seq, seq * 37 %% 1000003, IF(seq %% 7 = 0, NULL, seq %% 1000), CONCAT(\"customer \", seq), " \
           "(seq %% 100000) / 100 + 0.01, TIMESTAMP\"2024-01-01 00:00:00\" + INTERVAL seq * 1001000 MICROSECOND, " \
           "IF(seq %% 5 = 0, NULL, REPEAT(CHAR(97 + seq %% 26), 20 + seq %% 60)) FROM seq_%d_to_%d;\n", lo, hi
  }
  for (i = 0; i < upd; i += utxn) {
    printf "BEGIN;"
    for (j = i; j < i + utxn && j < upd; j++)
      printf " UPDATE t SET qty = IFNULL(qty, 0) + 1, price = price + 1.25, k = k + 1, note = CONCAT(\"updated \", %d) WHERE id = %d;", j, (j * 7919) % ins + 1
    print " COMMIT;"
  }
  for (i = 0; i < del; i += utxn) {
    printf "BEGIN;"
    for (j = i; j < i + utxn && j < del; j++) printf " DELETE FROM t WHERE id = %d;", (j * 104729) % ins + 1
    print " COMMIT;"
  }
}' | mariadb_sql "$SRC_DIR" -
read -r END_FILE END_POS _ < <(mariadb_sql "$SRC_DIR" "SHOW MASTER STATUS")
SRC_SUMS=$(mariadb_sql "$SRC_DIR" "SELECT COUNT(*), SUM(qty), SUM(price) FROM bench.t" | tr '\t' '|')
bench_log "workload written: $TOTAL row changes, final position $END_FILE:$END_POS, source $SRC_SUMS"

config() {  # TARGET_URL PARALLEL DIR
  cat >"$3/sluice.yaml" <<YAML
store: $3/sluice.db
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  dst: {url: "$1"}
pipelines:
  - name: apply
    source: src
    targets: [dst]
    start: earliest
    tables:
      - match: "bench.*"
    batch: {size: $BATCH, timeout_ms: 200}
    parallel: $2
YAML
}

# utime + stime in seconds of the given pids (0 for gone ones).
cpu_of() {
  local total=0 pid stat
  for pid in "$@"; do
    if read -r -a stat <"/proc/$pid/stat" 2>/dev/null; then total=$((total + stat[13] + stat[14])); fi
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
# Ticks of every PostgreSQL process that ever ran during a run: backends come
# and go, so the cluster's CPU is read as the postmaster's children's totals
# (cutime/cstime of reaped children) plus the live ones.
pg_cpu() {
  local pm stat total=0 pid
  pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
  read -r -a stat <"/proc/$pm/stat"
  total=$((stat[13] + stat[14] + stat[15] + stat[16]))
  for pid in $(pgrep -P "$pm"); do
    if read -r -a stat <"/proc/$pid/stat" 2>/dev/null; then total=$((total + stat[13] + stat[14])); fi
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# Runs sluice until CHECK (a command printing 1 once the final checkpoint is
# recorded) holds. Sets SECS and SLUICE_CPU.
timed_run() {  # DIR PROFILE(0|1) CHECK...
  local dir=$1 profile=$2 t0 t1 perf_pid=
  shift 2
  t0=$(bench_now)
  "$SLUICE" run -c "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
  SLUICE_PID=$!
  if [ "$profile" = 1 ]; then
    perf record -a -g -o "$dir/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until [ "$("$@" 2>/dev/null)" = 1 ]; do
    kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice exited early: $(tail -n 20 "$dir/sluice.log")"
    [ "$SECONDS" -lt "$deadline" ] || bench_die "no final checkpoint after ${TIMEOUT}s: $(tail -n 20 "$dir/sluice.log")"
    sleep 0.02
  done
  t1=$(bench_now)
  SLUICE_CPU=$(cpu_of "$SLUICE_PID")
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf report -i "$dir/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -v '^$' |
      head -n 40 >"$dir/perf-by-process.txt" || true
    perf report -i "$dir/perf.data" --no-children --comm sluice --percent-limit 1 --stdio 2>/dev/null | grep -v '^$' |
      head -n 80 >"$dir/perf.txt" || true
    bench_log "perf report: $dir/perf.txt"
  fi
  kill -TERM "$SLUICE_PID"
  wait "$SLUICE_PID" || true
  SLUICE_PID=
  SECS=$(bench_elapsed "$t0" "$t1")
}

# PostgreSQL 15 as the tests run it (tests/harness/postgres_server.cc).
id postgres >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin postgres
PGDIR=$WORK/pg
mkdir -p "$PGDIR"
chown postgres: "$PGDIR"
PGPORT=$(( 40000 + RANDOM % 10000 ))
(cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
  --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$PGDIR/initdb.log" 2>&1)
(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off ${PG_ARGS:-}" start >/dev/null)
psql_pg() { (cd / && runuser -u postgres -- "$PGBIN/psql" -h "$PGDIR" -p "$PGPORT" -d "${PGDB:-postgres}" -XAtq -c "$1"); }
psql_pg "CREATE ROLE app LOGIN SUPERUSER PASSWORD 'pw'"

declare -A BEST BEST_SCPU BEST_TCPU
RATIOS=()
record() {  # KEY SECS SLUICE_CPU TARGET_CPU
  if [ -z "${BEST[$1]:-}" ] || awk -v a="$2" -v b="${BEST[$1]}" 'BEGIN { exit !(a < b) }'; then
    BEST[$1]=$2 BEST_SCPU[$1]=$3 BEST_TCPU[$1]=$4
  fi
}

run_pg() {  # PARALLEL ROUND
  local par=$1 round=$2 dir=$WORK/run-pg-p$1-$2 cpu0 profile=0
  psql_pg "DROP DATABASE IF EXISTS bench" >/dev/null
  psql_pg "CREATE DATABASE bench OWNER app"
  mkdir -p "$dir"
  config "postgres://app:pw@127.0.0.1:$PGPORT/bench" "$par" "$dir"
  pg_done() {
    PGDB=bench psql_pg "SELECT count(*) FROM _sluice.checkpoints WHERE pipeline = 'apply' AND part = -1 AND resume_position = '$END_FILE:$END_POS'"
  }
  [ "${PROFILE:-0}" = 1 ] && [ "$round" = 1 ] && [ "$par" = "${PG_PARALLEL%% *}" ] && command -v perf >/dev/null && profile=1
  bench_log "round $round: sluice → PostgreSQL (parallel $par)"
  cpu0=$(pg_cpu)
  timed_run "$dir" "$profile" pg_done
  local tcpu
  tcpu=$(awk -v a="$(pg_cpu)" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')
  local sums
  sums=$(PGDB=bench psql_pg "SELECT count(*), sum(qty), sum(price) FROM bench.t")
  [ "$sums" = "$SRC_SUMS" ] || bench_die "PostgreSQL differs from the source: $sums vs $SRC_SUMS"
  bench_log "  $SECS s, $(bench_div "$TOTAL" "$SECS") rows/s; CPU: sluice $SLUICE_CPU s, PostgreSQL $tcpu s"
  record "pg$par" "$SECS" "$SLUICE_CPU" "$tcpu"
  PG_LAST[$par]=$SECS
}

run_my() {  # ROUND
  local round=$1 dir=$WORK/run-my-$1 tgt=$WORK/tgt-$1 cpu0 tcpu sums
  mariadb_start TGT "$tgt" 2 --skip-log-bin --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=512M
  mkdir -p "$dir"
  config "mysql://root@127.0.0.1:$TGT_PORT" "$PARALLEL" "$dir"
  my_done() {
    mariadb_sql "$tgt" "SELECT COUNT(*) FROM _sluice.checkpoints WHERE pipeline = 'apply' AND part = -1 AND resume_position = '$END_FILE:$END_POS'"
  }
  bench_log "round $round: sluice → MariaDB (parallel $PARALLEL)"
  cpu0=$(cpu_of "$(cat "$tgt/mariadbd.pid")")
  timed_run "$dir" 0 my_done
  tcpu=$(awk -v a="$(cpu_of "$(cat "$tgt/mariadbd.pid")")" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')
  sums=$(mariadb_sql "$tgt" "SELECT COUNT(*), SUM(qty), SUM(price) FROM bench.t" | tr '\t' '|')
  [ "$sums" = "$SRC_SUMS" ] || bench_die "MariaDB target differs from the source: $sums vs $SRC_SUMS"
  bench_log "  $SECS s, $(bench_div "$TOTAL" "$SECS") rows/s; CPU: sluice $SLUICE_CPU s, MariaDB $tcpu s"
  record my "$SECS" "$SLUICE_CPU" "$tcpu"
  mariadb_stop "$tgt"
  rm -rf "$tgt"
  MY_LAST=$SECS
}

declare -A PG_LAST
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$REPEAT"); do
  for par in $PG_PARALLEL; do run_pg "$par" "$round"; done
  run_my "$round"
  line="round $round:"
  for par in $PG_PARALLEL; do
    line+=" pg p$par/my $(awk -v p="${PG_LAST[$par]}" -v m="$MY_LAST" 'BEGIN { printf "%.2f", m / p }')x"
  done
  RATIOS+=("$line (load $(cut -d' ' -f1-3 /proc/loadavg))")
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== apply: sluice run into PostgreSQL 15 vs into MariaDB (same binlog, empty targets) =="
echo "workload:  $INSERTS inserts ($INSERT_TXN rows/txn) + $UPDATES updates + $DELETES deletes ($UPDATE_TXN/txn) = $TOTAL row changes"
echo "best of $REPEAT rounds (CPU seconds of sluice and of the target server in that run):"
for par in $PG_PARALLEL; do
  printf '%-40s %8.3f s %9s rows/s  cpu sluice %6.2f s  server %6.2f s\n' "PostgreSQL (parallel $par, batch $BATCH)" \
    "${BEST[pg$par]}" "$(bench_div "$TOTAL" "${BEST[pg$par]}")" "${BEST_SCPU[pg$par]}" "${BEST_TCPU[pg$par]}"
done
printf '%-40s %8.3f s %9s rows/s  cpu sluice %6.2f s  server %6.2f s\n' "MariaDB (parallel $PARALLEL, batch $BATCH)" \
  "${BEST[my]}" "$(bench_div "$TOTAL" "${BEST[my]}")" "${BEST_SCPU[my]}" "${BEST_TCPU[my]}"
for par in $PG_PARALLEL; do
  echo "ratio (best/best): PostgreSQL parallel $par / MariaDB $(awk -v p="${BEST[pg$par]}" -v m="${BEST[my]}" 'BEGIN { printf "%.2f", m / p }')x"
done
printf '%s\n' "${RATIOS[@]}"
echo "load average: $LOAD_START at the start, $LOAD_END at the end"
echo "verified:  count, sum(qty), sum(price) equal to the source's on every target ($SRC_SUMS)"
