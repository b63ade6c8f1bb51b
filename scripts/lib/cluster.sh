# shellcheck shell=bash
# A sluice cluster on loopback for `make demo-cluster` and bench/failover.sh:
# one manager, nodes, and a numbered write load whose every number must reach
# the target exactly once.
#
#   source scripts/lib/cluster.sh        # also sources mariadb.sh and zookeeper.sh
#   zk_start "$DIR/zk" 3
#   mariadb_start SRC "$DIR/src" 1; mariadb_start DST "$DIR/dst" 2
#   seq_schema "$DIR/src"
#   cluster_configure "$DIR/cluster" demo 2000 "$SRC_PORT" "$DST_PORT"
#   cluster_start_manager; cluster_start_node n1; cluster_start_node n2
#   seq_load_start "$DIR/src" 0.02; ...; seq_load_stop
#   read -r owner epoch < <(cluster_owner)
#   cluster_kill_node "$owner"; cluster_start_node "$owner"
#   seq_check "$DIR/src" "$DIR/dst" 60   # 0 lost, 0 duplicated, target == source
#   cluster_stop_all
#
# The pipeline is called `seq`. Every process started here has a watchdog:
# it ends when the shell that started it ends, however that ends.

_cluster_lib=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=mariadb.sh
declare -F mariadb_start >/dev/null || source "$_cluster_lib/mariadb.sh"
# shellcheck source=zookeeper.sh
declare -F zk_start >/dev/null || source "$_cluster_lib/zookeeper.sh"

SLUICE=${SLUICE:-$(cd "$_cluster_lib/../.." && pwd)/build/sluice}
CLUSTER_DIR="" CLUSTER_NAME="" CLUSTER_TIMEOUT_MS="" MANAGER_PORT="" MANAGER_PID=""
declare -A CLUSTER_NODE_PID=() CLUSTER_NODE_PORT=()

# ---- the numbered write load ----

# seq_schema SRC_DIR: seqdb.events, one keyless row per transaction (a change
# applied twice is a second row, not an upsert) with its number and the
# source's time; seqdb.head, one row every transaction updates.
seq_schema() {
  mariadb_sql "$1" "CREATE DATABASE seqdb;
    CREATE TABLE seqdb.events (n BIGINT NOT NULL, at DATETIME(6) NOT NULL);
    CREATE TABLE seqdb.head (id INT PRIMARY KEY, n BIGINT NOT NULL, at DATETIME(6) NOT NULL);
    INSERT INTO seqdb.head VALUES (1, 0, NOW(6));"
}

# seq_load_start SRC_DIR PAUSE: one transaction numbered 1, 2, 3, ... every
# PAUSE seconds (plus the loop's own time), over one client session, until
# seq_load_stop. Each inserts its number into seqdb.events and sets seqdb.head.
seq_load_start() {
  local dir=$1 pause=$2
  rm -f "$dir/seq.stop"
  (
    n=0
    while [ ! -e "$dir/seq.stop" ]; do
      n=$((n + 1))
      echo "BEGIN; INSERT INTO seqdb.events VALUES ($n, NOW(6)); UPDATE seqdb.head SET n = $n, at = NOW(6) WHERE id = 1; COMMIT;"
      sleep "$pause"
    done
  ) | mariadb_sql "$dir" - --sigint-ignore >"$dir/seq.log" 2>&1 &  # stopped by seq.stop, not Ctrl-C
  SEQ_LOAD_PID=$!
}
seq_load_stop() {
  [ -n "${SEQ_LOAD_PID:-}" ] || return 0
  touch "$1/seq.stop"
  wait "$SEQ_LOAD_PID" 2>/dev/null || true
  SEQ_LOAD_PID=""
}

# seq_count DIR: rows in seqdb.events, or -1 while the table is not there.
seq_count() { mariadb_sql "$1" "SELECT COUNT(*) FROM seqdb.events" 2>/dev/null || echo -1; }

# seq_check SRC_DIR DST_DIR WAIT_SECONDS: waits until the target has as many
# events as the source, then prints "N transactions: L lost, D duplicated" and
# whether both tables equal the source's. Returns 1 unless all is well.
seq_check() {
  local src=$1 dst=$2 deadline=$((SECONDS + $3)) want got
  want=$(mariadb_sql "$src" "SELECT COUNT(*) FROM seqdb.events")
  while got=$(seq_count "$dst"); [ "$got" -lt "$want" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  local lost dup extra src_sum dst_sum
  read -r lost dup extra < <(mariadb_sql "$dst" "SELECT
      $want - COUNT(DISTINCT IF(n BETWEEN 1 AND $want, n, NULL)),
      COUNT(*) - COUNT(DISTINCT n),
      COUNT(DISTINCT IF(n BETWEEN 1 AND $want, NULL, n))
    FROM seqdb.events")
  src_sum=$(mariadb_sql "$src" "CHECKSUM TABLE seqdb.events, seqdb.head" | awk '{ printf "%s ", $2 }')
  dst_sum=$(mariadb_sql "$dst" "CHECKSUM TABLE seqdb.events, seqdb.head" | awk '{ printf "%s ", $2 }')
  echo "$want transactions: $lost lost, $dup duplicated, $extra unknown; target $([ "$src_sum" = "$dst_sum" ] && echo "==" || echo "!=") source (CHECKSUM TABLE $src_sum/ $dst_sum)"
  [ "$lost" = 0 ] && [ "$dup" = 0 ] && [ "$extra" = 0 ] && [ "$src_sum" = "$dst_sum" ]
}

# ---- manager and nodes ----

_cluster_http() { curl -s --max-time "${2:-2}" "http://127.0.0.1:$1$3"; }  # PORT TIMEOUT PATH

# cluster_configure DIR NAME SESSION_TIMEOUT_MS SRC_PORT DST_PORT: writes
# DIR/cluster.yaml with pipeline `seq` (seqdb.* from the source's first
# binlog, into the target) and remembers the cluster for the calls below.
cluster_configure() {
  CLUSTER_DIR=$1 CLUSTER_NAME=$2 CLUSTER_TIMEOUT_MS=$3
  CLUSTER_NODE_PID=() CLUSTER_NODE_PORT=()
  mkdir -p "$CLUSTER_DIR"
  MANAGER_PORT=$(_mariadb_free_port)
  cat >"$CLUSTER_DIR/cluster.yaml" <<YAML
cluster: {name: $CLUSTER_NAME, zookeeper: "$ZK_CONNECT", session_timeout_ms: $CLUSTER_TIMEOUT_MS}
http: 127.0.0.1:$MANAGER_PORT
store: $CLUSTER_DIR/manager.db
sources:
  src: {url: "mysql://root@127.0.0.1:$4", server_id: 4242, heartbeat_ms: 200}
targets:
  dst: {url: "mysql://root@127.0.0.1:$5"}
pipelines:
  - name: seq
    source: src
    targets: [dst]
    start: earliest
    tables:
      - match: "seqdb.*"
    batch: {size: 200, timeout_ms: 50}
YAML
}

# _cluster_spawn LOG ARGS...: runs sluice in a session of its own (a Ctrl-C
# at the terminal is for the script, which stops sluice itself), with a
# watchdog; sets CLUSTER_SPAWNED to its pid.
_cluster_spawn() {
  local log=$1
  shift
  setsid "$SLUICE" "$@" </dev/null >>"$log" 2>&1 &
  CLUSTER_SPAWNED=$!
  sluice_watchdog "$CLUSTER_SPAWNED" "" "$CLUSTER_DIR"
}

# cluster_start_manager: starts manager m1 and waits until it leads (30 s).
cluster_start_manager() {
  _cluster_spawn "$CLUSTER_DIR/manager.log" manager -c "$CLUSTER_DIR/cluster.yaml" --id m1
  MANAGER_PID=$CLUSTER_SPAWNED
  local deadline=$((SECONDS + 30))
  until _cluster_http "$MANAGER_PORT" 1 /healthz | grep -q "ok: leader"; do
    if ! kill -0 "$MANAGER_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      _mariadb_log "cluster: the manager does not lead; its log:"
      tail -n 20 "$CLUSTER_DIR/manager.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# cluster_start_node ID: starts (or restarts, same port and store) node ID.
cluster_start_node() {
  local id=$1 dir=$CLUSTER_DIR/$1
  mkdir -p "$dir"
  if [ -z "${CLUSTER_NODE_PORT[$id]:-}" ]; then
    CLUSTER_NODE_PORT[$id]=$(_mariadb_free_port)
    cat >"$dir/node.yaml" <<YAML
cluster: {name: $CLUSTER_NAME, zookeeper: "$ZK_CONNECT", session_timeout_ms: $CLUSTER_TIMEOUT_MS}
node: {id: $id}
http: 127.0.0.1:${CLUSTER_NODE_PORT[$id]}
YAML
  fi
  _cluster_spawn "$dir/node.log" node -c "$dir/node.yaml"
  CLUSTER_NODE_PID[$id]=$CLUSTER_SPAWNED
}

cluster_kill_node() {  # ID: kill -9, and reap it
  local pid=${CLUSTER_NODE_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  CLUSTER_NODE_PID[$1]=""
}

# _cluster_term PID: SIGTERM (a node hands its pipelines over), SIGKILL after 30 s.
_cluster_term() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# cluster_stop_all: SIGTERM to every node, then the manager.
cluster_stop_all() {
  local id
  for id in "${!CLUSTER_NODE_PID[@]}"; do _cluster_term "${CLUSTER_NODE_PID[$id]}"; CLUSTER_NODE_PID[$id]=""; done
  _cluster_term "$MANAGER_PID"
  MANAGER_PID=""
}

# cluster_pipeline: the manager's GET /api/pipelines/seq/status ("" while it
# does not answer).
cluster_pipeline() { _cluster_http "$MANAGER_PORT" 2 /api/pipelines/seq/status || true; }

# cluster_owner: "OWNER EPOCH ROWS_APPLIED STATE" of pipeline seq as the
# manager shows it (OWNER "-" while unowned).
cluster_owner() {
  cluster_pipeline | python3 -c '
import json, sys
try:
    p = json.load(sys.stdin)
except Exception:
    print("- 0 0 no-answer"); sys.exit(0)
print(p.get("owner") or "-", p.get("epoch") or 0, p.get("rows_applied") or 0, p.get("state") or "-")'
}

# cluster_wait_candidates N SECONDS: until the manager shows N candidates for seq.
cluster_wait_candidates() {
  local deadline=$((SECONDS + $2)) have
  while :; do
    have=$(cluster_pipeline | python3 -c '
import json, sys
try: print(len(json.load(sys.stdin).get("candidates") or []))
except Exception: print(0)')
    [ "$have" -ge "$1" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
