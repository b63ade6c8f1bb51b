# shellcheck shell=bash
# Private MariaDB servers for the demo and the benchmarks.
#
#   source scripts/lib/mariadb.sh
#   trap mariadb_stop_all EXIT
#   mariadb_start SRC /tmp/demo/src 1 --binlog-row-metadata=MINIMAL
#   mariadb_sql /tmp/demo/src "CREATE DATABASE shop"
#   echo "source on port $SRC_PORT, socket $SRC_SOCKET"
#   mariadb_stop /tmp/demo/src
#
# Each server lives in its own directory: data/ (the datadir, binlogs named
# binlog.NNNNNN), mariadbd.sock, mariadbd.pid, error.log, mariadbd.out (stdout
# and stderr), tmp/ and port. Servers listen on 127.0.0.1 only and let root in
# without a password. A stopped server keeps its directory, so mariadb_start
# on the same DIR restarts it on its old port with its data.
#
# The datadir is copied from a template made once by mariadb-install-db at
# ${SLUICE_MARIADB_TEMPLATE:-/tmp/sluice-mariadb-template} (guarded by a lock
# file, made in a temporary directory and renamed into place, so concurrent
# scripts do not race). The C++ test harness (tests/harness/mariadb_server.cc)
# follows the same recipe.
#
# This file only defines functions: it sets no shell options, and every
# function returns non-zero with a message on stderr when it fails.
#
# A server never outlives its owner: mariadb_start gives each server a
# watchdog (in a session of its own, so that neither a Ctrl-C nor a kill of
# the owner's process group reaches it) that stops the server (SIGTERM, then
# SIGKILL after 30 s) once the owner is gone, however it ended (kill -9
# included). The owner is the shell that sourced this file ($$), or the pid in
# SLUICE_MARIADB_OWNER; SLUICE_MARIADB_OWNER=none lets servers outlive it (to
# inspect them). The C++ harness gets the same from PR_SET_PDEATHSIG.

# Directories of the servers this shell started, for mariadb_stop_all.
_SLUICE_MARIADB_DIRS=()

_mariadb_log() { printf '%s\n' "$*" >&2; }

_mariadb_bin() {  # NAME: path of a MariaDB program; mariadbd lives in /usr/sbin
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  for dir in /usr/sbin /usr/local/sbin /sbin /usr/libexec /usr/local/mysql/bin; do
    if [ -x "$dir/$name" ]; then printf '%s\n' "$dir/$name"; return 0; fi
  done
  _mariadb_log "mariadb: $name not found (install mariadb-server and mariadb-client: scripts/install-deps.sh)"
  return 1
}

_mariadb_user_args() {  # mariadbd refuses to run as root unless told to
  if [ "$(id -u)" -eq 0 ]; then printf '%s\n' --user=root; fi
}

_mariadb_pid() {  # DIR: pid of the server running in DIR, or fail
  local pid
  pid=$(cat "$1/mariadbd.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # A pid file left by a server that died (or a reboot) may name an unrelated
  # process by now.
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q mariadbd; then
    return 1
  fi
  printf '%s\n' "$pid"
}

# Makes the template datadir if it does not exist (or was made by another
# mariadbd version). Prints its path.
_mariadb_template() {
  local template=${SLUICE_MARIADB_TEMPLATE:-/tmp/sluice-mariadb-template}
  local mariadbd install_db version tmp
  mariadbd=$(_mariadb_bin mariadbd) || return 1
  install_db=$(_mariadb_bin mariadb-install-db) || return 1
  version="$("$mariadbd" --version) recipe=1"
  if [ -d "$template/data" ] && [ "$(cat "$template/VERSION" 2>/dev/null)" = "$version" ]; then
    printf '%s\n' "$template"
    return 0
  fi
  mkdir -p "$(dirname "$template")" || return 1
  (
    # The lock is held until this subshell exits.
    flock 9 || exit 1
    if [ -d "$template/data" ] && [ "$(cat "$template/VERSION" 2>/dev/null)" = "$version" ]; then
      exit 0  # made by another script while we waited
    fi
    tmp=$(mktemp -d "$template.tmp-XXXXXX") || exit 1
    # Bootstrap mode has no GRANT, hence DML on the grant tables: root may log
    # in from any host without a password, and the accounts named after this
    # machine go (ignored under --skip-name-resolve, they only warn).
    cat >"$tmp/init.sql" <<'SQL'
INSERT INTO mysql.global_priv (Host, User, Priv)
  SELECT '%', User, Priv FROM mysql.global_priv WHERE User = 'root' AND Host = '127.0.0.1';
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
SQL
    # shellcheck disable=SC2046  # --user=root or nothing
    if ! "$install_db" --no-defaults $(_mariadb_user_args) --datadir="$tmp/data" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        --extra-file="$tmp/init.sql" >"$tmp/install.log" 2>&1; then
      _mariadb_log "mariadb: mariadb-install-db failed for template $template; its output:"
      tail -n 30 "$tmp/install.log" >&2
      rm -rf "$tmp"
      exit 1
    fi
    printf '%s\n' "$version" >"$tmp/VERSION"
    rm -rf "$template"  # a template of another version
    mv "$tmp" "$template"
  ) 9>"$template.lock" || return 1
  printf '%s\n' "$template"
}

# Prints a TCP port free on 127.0.0.1. Ports come from below the kernel's
# ephemeral range so that an outgoing connection cannot take the port of a
# stopped server before it restarts.
_mariadb_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - <<'PY'
import random, socket, sys
try:
    ephemeral_low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError):
    ephemeral_low = 32768
low, high = 15000, max(ephemeral_low - 1, 16000)
for _ in range(500):
    port = random.randint(low, high)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit("no free port")
PY
  else
    # Without python: a port nobody answers on (a bound but not listening
    # port slips through; mariadb_start then retries on another one).
    local port i
    for i in $(seq 1 500); do
      port=$((15000 + RANDOM % 17000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        printf '%s\n' "$port"
        return 0
      fi
    done
    return 1
  fi
}

_mariadb_port_free() {  # PORT: is nothing listening on 127.0.0.1:PORT?
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# mariadb_start NAME DIR SERVER_ID [extra mariadbd args...]
#
# Starts (or restarts) the server in DIR and waits until it accepts
# connections. Exports NAME_PORT and NAME_SOCKET. Extra arguments come last on
# mariadbd's command line, so they override the defaults here (for example
# --innodb-buffer-pool-size=1G for a benchmark, --skip-log-bin for a target).
mariadb_start() {
  if [ $# -lt 3 ]; then
    _mariadb_log "usage: mariadb_start NAME DIR SERVER_ID [extra mariadbd args...]"
    return 2
  fi
  local name=$1 dir=$2 server_id=$3
  shift 3
  if ! [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    _mariadb_log "mariadb_start: NAME \"$name\" must be a shell variable name (it prefixes ${name}_PORT)"
    return 2
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  local socket="$dir/mariadbd.sock"
  if [ ${#socket} -gt 107 ]; then
    _mariadb_log "mariadb_start $name: socket path $socket is longer than 107 bytes; use a shorter DIR"
    return 1
  fi

  local pid port
  if pid=$(_mariadb_pid "$dir"); then
    port=$(cat "$dir/port")
    _mariadb_log "mariadb_start $name: already running in $dir (pid $pid, port $port)"
    export "${name}_PORT=$port" "${name}_SOCKET=$socket"
    _mariadb_remember "$dir"
    return 0
  fi

  local mariadbd client template
  mariadbd=$(_mariadb_bin mariadbd) || return 1
  client=$(_mariadb_bin mariadb) || return 1
  if [ ! -d "$dir/data" ]; then
    template=$(_mariadb_template) || return 1
    cp -a --reflink=auto "$template/data" "$dir/data" || return 1
  fi
  mkdir -p "$dir/tmp" || return 1

  # A restart keeps its port (clients under test reconnect to it) unless
  # something else took it meanwhile.
  port=$(cat "$dir/port" 2>/dev/null || true)
  if [ -z "$port" ] || ! _mariadb_port_free "$port"; then
    port=$(_mariadb_free_port) || { _mariadb_log "mariadb_start $name: no free port"; return 1; }
  fi

  local log_lines deadline
  for _ in 1 2 3 4 5; do
    printf '%s\n' "$port" >"$dir/port"
    log_lines=$( (cat "$dir/error.log" 2>/dev/null || true) | wc -l)
    # shellcheck disable=SC2046  # --user=root or nothing
    "$mariadbd" --no-defaults $(_mariadb_user_args) \
      --datadir="$dir/data" --socket="$socket" --port="$port" --bind-address=127.0.0.1 \
      --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
      --server-id="$server_id" --log-bin=binlog --binlog-format=ROW --binlog-row-metadata=FULL \
      --relay-log=relay-bin --skip-name-resolve \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      "$@" </dev/null >>"$dir/mariadbd.out" 2>&1 &
    pid=$!
    # mariadbd writes the same pid later; writing it now lets mariadb_stop
    # find a server that is still starting.
    printf '%s\n' "$pid" >"$dir/mariadbd.pid"
    # Watched from the start: an owner that ends while the server is still
    # starting must not leave it running.
    sluice_watchdog "$pid" "" "--datadir=$dir/data"

    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
      if "$client" --no-defaults --socket="$socket" --user=root --connect-timeout=2 \
          --execute="SELECT 1" >/dev/null 2>&1 &&
        _mariadb_port_ready "$port"; then
        export "${name}_PORT=$port" "${name}_SOCKET=$socket"
        _mariadb_remember "$dir"
        return 0
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        _mariadb_log "mariadb_start $name: mariadbd (pid $pid) did not accept connections within 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null
        break
      fi
      sleep 0.05
    done
    wait "$pid" 2>/dev/null
    rm -f "$dir/mariadbd.pid"
    if tail -n +"$((log_lines + 1))" "$dir/error.log" 2>/dev/null | grep -q "Address already in use"; then
      _mariadb_log "mariadb_start $name: port $port is taken, trying another"
      port=$(_mariadb_free_port) || return 1
      continue
    fi
    _mariadb_log "mariadb_start $name: mariadbd failed to start in $dir; error log $dir/error.log:"
    tail -n +"$((log_lines + 1))" "$dir/error.log" 2>/dev/null | tail -n 30 >&2
    tail -n 5 "$dir/mariadbd.out" >&2 2>/dev/null
    return 1
  done
  _mariadb_log "mariadb_start $name: gave up after 5 ports"
  return 1
}

_mariadb_port_ready() { ! _mariadb_port_free "$1"; }

# sluice_watchdog PID [OWNER] [MATCH]: stops process PID (SIGTERM, SIGKILL
# after 30 s) once OWNER (default: SLUICE_MARIADB_OWNER, else this shell) has
# exited. MATCH, when given, must occur in PID's command line at that moment,
# so that a pid reused by an unrelated process is left alone. Returns at once.
sluice_watchdog() {
  local pid=$1 owner=${2:-${SLUICE_MARIADB_OWNER:-$$}} match=${3:-}
  [ "$owner" = none ] && return 0
  local setsid_cmd=()
  if command -v setsid >/dev/null 2>&1; then setsid_cmd=(setsid); fi
  "${setsid_cmd[@]}" bash -c '
    pid=$1 owner=$2 match=$3
    trap "" INT HUP TERM
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
    alive() {
      kill -0 "$pid" 2>/dev/null || return 1
      [ -z "$match" ] || tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match"
    }
    alive || exit 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 300); do alive || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  ' sluice-watchdog "$pid" "$owner" "$match" </dev/null >/dev/null 2>&1 &
  disown $! 2>/dev/null || true
}

_mariadb_remember() {
  local d
  for d in "${_SLUICE_MARIADB_DIRS[@]}"; do [ "$d" = "$1" ] && return 0; done
  _SLUICE_MARIADB_DIRS+=("$1")
}

# mariadb_stop DIR: shuts the server in DIR down cleanly (SIGTERM; SIGKILL
# after 60 s). Keeps DIR, so mariadb_start can bring it back. Succeeds if the
# server is not running.
mariadb_stop() {
  if [ $# -ne 1 ]; then _mariadb_log "usage: mariadb_stop DIR"; return 2; fi
  local dir=$1 pid i
  pid=$(_mariadb_pid "$dir") || { rm -f "$dir/mariadbd.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 1200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    _mariadb_log "mariadb_stop: mariadbd (pid $pid) in $dir ignored SIGTERM for 60 s; killing it"
    kill -KILL "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  wait "$pid" 2>/dev/null  # reap it if this shell started it
  rm -f "$dir/mariadbd.pid"
  return 0
}

# mariadb_sql DIR SQL [mariadb client args...]: runs SQL as root over the
# socket, tab-separated rows without a header. SQL "-" reads standard input
# (mariadb_sql "$dir" - < seed.sql).
mariadb_sql() {
  if [ $# -lt 2 ]; then _mariadb_log "usage: mariadb_sql DIR SQL [client args...]"; return 2; fi
  local dir=$1 sql=$2 client
  shift 2
  client=$(_mariadb_bin mariadb) || return 1
  if [ "$sql" = "-" ]; then
    "$client" --no-defaults --socket="$dir/mariadbd.sock" --user=root --batch --skip-column-names "$@"
  else
    "$client" --no-defaults --socket="$dir/mariadbd.sock" --user=root --batch --skip-column-names \
      "$@" --execute="$sql"
  fi
}

# mariadb_stop_all: stops every server this shell started, newest first.
mariadb_stop_all() {
  local i status=0
  for ((i = ${#_SLUICE_MARIADB_DIRS[@]} - 1; i >= 0; i--)); do
    mariadb_stop "${_SLUICE_MARIADB_DIRS[i]}" || status=1
  done
  _SLUICE_MARIADB_DIRS=()
  return $status
}
