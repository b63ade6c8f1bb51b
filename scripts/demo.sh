#!/usr/bin/env bash
# `make demo`: the main job on an embedded default. Starts a private source
# and two target MariaDB servers and a PostgreSQL 15 on loopback, creates a
# shop schema, runs a steady workload, and runs `sluice run -c
# examples/shop.yaml` (fan-out, rename, column subset, row filter, 1:1 copy
# with DDL, a PostgreSQL warehouse). Shows live status (delay and rows/s per
# target) until Ctrl-C (or DEMO_SECONDS), then prints a `sluice check` proving
# every target (MySQL and the PostgreSQL warehouse) equals the source, and the
# warehouse's counts and sums against the source's.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/mariadb.sh
source scripts/lib/postgres.sh
source scripts/lib/demo.sh

SLUICE=${SLUICE:-$PWD/build/sluice}
DEMO_DIR=$(mktemp -d /tmp/sluice-demo.XXXXXX)
# PostgreSQL runs as its own user, which cannot enter DEMO_DIR (mode 0700).
PG_DIR=$(mktemp -d /tmp/sluice-demo-pg.XXXXXX)
WORKLOAD_PID=""
SLUICE_PID=""
STOPPING=0
# Servers and sluice stop when this script ends, however it ends (their
# watchdogs see it gone); DEMO_KEEP=1 keeps them for a look afterwards.
[ -z "${DEMO_KEEP:-}" ] || export SLUICE_MARIADB_OWNER=none

cleanup() {
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the cleanup short
  if [ -n "$WORKLOAD_PID" ]; then stop_workload; fi
  if [ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null; then wait "$SLUICE_PID" 2>/dev/null || true; fi
  if [ -z "${DEMO_KEEP:-}" ]; then
    say "stopping the servers"
    mariadb_stop_all >/dev/null 2>&1 || true
    postgres_stop "$PG_DIR"
    rm -rf "$DEMO_DIR" "$PG_DIR"
  else
    echo "servers and data kept in $DEMO_DIR (DEMO_KEEP)"
  fi
}
trap cleanup EXIT
# Ctrl-C (and a terminal closing) ends the live view; the script then stops
# the workload, prints the check and stops everything it started.
trap 'STOPPING=1' INT TERM HUP

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "starting three private MariaDB servers in $DEMO_DIR"
mariadb_start SRC "$DEMO_DIR/source" 1 --log-bin=binlog --binlog-format=ROW --binlog-row-metadata=FULL >/dev/null
mariadb_start SEARCH "$DEMO_DIR/search" 2 >/dev/null
mariadb_start REPORT "$DEMO_DIR/report" 3 >/dev/null
echo "source 127.0.0.1:$SRC_PORT   search 127.0.0.1:$SEARCH_PORT   report 127.0.0.1:$REPORT_PORT"
say "starting a private PostgreSQL 15 in $PG_DIR (the warehouse target)"
postgres_start "$PG_DIR"
echo "warehouse 127.0.0.1:$PG_PORT"

say "creating the shop schema and some history"
mariadb_sql "$DEMO_DIR/source" "
  CREATE DATABASE shop;
  CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(50), level ENUM('basic','gold'));
  CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, customer_id INT, status VARCHAR(12),
                            amount DECIMAL(10,2), note VARCHAR(100), updated DATETIME(3));
  USE shop;
  INSERT INTO customers SELECT seq, CONCAT('customer ', seq), IF(seq % 7 = 0, 'gold', 'basic') FROM seq_1_to_200;
  INSERT INTO orders SELECT seq, 1 + seq % 200, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'cancelled'),
                            (seq % 97) + 0.99, CONCAT('order ', seq), NOW(3) FROM seq_1_to_5000;"
# The search target holds a renamed, subset table: users create it themselves.
mariadb_sql "$DEMO_DIR/search" "CREATE DATABASE search_db;
  CREATE TABLE search_db.orders (id BIGINT PRIMARY KEY, buyer INT, status VARCHAR(12), amount DECIMAL(10,2));"
mariadb_sql "$DEMO_DIR/report" "CREATE DATABASE search_db;
  CREATE TABLE search_db.orders (id BIGINT PRIMARY KEY, buyer INT, status VARCHAR(12), amount DECIMAL(10,2));"

HTTP_PORT=$(free_port)
sed -e "s|@DEMO_DIR@|$DEMO_DIR|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@SRC_PORT@|$SRC_PORT|g" \
    -e "s|@SEARCH_PORT@|$SEARCH_PORT|g" -e "s|@REPORT_PORT@|$REPORT_PORT|g" -e "s|@PG_PORT@|$PG_PORT|g" \
    examples/shop.yaml >"$DEMO_DIR/shop.yaml"

say "console: http://127.0.0.1:$HTTP_PORT/   (open it in a browser: live delay, throughput, actions, audit)"
say "sluice run -c examples/shop.yaml   (log: $DEMO_DIR/sluice.log, API: http://127.0.0.1:$HTTP_PORT/api/pipelines)"
# In a session of its own: a Ctrl-C at the terminal goes to this script's
# process group, and sluice must keep applying until the check below has
# seen the targets catch up. This script stops it at the end.
setsid "$SLUICE" run -c "$DEMO_DIR/shop.yaml" >"$DEMO_DIR/sluice.log" 2>&1 </dev/null &
SLUICE_PID=$!
[ -n "${DEMO_KEEP:-}" ] || sluice_watchdog "$SLUICE_PID" "$$" "$DEMO_DIR"

# Steady workload: ~50 transactions/s of inserts, updates (status changes move
# rows in and out of the search filter) and deletes, over one client session.
workload() {
  local id=5001
  while [ ! -e "$DEMO_DIR/stop-workload" ]; do
    local r=$((RANDOM % 10))
    if [ $r -lt 5 ]; then
      echo "INSERT INTO shop.orders VALUES ($id, $((1 + RANDOM % 200)), 'new', $((RANDOM % 100)).$((RANDOM % 100)), 'order $id', NOW(3));"
      id=$((id + 1))
    elif [ $r -lt 8 ]; then
      echo "UPDATE shop.orders SET status = ELT(1 + FLOOR(RAND() * 4), 'new', 'paid', 'shipped', 'cancelled'), updated = NOW(3) WHERE id = $((1 + RANDOM % id));"
    elif [ $r -lt 9 ]; then
      echo "BEGIN; UPDATE shop.customers SET level = IF(level = 'gold', 'basic', 'gold') WHERE id = $((1 + RANDOM % 200)); DELETE FROM shop.orders WHERE id = $((1 + RANDOM % id)); COMMIT;"
    else
      echo "UPDATE shop.orders SET amount = amount + 1 WHERE id BETWEEN $((RANDOM % id)) AND $((RANDOM % id + 20));"
    fi
    sleep 0.02
  done | mariadb --socket="$SRC_SOCKET" -uroot --batch --sigint-ignore >/dev/null 2>&1
}
# (--sigint-ignore: Ctrl-C reaches the whole process group, and the client's
# own handler, which opens a connection to KILL the running query from inside
# the signal handler, can hang there; the loop is stopped by stop-workload.)
workload &
WORKLOAD_PID=$!
# Ends the workload loop (at its next statement) and its client; a client
# still busy after 10 s (a statement the source holds up) is ended, so the
# demo never hangs here.
stop_workload() {
  touch "$DEMO_DIR/stop-workload"
  for _ in $(seq 1 100); do
    kill -0 "$WORKLOAD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$WORKLOAD_PID" 2>/dev/null; then
    echo "the workload did not end within 10 s; ending it"
    pkill -P "$WORKLOAD_PID" 2>/dev/null || true
    kill "$WORKLOAD_PID" 2>/dev/null || true
  fi
  wait "$WORKLOAD_PID" 2>/dev/null || true
}

status_table() {
  { curl -s "http://127.0.0.1:$HTTP_PORT/api/pipelines" || true; } | python3 -c '
import json, sys
try:
    data = json.load(sys.stdin)
except Exception:
    print("  (waiting for the API)"); sys.exit(0)
print("  %-18s %-10s %-10s %10s %10s %12s" % ("pipeline", "target", "state", "delay_ms", "rows/s", "rows"))
for p in data:
    for t in p.get("targets", []):
        print("  %-18s %-10s %-10s %10d %10.0f %12d" % (p["name"], t["name"], t["state"], t["delay_ms"],
              t.get("rows_per_second", 0), t["rows_applied"]))
    if p.get("last_error"):
        print("  last error:", p["last_error"][:160])' || true
}

say "live status (Ctrl-C to stop)"
started=$(date +%s)
# Each step runs in the background and is waited for: the `wait` builtin
# returns at once on a trapped signal and runs the trap. A foreground command
# would not do: bash drops a Ctrl-C when the command it waited for exited
# normally (curl, python), taking it as handled there, and the demo would
# run on.
while [ $STOPPING -eq 0 ]; do
  if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
    echo "sluice exited; its log:"; tail -20 "$DEMO_DIR/sluice.log"; exit 1
  fi
  printf '\033[2K%s\n' "$(date +%T)"
  status_table & wait $! || true
  [ $STOPPING -eq 0 ] || break
  if [ -n "${DEMO_SECONDS:-}" ] && [ $(( $(date +%s) - started )) -ge "$DEMO_SECONDS" ]; then break; fi
  demo_sleep 1
done

say "stopping the workload; waiting for the targets to catch up"
stop_workload
WORKLOAD_PID=""

say "sluice check -c examples/shop.yaml   (every target against the source, through the rules)"
# Differences still in flight are re-read once the pipelines have applied
# past the source's position, so this also waits for the catch-up.
FAILED=0
for p in orders_to_search shop_to_report shop_to_warehouse; do
  "$SLUICE" check -c "$DEMO_DIR/shop.yaml" --pipeline "$p" --wait-seconds 60 | sed -u 's/^/  /' || FAILED=1
done

say "PostgreSQL warehouse against the source, by hand as well (row counts and sums)"
summary_sql="SELECT (SELECT COUNT(*) FROM shop.orders), (SELECT COALESCE(SUM(amount), 0) FROM shop.orders),
                    (SELECT COUNT(*) FROM shop.customers), (SELECT COUNT(*) FROM shop.customers WHERE level = 'gold')"
want=$(mariadb --socket="$SRC_SOCKET" -uroot -N --batch -e "$summary_sql" | tr '\t' ' ')
got=""
for _ in $(seq 1 60); do
  got=$(postgres_sql "$PG_DIR" "$summary_sql" 2>/dev/null | tr '|' ' ')
  [ "$got" = "$want" ] && break
  sleep 1
done
echo "  source:    orders, sum(amount), customers, gold = $want"
echo "  warehouse: orders, sum(amount), customers, gold = $got"
if [ "$got" = "$want" ]; then echo "  OK"; else echo "  DIFFERENT"; FAILED=1; fi
status_table
exit $FAILED
