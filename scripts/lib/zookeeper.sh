# shellcheck shell=bash
# A private ZooKeeper ensemble for the cluster demo and benchmark (the same
# recipe as tests/harness/zookeeper_server.cc; field notes, "ZooKeeper
# ensemble in tests").
#
#   source scripts/lib/zookeeper.sh
#   zk_start /tmp/x/zk 3        # exports ZK_CONNECT=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#   zk_stop_all
#
# Each server runs `zkServer.sh start-foreground` (Debian's `zookeeper`) with
# a private zoo.cfg in DIR/N/: tickTime 200 (sessions from 400 ms to 20 s),
# loopback only, no admin server, -Xmx128m. zk_start returns once every
# server answers `srvr` as leader or follower. Like the MariaDB servers of
# scripts/lib/mariadb.sh, each server has a watchdog that stops it once the
# shell that started it is gone, however it ended (kill -9 included).

if ! declare -F sluice_watchdog >/dev/null; then
  # shellcheck source=mariadb.sh
  source "$(dirname "${BASH_SOURCE[0]}")/mariadb.sh"
fi

ZK_SERVER_SH=${ZK_SERVER_SH:-/usr/share/zookeeper/bin/zkServer.sh}
_SLUICE_ZK_PIDS=()

# zk_srvr PORT: the answer to the four-letter word `srvr` ("" when none).
zk_srvr() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf srvr >&3
    timeout 5 cat <&3
  ) 2>/dev/null || true
}

# zk_mode PORT: leader, follower, standalone or nothing.
zk_mode() { zk_srvr "$1" | sed -n 's/^Mode: //p'; }

# zk_start DIR [N]: starts an ensemble of N (default 3) servers under DIR and
# exports ZK_CONNECT. Fails (with the servers' output) if it does not serve
# within 60 s.
zk_start() {
  local dir=$1 n=${2:-3} i j port
  [ -x "$ZK_SERVER_SH" ] || { _mariadb_log "zookeeper: $ZK_SERVER_SH not found (scripts/install-deps.sh installs it)"; return 1; }
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  local -a client=() peer=() election=() used=()
  for ((i = 0; i < 3 * n; i++)); do
    while :; do
      port=$(_mariadb_free_port) || return 1
      [[ " ${used[*]} " == *" $port "* ]] || break
    done
    used+=("$port")
  done
  for ((i = 0; i < n; i++)); do
    client+=("${used[3 * i]}") peer+=("${used[3 * i + 1]}") election+=("${used[3 * i + 2]}")
  done
  for ((i = 1; i <= n; i++)); do
    mkdir -p "$dir/$i/data" || return 1
    echo "$i" >"$dir/$i/data/myid"
    {
      printf 'tickTime=200\ninitLimit=50\nsyncLimit=25\ndataDir=%s\nclientPort=%s\n' "$dir/$i/data" "${client[i - 1]}"
      printf 'clientPortAddress=127.0.0.1\nminSessionTimeout=400\nmaxSessionTimeout=20000\n'
      printf 'admin.enableServer=false\n4lw.commands.whitelist=srvr,ruok,mntr,stat,cons\nmaxClientCnxns=0\n'
      if [ "$n" -gt 1 ]; then
        for ((j = 1; j <= n; j++)); do printf 'server.%d=127.0.0.1:%s:%s\n' "$j" "${peer[j - 1]}" "${election[j - 1]}"; done
      fi
    } >"$dir/$i/zoo.cfg"
    # zkServer.sh execs java: the pid is the JVM's. In a session of its own:
    # a Ctrl-C at the terminal is for the script (the JVM would exit on it),
    # which stops the servers itself.
    setsid env SERVER_JVMFLAGS=-Xmx128m JMXDISABLE=true \
      "$ZK_SERVER_SH" start-foreground "$dir/$i/zoo.cfg" </dev/null >"$dir/$i/server.log" 2>&1 &
    local pid=$!
    _SLUICE_ZK_PIDS+=("$pid")
    sluice_watchdog "$pid" "" "$dir/$i/zoo.cfg"
  done
  local connect="" deadline=$((SECONDS + 60)) ready mode
  for ((i = 0; i < n; i++)); do connect+="${connect:+,}127.0.0.1:${client[i]}"; done
  while :; do
    ready=0
    for ((i = 0; i < n; i++)); do
      mode=$(zk_mode "${client[i]}")
      case $mode in leader | follower | standalone) ready=$((ready + 1)) ;; esac
    done
    [ "$ready" -eq "$n" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      _mariadb_log "zookeeper: the ensemble in $dir does not serve after 60 s; server 1's output:"
      tail -n 20 "$dir/1/server.log" >&2
      return 1
    fi
    sleep 0.2
  done
  export ZK_CONNECT=$connect
}

# zk_stop_all: stops every server this shell started (SIGTERM, then SIGKILL after 20 s).
zk_stop_all() {
  local pid i
  for pid in "${_SLUICE_ZK_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${_SLUICE_ZK_PIDS[@]}"; do
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  _SLUICE_ZK_PIDS=()
}
