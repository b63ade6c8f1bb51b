#!/usr/bin/env bash
# `make demo-cluster`: cluster mode on one machine. Starts a private 3-server
# ZooKeeper ensemble, a source and a target MariaDB, one `sluice manager` and
# three `sluice node`s (n1, n2, n3) running pipeline `seq` (source -> target),
# and a steady workload of numbered transactions. Shows live status from the
# manager's API (which node owns the pipeline, its epoch, rows applied), then
# kills the owner with kill -9 and shows the pipeline move to another node,
# restarts the killed node (it rejoins as a candidate), stops the workload and
# checks that every transaction reached the target exactly once (0 lost, 0
# duplicated), then stops everything. Ctrl-C skips to the check.
#
#   DEMO_SESSION_TIMEOUT_MS (2000)  the cluster's session_timeout_ms
#   DEMO_SECONDS (8)                seconds of live status before the kill and after the takeover
#   DEMO_KEEP=1                     keep the servers' and nodes' directories (logs) afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cluster.sh
source scripts/lib/demo.sh

SLUICE=${SLUICE:-$PWD/build/sluice}
TIMEOUT_MS=${DEMO_SESSION_TIMEOUT_MS:-2000}
SECONDS_SHOWN=${DEMO_SECONDS:-8}
DEMO_DIR=$(mktemp -d /tmp/sluice-demo-cluster.XXXXXX)
STOPPING=0

[ -x "$SLUICE" ] || { echo "$SLUICE not found: run 'make build' first" >&2; exit 2; }

cleanup() {
  local status=$?
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the cleanup short
  say "stopping the nodes, the manager and the servers"
  seq_load_stop "$DEMO_DIR/source"
  cluster_stop_all
  mariadb_stop_all >/dev/null 2>&1 || true
  zk_stop_all
  if [ -z "${DEMO_KEEP:-}" ]; then rm -rf "$DEMO_DIR"; else echo "logs and data kept in $DEMO_DIR (DEMO_KEEP)"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'STOPPING=1' INT TERM HUP

# One line of live status: the pipeline as the manager shows it, the nodes
# (* marks the owner) and the transactions on each side.
status_line() {
  local src_n dst_n
  dst_n=$(seq_count "$DEMO_DIR/target")  # first: the source's count, read later, is never below it
  src_n=$(seq_count "$DEMO_DIR/source")
  python3 - "$MANAGER_PORT" "$src_n" "$dst_n" <<'PY' || true
import json, sys, time, urllib.request
port, src_n, dst_n = sys.argv[1:]
def get(path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return json.load(r)
    except Exception:
        return None
p = get("/api/pipelines/seq/status") or {}
nodes = get("/api/nodes") or []
owner = p.get("owner")
names = " ".join(n["id"] + ("*" if n["id"] == owner else "") for n in sorted(nodes, key=lambda n: n["id"]))
print("  %s  owner %-3s epoch %-11s %-8s owner's rows applied %6s   transactions: source %5s, target %5s   nodes up: %s" % (
    time.strftime("%H:%M:%S"), owner or "-", p.get("epoch", "-"), p.get("state", "?"),
    "-" if p.get("rows_applied") is None else p["rows_applied"], src_n, dst_n, names or "-"))
PY
}

# show SECONDS: a status line per second (a Ctrl-C ends it).
show() {
  local until=$((SECONDS + $1))
  while [ $STOPPING -eq 0 ] && [ $SECONDS -lt $until ]; do
    status_line & wait $! || true
    demo_sleep 1
  done
}

say "starting a private 3-server ZooKeeper ensemble (tickTime 200) in $DEMO_DIR/zk"
zk_start "$DEMO_DIR/zk" 3
echo "zookeeper: $ZK_CONNECT"

say "starting a source and a target MariaDB; the workload's schema on the source"
mariadb_start SRC "$DEMO_DIR/source" 1 >/dev/null
mariadb_start DST "$DEMO_DIR/target" 2 >/dev/null
echo "source 127.0.0.1:$SRC_PORT   target 127.0.0.1:$DST_PORT"
seq_schema "$DEMO_DIR/source"

cluster_configure "$DEMO_DIR/cluster" demo "$TIMEOUT_MS" "$SRC_PORT" "$DST_PORT"
say "console: http://127.0.0.1:$MANAGER_PORT/   (pipelines with their owners, nodes, revisions)"
say "sluice manager -c cluster.yaml   (API: http://127.0.0.1:$MANAGER_PORT/api/pipelines)"
sed 's/^/  /' "$CLUSTER_DIR/cluster.yaml"
cluster_start_manager

say "three nodes: sluice node -c n1/node.yaml (and n2, n3)"
for id in n1 n2 n3; do cluster_start_node "$id"; done
sed 's/^/  /' "$CLUSTER_DIR/n1/node.yaml"
cluster_wait_candidates 3 60 || { echo "the nodes did not join; logs in $CLUSTER_DIR" >&2; exit 1; }

say "a steady workload: one numbered transaction every 20 ms; live status (* = the owner)"
seq_load_start "$DEMO_DIR/source" 0.02
show "$SECONDS_SHOWN"

if [ $STOPPING -eq 0 ]; then
  for _ in $(seq 1 60); do
    read -r owner epoch _ _ < <(cluster_owner)
    [ "$owner" = - ] || break
    demo_sleep 0.5
  done
  [ "$owner" != - ] || { echo "no node owns the pipeline; logs in $CLUSTER_DIR" >&2; DEMO_KEEP=1; exit 1; }
  say "kill -9 of the owner, node $owner (pid ${CLUSTER_NODE_PID[$owner]}); session_timeout_ms is $TIMEOUT_MS"
  killed_at=$(date +%s.%N)
  cluster_kill_node "$owner"
  # Until another node owns it with a higher epoch and the target holds a
  # transaction written after the kill.
  new_owner="" deadline=$((SECONDS + TIMEOUT_MS / 1000 + 60))
  while [ $STOPPING -eq 0 ] && [ $SECONDS -lt $deadline ]; do
    status_line & wait $! || true
    read -r o e _ state < <(cluster_owner)
    after=$(mariadb_sql "$DEMO_DIR/target" "SELECT COUNT(*) FROM seqdb.events WHERE at > FROM_UNIXTIME($killed_at)" || echo 0)
    if [ "$o" != - ] && [ "$o" != "$owner" ] && [ "$e" -gt "$epoch" ] && [ "$state" = running ] && [ "${after:-0}" -gt 0 ]; then
      new_owner=$o
      break
    fi
    demo_sleep 0.5
  done
  if [ -n "$new_owner" ]; then
    # When it became the owner, from its log (this loop polls only about once a second).
    line=$(grep -E 'pipeline "seq" owner \(epoch' "$CLUSTER_DIR/$new_owner/node.log" | tail -n 1)
    owned_at=$(date -d "$(cut -c1-23 <<<"$line" | tr T ' ')" +%s.%N)
    say "node $new_owner owns the pipeline $(awk -v a="$killed_at" -v b="$owned_at" 'BEGIN { printf "%.1f", b - a }') s after" \
      "the kill (its log; epoch $epoch -> $e), and the target has transactions written after the kill"
  elif [ $STOPPING -eq 0 ]; then
    echo "no other node took the pipeline over; logs in $CLUSTER_DIR" >&2
    DEMO_KEEP=1
    exit 1
  fi
  if [ $STOPPING -eq 0 ]; then
    say "restarting $owner: it rejoins as a candidate"
    cluster_start_node "$owner"
    show "$SECONDS_SHOWN"
  fi
fi

say "stopping the workload; every transaction must be on the target exactly once"
seq_load_stop "$DEMO_DIR/source"
if seq_check "$DEMO_DIR/source" "$DEMO_DIR/target" 60 | sed 's/^/  /'; then
  RESULT=0
else
  RESULT=1
fi
status_line
exit $RESULT
