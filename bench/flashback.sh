#!/usr/bin/env bash
# `sluice flashback` against `mariadb-binlog --flashback` on the same accident:
# ROWS rows of bench.orders, then an UPDATE without WHERE (every row changes) and a
# DELETE of the upper half (ROWS/2 rows), two transactions. Two servers are
# loaded and hit alike (every value is a function of the id); the original's
# range is undone
#   sluice:         sluice flashback --source mysql://...original --start POS --stop POS --apply mysql://...original
#   mariadb-binlog: mariadb-binlog --flashback --start-position --stop-position BINLOG | mariadb (on the copy)
# Reported: wall seconds and row changes/s of each (one run: an undo cannot be
# repeated on the same data), and both tables' CHECKSUM against the one before
# the accident. sluice's time includes reading the range over replication and
# checking every touched row before writing.
#
#   bash bench/flashback.sh              # ROWS=200000
#   ROWS=50000 bash bench/flashback.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-200000}
export BENCH_TIMEOUT=${TIMEOUT:-900}
bench_positive ROWS BENCH_TIMEOUT
bench_need_sluice

bench_workdir flashback
bench_log "starting two servers in $WORK"
bench_start_target ORIG "$WORK/orig" 1
bench_start_target COPY "$WORK/copy" 2
for d in orig copy; do
  bench_log "loading $ROWS rows into $d"
  bench_orders_load "$WORK/$d" "$ROWS"
done
before=$(bench_checksum "$WORK/orig" bench.orders)
[ "$before" = "$(bench_checksum "$WORK/copy" bench.orders)" ] || bench_die "the two loads differ"
start=$(mariadb_sql "$WORK/orig" "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')
accident="UPDATE bench.orders SET status = CONCAT(status, '!'), note = NULL; DELETE FROM bench.orders WHERE id > $((ROWS / 2))"
for d in orig copy; do mariadb_sql "$WORK/$d" "$accident"; done
stop=$(mariadb_sql "$WORK/orig" "SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')
changes=$((ROWS + ROWS / 2))

bench_log "mariadb-binlog --flashback $start .. $stop into the copy"
# The reversed transactions are single BINLOG statements of the whole transaction's events.
mariadb_sql "$WORK/copy" "SET GLOBAL max_allowed_packet = 1073741824"
t0=$(bench_now)
mariadb-binlog --flashback --start-position="${start#*:}" --stop-position="${stop#*:}" \
  "$WORK/orig/data/${start%%:*}" | mariadb_sql "$WORK/copy" - --max-allowed-packet=1073741824
t1=$(bench_now)
ref_s=$(bench_elapsed "$t0" "$t1")

bench_log "sluice flashback $start .. $stop --apply to the original"
url="mysql://root@127.0.0.1:$ORIG_PORT"
bench_measure SL "$SLUICE" --log-level debug flashback --source "$url" --start "$start" --stop "$stop" --apply "$url"
[ "$SL_STATUS" = 0 ] || bench_die "sluice flashback failed (status $SL_STATUS)"
sl_s=$SL_WALL

printf '| tool | wall s | row changes/s | checksum as before |\n| --- | ---: | ---: | --- |\n'
printf '| mariadb-binlog --flashback \\| mariadb | %s | %s | %s |\n' "$ref_s" "$(bench_div "$changes" "$ref_s")" \
  "$([ "$(bench_checksum "$WORK/copy" bench.orders)" = "$before" ] && echo yes || echo NO)"
printf '| sluice flashback --apply | %s | %s | %s |\n' "$sl_s" "$(bench_div "$changes" "$sl_s")" \
  "$([ "$(bench_checksum "$WORK/orig" bench.orders)" = "$before" ] && echo yes || echo NO)"
printf 'sluice: peak RSS %s MiB, CPU %s s; %s row changes\n' "$(bench_mib "$SL_RSS_KB")" "$SL_CPU" "$changes"
