#!/usr/bin/env bash
# Rows/s of `sluice run` into ClickHouse (Debian's clickhouse-server 18.16,
# a private server from a generated config, as tests/harness does).
#
#   bash bench/clickhouse.sh                 # 100,000 inserts, 20,000 updates, 5,000 deletes
#   INSERTS=300000 BATCH=5000 bash bench/clickhouse.sh
#
# The workload (bench.t: INT key, INT, SMALLINT NULL, VARCHAR(64),
# DECIMAL(10,2), DATETIME, VARCHAR(255) NULL) is written to the source first;
# then sluice starts at the binlog's beginning into an empty ClickHouse and is
# timed from its start until `_sluice.checkpoints` records the source's final
# position. Afterwards (untimed) `SELECT count(), sum(...) FINAL WHERE _sign = 1`
# must equal the source. Prints rows/s (row changes / seconds).
#
# Environment: INSERTS UPDATES DELETES INSERT_TXN UPDATE_TXN BATCH KEEP=1 TIMEOUT (600)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSERTS=${INSERTS:-100000}
UPDATES=${UPDATES:-20000}
DELETES=${DELETES:-5000}
INSERT_TXN=${INSERT_TXN:-1000}
UPDATE_TXN=${UPDATE_TXN:-10}
BATCH=${BATCH:-5000}
TIMEOUT=${TIMEOUT:-600}
TOTAL=$((INSERTS + UPDATES + DELETES))
bench_need_sluice

WORK=$(mktemp -d /tmp/sluice-bench-clickhouse.XXXXXX)
SLUICE_PID=
CH_PID=
cleanup() {
  local status=$?
  [ -z "$SLUICE_PID" ] || { kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; }
  [ -z "$CH_PID" ] || { kill -TERM "$CH_PID" 2>/dev/null || true; wait "$CH_PID" 2>/dev/null || true; }
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then bench_log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mariadb_start SRC "$WORK/src" 1 --binlog-format=ROW --binlog-row-metadata=FULL --binlog-row-image=FULL \
  --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=0 --sync-binlog=0
SRC_DIR=$WORK/src
SRC_PORT=$(mariadb_sql "$SRC_DIR" "SELECT @@port")

mariadb_sql "$SRC_DIR" "
CREATE DATABASE bench;
CREATE TABLE bench.t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, qty SMALLINT NULL, name VARCHAR(64) NOT NULL,
  price DECIMAL(10,2) NOT NULL, created DATETIME NOT NULL, note VARCHAR(255) NULL) ENGINE=InnoDB;"
awk -v ins="$INSERTS" -v upd="$UPDATES" -v del="$DELETES" -v itxn="$INSERT_TXN" -v utxn="$UPDATE_TXN" 'BEGIN {
  print "USE bench;"
  for (lo = 1; lo <= ins; lo += itxn) {
    hi = lo + itxn - 1; if (hi > ins) hi = ins
    printf "INSERT INTO t SELECT seq, seq * 37 %% 1000003, IF(seq %% 7 = 0, NULL, seq %% 1000), CONCAT(\"customer \", seq), " \
           "(seq %% 100000) / 100 + 0.01, TIMESTAMP\"2024-01-01 00:00:00\" + INTERVAL seq SECOND, " \
           "IF(seq %% 5 = 0, NULL, REPEAT(CHAR(97 + seq %% 26), 20 + seq %% 60)) FROM seq_%d_to_%d;\n", lo, hi
  }
  for (i = 0; i < upd; i += utxn) {
    printf "BEGIN;"
    for (j = i; j < i + utxn && j < upd; j++) printf " UPDATE t SET qty = IFNULL(qty, 0) + 1, price = price + 1.25 WHERE id = %d;", (j * 7919) % ins + 1
    print " COMMIT;"
  }
  for (i = 0; i < del; i += utxn) {
    printf "BEGIN;"
    for (j = i; j < i + utxn && j < del; j++) printf " DELETE FROM t WHERE id = %d;", (j * 104729) % ins + 1
    print " COMMIT;"
  }
}' | mariadb_sql "$SRC_DIR" -
read -r END_FILE END_POS _ < <(mariadb_sql "$SRC_DIR" "SHOW MASTER STATUS")
SRC_STATS=$(mariadb_sql "$SRC_DIR" "SELECT COUNT(*), SUM(k), SUM(IFNULL(qty, 0)), SUM(price) FROM bench.t")
bench_log "workload: $TOTAL row changes, final position $END_FILE:$END_POS"

# ClickHouse from a private config (as tests/harness/clickhouse_server.cc).
CH=$WORK/ch
mkdir -p "$CH"/{data,tmp,user_files,format_schemas}
CH_PORT=$(_mariadb_free_port)
CH_TCP=$(_mariadb_free_port)
cat >"$CH/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$CH/server.log</log><errorlog>$CH/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host><http_port>$CH_PORT</http_port><tcp_port>$CH_TCP</tcp_port>
  <path>$CH/data/</path><tmp_path>$CH/tmp/</tmp_path><user_files_path>$CH/user_files/</user_files_path>
  <format_schema_path>$CH/format_schemas/</format_schema_path><users_config>$CH/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone><mark_cache_size>5368709</mark_cache_size>
</yandex>
XML
cat >"$CH/users.xml" <<XML
<?xml version="1.0"?>
<yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>
XML
clickhouse-server --config-file="$CH/config.xml" >"$CH/out.log" 2>&1 &
CH_PID=$!
ch() { curl -sS --fail-with-body --data-binary "$1" "http://127.0.0.1:$CH_PORT/"; }
for _ in $(seq 1 600); do ch "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
ch "SELECT 1" >/dev/null || bench_die "clickhouse-server did not start: $(tail -5 "$CH/error.log")"
CH_VERSION=$(ch "SELECT version()")

cat >"$WORK/sluice.yaml" <<YAML
store: $WORK/sluice.db
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 4242}
targets:
  dw: {url: "clickhouse://default@127.0.0.1:$CH_PORT/default"}
pipelines:
  - name: p
    source: src
    targets: [dw]
    start: earliest
    tables:
      - match: "bench.*"
    batch: {size: $BATCH, timeout_ms: 200}
YAML

t0=$(bench_now)
"$SLUICE" run -c "$WORK/sluice.yaml" >"$WORK/sluice.log" 2>&1 &
SLUICE_PID=$!
deadline=$((SECONDS + TIMEOUT))
while :; do
  pos=$(ch "SELECT resume_position FROM _sluice.checkpoints FINAL WHERE pipeline = 'p'" 2>/dev/null || true)
  [ "$pos" = "$END_FILE:$END_POS" ] && break
  kill -0 "$SLUICE_PID" 2>/dev/null || bench_die "sluice exited: $(tail -5 "$WORK/sluice.log")"
  [ "$SECONDS" -lt "$deadline" ] || bench_die "timeout; last position $pos; $(tail -5 "$WORK/sluice.log")"
  sleep 0.05
done
t1=$(bench_now)
SECS=$(bench_elapsed "$t0" "$t1")
CH_STATS=$(ch "SELECT count(), sum(k), sum(ifNull(qty, 0)), sum(price) FROM bench.t FINAL WHERE _sign = 1 FORMAT TSV")
[ "$(echo "$CH_STATS" | tr -s '\t' ' ')" = "$(echo "$SRC_STATS" | tr -s '\t' ' ')" ] ||
  bench_die "ClickHouse differs from the source: $CH_STATS vs $SRC_STATS"
RATE=$(awk -v n="$TOTAL" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')
echo "clickhouse $CH_VERSION: $TOTAL row changes ($INSERTS inserts in transactions of $INSERT_TXN, $UPDATES updates," \
  "$DELETES deletes in transactions of $UPDATE_TXN), batch $BATCH: $SECS s, $RATE rows/s; FINAL WHERE _sign = 1 equals the source ($CH_STATS)"
