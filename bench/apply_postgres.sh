#!/usr/bin/env bash
# Apply rate of `sluice run` into PostgreSQL 15 beside its rate into MariaDB,
# both applying the same source binlog from its first event into an EMPTY
# target (the workload of bench/apply.sh, smaller by default).
#
#   bash bench/apply_postgres.sh            # 40,000 inserts + 20,000 updates + 4,000 deletes
#   INSERTS=100000 UPDATES=50000 DELETES=10000 bash bench/apply_postgres.sh
#
# Timed from the start of `sluice run` until the pipeline's checkpoint row
# (`_sluice.checkpoints`, part -1) records the source's final position: it
# commits with the last batch, so the target then holds the final state.
# PostgreSQL runs with fsync=off (as in the tests), MariaDB with
# innodb_flush_log_at_trx_commit=2; both targets apply with batch BATCH; the
# MariaDB target with parallel PARALLEL (4), PostgreSQL with its single
# connection. Afterwards (untimed) row count and sum(qty), sum(price) must
# equal the source's.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSERTS=${INSERTS:-40000}
UPDATES=${UPDATES:-20000}
DELETES=${DELETES:-4000}
INSERT_TXN=${INSERT_TXN:-100}
UPDATE_TXN=${UPDATE_TXN:-10}
BATCH=${BATCH:-1000}
PARALLEL=${PARALLEL:-4}
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

# Runs sluice until CHECK (a command printing 1 once the final checkpoint is
# recorded) holds; prints the seconds.
timed_run() {  # DIR CHECK...
  local dir=$1 t0 t1
  shift
  t0=$(bench_now)
  "$SLUICE" run -c "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
  SLUICE_PID=$!
  local deadline=$((SECONDS + TIMEOUT))
  until [ "$("$@" 2>/dev/null)" = 1 ]; do
    kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice exited early: $(tail -n 20 "$dir/sluice.log")"
    [ "$SECONDS" -lt "$deadline" ] || bench_die "no final checkpoint after ${TIMEOUT}s: $(tail -n 20 "$dir/sluice.log")"
    sleep 0.02
  done
  t1=$(bench_now)
  kill -TERM "$SLUICE_PID"
  wait "$SLUICE_PID" || true
  SLUICE_PID=
  bench_elapsed "$t0" "$t1"
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
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null)
psql_pg() { (cd / && runuser -u postgres -- psql -h "$PGDIR" -p "$PGPORT" -d "${PGDB:-postgres}" -XAtq -c "$1"); }
psql_pg "CREATE ROLE app LOGIN SUPERUSER PASSWORD 'pw'"
psql_pg "CREATE DATABASE bench OWNER app"

mkdir -p "$WORK/run-pg"
config "postgres://app:pw@127.0.0.1:$PGPORT/bench" 1 "$WORK/run-pg"
pg_done() {
  PGDB=bench psql_pg "SELECT count(*) FROM _sluice.checkpoints WHERE pipeline = 'apply' AND part = -1 AND resume_position = '$END_FILE:$END_POS'"
}
bench_log "sluice → PostgreSQL"
PG_SECS=$(timed_run "$WORK/run-pg" pg_done)
PG_SUMS=$(PGDB=bench psql_pg "SELECT count(*), sum(qty), sum(price) FROM bench.t")
[ "$PG_SUMS" = "$SRC_SUMS" ] || bench_die "PostgreSQL differs from the source: $PG_SUMS vs $SRC_SUMS"

bench_log "sluice → MariaDB (parallel $PARALLEL)"
mariadb_start TGT "$WORK/tgt" 2 --skip-log-bin --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=512M
mkdir -p "$WORK/run-my"
config "mysql://root@127.0.0.1:$TGT_PORT" "$PARALLEL" "$WORK/run-my"
my_done() {
  mariadb_sql "$WORK/tgt" "SELECT COUNT(*) FROM _sluice.checkpoints WHERE pipeline = 'apply' AND part = -1 AND resume_position = '$END_FILE:$END_POS'"
}
MY_SECS=$(timed_run "$WORK/run-my" my_done)
MY_SUMS=$(mariadb_sql "$WORK/tgt" "SELECT COUNT(*), SUM(qty), SUM(price) FROM bench.t" | tr '\t' '|')
[ "$MY_SUMS" = "$SRC_SUMS" ] || bench_die "MariaDB target differs from the source: $MY_SUMS vs $SRC_SUMS"

echo
echo "== apply: sluice run into PostgreSQL 15 vs into MariaDB (same binlog, empty targets) =="
echo "workload:  $INSERTS inserts ($INSERT_TXN rows/txn) + $UPDATES updates + $DELETES deletes ($UPDATE_TXN/txn) = $TOTAL row changes"
printf '%-40s %8.3f s %9s rows/s\n' "PostgreSQL (1 connection, batch $BATCH)" "$PG_SECS" "$(bench_div "$TOTAL" "$PG_SECS")"
printf '%-40s %8.3f s %9s rows/s\n' "MariaDB (parallel $PARALLEL, batch $BATCH)" "$MY_SECS" "$(bench_div "$TOTAL" "$MY_SECS")"
echo "ratio:     PostgreSQL / MariaDB row rate $(awk -v p="$PG_SECS" -v m="$MY_SECS" 'BEGIN { printf "%.2f", m / p }')x"
echo "verified:  count, sum(qty), sum(price) equal to the source's on both targets ($SRC_SUMS)"
