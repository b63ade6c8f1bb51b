#!/usr/bin/env bash
# Takeover time of a sluice cluster after `kill -9` of the node that owns the
# pipeline (design §10; goal: median under session_timeout_ms + 1 s).
#
#   bash bench/failover.sh                        # 10 kills each with session_timeout_ms 2000 and 6000
#   ROUNDS=3 TIMEOUTS=2000 bash bench/failover.sh
#
# Set-up, all on loopback under a temporary directory: a 3-server ZooKeeper
# ensemble (Debian's `zookeeper`, tickTime 200: scripts/lib/zookeeper.sh),
# then per session timeout a fresh source and target MariaDB, one `sluice
# manager` and NODES (3) `sluice node`s running pipeline `seq` (seqdb.* from
# source to target), and a steady load: one source transaction every PAUSE
# (0.02) s, numbered 1, 2, 3, ..., each inserting its number and the source's
# NOW(6) into the keyless seqdb.events (scripts/lib/cluster.sh).
#
# Each round: the owner is read from the manager (GET /api/pipelines/seq/status),
# killed with SIGKILL, and the script polls (every ~50 ms) until
#   - the target holds a row the source wrote after the kill (its `at` is
#     later than the kill): the TAKEOVER time, the one the goal is judged on.
#     It is what a user of the target sees: data flowing again. It includes
#     the session expiry, the election, the pipeline's start (fence raised,
#     checkpoint read, binlog dump from it) and catching up with the rows
#     written meanwhile;
#   - the manager's API names another owner with a higher epoch (OWNER time;
#     design §10 bounds the later of the two).
# The new owner's log then splits the takeover: kill -> "owner (epoch ...)"
# (ZooKeeper expired the session and the next candidate won the election),
# -> "binlog dump started" (pipeline start: fence raise, checkpoint read), ->
# first post-kill row on the target (apply). The killed node is restarted and
# the next round waits until it is a candidate again (plus SETTLE s).
#
# At the end of each timeout's rounds the load stops and the target must
# hold every number exactly once (0 lost, 0 duplicated) with seqdb.events and
# seqdb.head equal to the source's (CHECKSUM TABLE). Exit status: 0 goals met,
# 3 a goal missed, 1 data lost/duplicated or a takeover that did not happen.
# KEEP=1 keeps the work directory (logs of every node) for a look afterwards.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../scripts/lib/cluster.sh
source "$BENCH_ROOT/scripts/lib/cluster.sh"

ROUNDS=${ROUNDS:-10}
TIMEOUTS=${TIMEOUTS:-2000 6000}
NODES=${NODES:-3}
PAUSE=${PAUSE:-0.02}
SETTLE=${SETTLE:-2}
bench_positive ROUNDS NODES
bench_need_sluice
bench_has_subcommand node
bench_sluice_missing node

bench_workdir failover
bench_on_exit() {
  seq_load_stop "$WORK/src-$CLUSTER_TIMEOUT_MS" 2>/dev/null || true
  cluster_stop_all || true
  zk_stop_all || true
}

# Seconds since the epoch of a node log line's stamp (local time, ms).
log_time() { date -d "$(cut -c1-23 <<<"$1" | tr T ' ')" +%s.%N; }
# The stamp of the last line of FILE matching PATTERN, as seconds ("" if none).
last_logged() {
  local line
  line=$(grep -E "$2" "$1" | tail -n 1) || true
  [ -n "$line" ] && log_time "$line" || true
}
# min median max of the numbers on stdin, 2 decimals.
stats() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.2f %.2f %.2f\n", v[1], m, v[NR] }'
}

echo "machine: $(nproc) cores, $(bench_cpu_model)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
echo "sluice:  $SLUICE"
bench_log "starting a 3-server ZooKeeper ensemble"
zk_start "$WORK/zk" 3 || bench_die "the ZooKeeper ensemble did not start"
echo "zookeeper: $ZK_CONNECT (tickTime 200)"

STATUS=0
SUMMARY=()
for timeout_ms in $TIMEOUTS; do
  src=$WORK/src-$timeout_ms dst=$WORK/dst-$timeout_ms
  CLUSTER_TIMEOUT_MS=$timeout_ms
  bench_log "session_timeout_ms $timeout_ms: source and target MariaDB, a manager, $NODES nodes"
  mariadb_start SRC "$src" 1 >/dev/null || bench_die "cannot start the source"
  mariadb_start DST "$dst" 2 >/dev/null || bench_die "cannot start the target"
  seq_schema "$src"
  cluster_configure "$WORK/cluster-$timeout_ms" "failover$timeout_ms" "$timeout_ms" "$SRC_PORT" "$DST_PORT"
  cluster_start_manager || bench_die "the manager did not start"
  for ((i = 1; i <= NODES; i++)); do cluster_start_node "n$i"; done
  seq_load_start "$src" "$PAUSE"
  cluster_wait_candidates "$NODES" 60 || bench_die "$NODES nodes did not join the election; see $CLUSTER_DIR"

  takeovers=() owners=() elects=() starts=() applies=()
  for ((round = 1; round <= ROUNDS; round++)); do
    sleep "$SETTLE"
    read -r owner epoch _ state < <(cluster_owner)
    [ "$owner" != - ] && [ "$state" = running ] || bench_die "round $round: pipeline seq is not running (owner $owner, state $state)"
    kill_at=$(bench_now)
    cluster_kill_node "$owner"
    rows_at="" api_at="" new_owner=""
    deadline=$((SECONDS + timeout_ms / 1000 + 60))
    while [ -z "$rows_at" ] || [ -z "$api_at" ]; do
      if [ -z "$rows_at" ]; then
        seen=$(mariadb_sql "$dst" "SELECT COUNT(*) FROM seqdb.events WHERE at > FROM_UNIXTIME($kill_at)" 2>/dev/null || echo 0)
        [ "${seen:-0}" -gt 0 ] && rows_at=$(bench_now)
      fi
      if [ -z "$api_at" ]; then
        p=$(cluster_pipeline)
        o=$(sed -n 's/.*"owner":"\([^"]*\)".*/\1/p' <<<"$p")
        e=$(sed -n 's/.*"epoch":\([0-9]*\).*/\1/p' <<<"$p")
        if [ -n "$o" ] && [ "$o" != "$owner" ] && [ "${e:-0}" -gt "$epoch" ]; then
          api_at=$(bench_now) new_owner=$o
        fi
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "round $round: NO TAKEOVER within $((timeout_ms / 1000 + 60)) s after kill -9 of $owner" \
          "(rows after the kill on the target: ${rows_at:+yes}, new owner in the API: ${new_owner:-none})"
        STATUS=1
        break 2
      fi
      sleep 0.05
    done
    takeover=$(bench_elapsed "$kill_at" "$rows_at")
    owned=$(bench_elapsed "$kill_at" "$api_at")
    log=$CLUSTER_DIR/$new_owner/node.log
    elected_at=$(last_logged "$log" "pipeline \"seq\" owner \\(epoch")
    dump_at=$(last_logged "$log" "binlog dump started")
    elect=$(bench_elapsed "$kill_at" "${elected_at:-$kill_at}")
    start=$(bench_elapsed "${elected_at:-$kill_at}" "${dump_at:-$kill_at}")
    apply=$(bench_elapsed "${dump_at:-$kill_at}" "$rows_at")
    takeovers+=("$takeover") owners+=("$owned") elects+=("$elect") starts+=("$start") applies+=("$apply")
    printf 'timeout %5d round %2d: kill -9 %s -> %s owns (API) %6.2f s, post-kill rows on target %6.2f s' \
      "$timeout_ms" "$round" "$owner" "$new_owner" "$owned" "$takeover"
    printf '   [elected %.2f, pipeline start +%.2f, apply +%.2f]\n' "$elect" "$start" "$apply"
    cluster_start_node "$owner"
    cluster_wait_candidates "$NODES" $((timeout_ms / 1000 + 60)) ||
      bench_die "the restarted $owner did not rejoin the election; see $log"
  done

  seq_load_stop "$src"
  bench_log "load stopped; checking the target"
  if check=$(seq_check "$src" "$dst" 120); then :; else STATUS=1; fi
  echo "timeout $timeout_ms: $check"
  read -r t_min t_med t_max < <(printf '%s\n' "${takeovers[@]}" | stats)
  read -r o_min o_med o_max < <(printf '%s\n' "${owners[@]}" | stats)
  read -r _ e_med _ < <(printf '%s\n' "${elects[@]}" | stats)
  read -r _ s_med _ < <(printf '%s\n' "${starts[@]}" | stats)
  read -r _ a_med _ < <(printf '%s\n' "${applies[@]}" | stats)
  goal=$(awk -v m="$t_med" -v t="$timeout_ms" 'BEGIN { print (m < t / 1000 + 1 ? "met" : "MISSED") }')
  [ "$goal" = met ] || [ "$STATUS" = 1 ] || STATUS=3
  SUMMARY+=("$(printf '| %d ms | %d | %s / %s / %s | %s / %s / %s | %s / %s / %s | < %.1f s: %s |' \
    "$timeout_ms" "${#takeovers[@]}" "$t_min" "$t_med" "$t_max" "$o_min" "$o_med" "$o_max" \
    "$e_med" "$s_med" "$a_med" "$(awk -v t="$timeout_ms" 'BEGIN { print t / 1000 + 1 }')" "$goal")")
  cluster_stop_all
  mariadb_stop "$src" && mariadb_stop "$dst"
  [ "$STATUS" != 1 ] || break
done

echo
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end"
echo "| session_timeout_ms | kills | takeover s: post-kill rows on target, min / median / max | new owner in the API s, min / median / max | median split s: elected / pipeline start / apply | goal (median) |"
echo "| --- | ---: | --- | --- | --- | --- |"
printf '%s\n' "${SUMMARY[@]}"
exit "$STATUS"
