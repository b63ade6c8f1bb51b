#!/usr/bin/env bash
# `make demo`: a private MariaDB on loopback, a shop schema, a few
# transactions written while `sluice tail` follows the binlog live and prints
# each committed row change as a JSON line. Stops by itself (or on Ctrl-C)
# and removes its server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/mariadb.sh

SLUICE=build/sluice
DEMO_DIR=$(mktemp -d /tmp/sluice-demo.XXXXXX)
TAIL_PID=""
cleanup() {
  [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null && wait "$TAIL_PID" 2>/dev/null
  mariadb_stop_all >/dev/null 2>&1 || true
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "starting a private MariaDB (binlog_format=ROW, binlog_row_metadata=FULL) in $DEMO_DIR"
mariadb_start SRC "$DEMO_DIR/source" 1 --log-bin=binlog --binlog-format=ROW --binlog-row-metadata=FULL >/dev/null
echo "source: mysql://root@127.0.0.1:$SRC_PORT" >&2

mariadb_sql "$DEMO_DIR/source" "
  CREATE DATABASE shop;
  CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(50), level ENUM('basic','gold'), created DATETIME(3));
  CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, customer_id INT, status VARCHAR(10),
                            amount DECIMAL(10,2), note JSON, updated TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3));"

say "sluice tail --source mysql://root@127.0.0.1:$SRC_PORT --start latest  (JSON lines below)"
"$SLUICE" tail --source "mysql://root@127.0.0.1:$SRC_PORT" --start latest --heartbeat-ms 500 &
TAIL_PID=$!
sleep 1

step() {
  say "$1"
  echo "   SQL: $2" >&2
  mariadb_sql "$DEMO_DIR/source" "$2"
  sleep 1
}
step "a customer signs up" \
  "INSERT INTO shop.customers VALUES (1, 'Zoë Martín', 'basic', NOW(3))"
step "one transaction: two orders" \
  "BEGIN; INSERT INTO shop.orders (id, customer_id, status, amount, note) VALUES (1001, 1, 'new', 19.90, '{\"gift\": true}'), (1002, 1, 'new', 5.00, NULL); COMMIT"
step "an order is paid, the customer upgraded" \
  "BEGIN; UPDATE shop.orders SET status = 'paid' WHERE id = 1001; UPDATE shop.customers SET level = 'gold' WHERE id = 1; COMMIT"
step "an order is cancelled" \
  "DELETE FROM shop.orders WHERE id = 1002"
step "a rolled-back transaction never appears" \
  "BEGIN; INSERT INTO shop.orders (id, customer_id, status, amount) VALUES (9999, 1, 'ghost', 1); ROLLBACK"

say "done: every committed change above arrived as one JSON line; stopping"
