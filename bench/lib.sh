# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, never run).
#
#   bench_measure OUT_PREFIX CMD [ARGS...]   runs CMD with stdout to /dev/null
#       (to the file BENCH_STDOUT names, when set) and sets ${OUT_PREFIX}_WALL
#       (seconds, ns resolution), ${OUT_PREFIX}_CPU (user + system seconds of
#       CMD), ${OUT_PREFIX}_RSS_KB (peak resident set size of CMD, KiB) and
#       ${OUT_PREFIX}_STATUS.
#
# Peak RSS and CPU time come from GNU time (%M is getrusage's ru_maxrss of the
# child: exact) when /usr/bin/time is installed (Debian package `time`), else
# (or BENCH_NO_GNU_TIME=1) from polling /proc/PID/status VmHWM and /proc/PID/stat every 10 ms (VmHWM is
# itself a high-water mark, so polling only misses growth in the last 10 ms
# before exit; CPU time is then short by at most that much too).
#
# CMD is the measured program itself (not a shell wrapper). It is killed after
# BENCH_TIMEOUT seconds (default 900), which sets STATUS to 124. Under GNU time
# the chain is time -> timeout -> CMD: the rusage that wait4 reports for
# timeout includes its waited-for child, so %M is CMD's peak and %U/%S its CPU.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE=${SLUICE:-$BENCH_ROOT/build/sluice}

# shellcheck source=../scripts/lib/mariadb.sh
source "$BENCH_ROOT/scripts/lib/mariadb.sh"

bench_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { printf 'error: %s\n' "$*" >&2; exit 2; }

bench_need_sluice() {
  [ -x "$SLUICE" ] || bench_die "$SLUICE not found: run 'make build' first"
}

bench_now() { date +%s.%N; }

# Seconds between two bench_now stamps, 3 decimals.
bench_elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# BENCH_NO_GNU_TIME=1 forces the /proc polling path (to test it).
_bench_gnu_time() { [ "${BENCH_NO_GNU_TIME:-0}" != 1 ] && [ -x /usr/bin/time ]; }

bench_rss_method() {
  if _bench_gnu_time; then echo "GNU time %M (ru_maxrss)"; else echo "/proc/PID/status VmHWM polled every 10 ms"; fi
}

bench_measure() {
  local prefix=$1
  shift
  local t0 t1 status=0 rss=0 cpu=0 tmp user sys
  tmp=$(mktemp)
  if _bench_gnu_time; then
    t0=$(bench_now)
    /usr/bin/time -f '%M %U %S' -o "$tmp" timeout "${BENCH_TIMEOUT:-900}" "$@" >"${BENCH_STDOUT:-/dev/null}" || status=$?
    t1=$(bench_now)
    read -r rss user sys < <(tail -n 1 "$tmp") || true
    [[ ${rss:-} =~ ^[0-9]+$ ]] || rss=0
    cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.2f", u + s }')
  else
    local pid key value stat ticks=0 hz deadline
    hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
    deadline=$((SECONDS + ${BENCH_TIMEOUT:-900}))
    t0=$(bench_now)
    "$@" >"${BENCH_STDOUT:-/dev/null}" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
      # Plain reads, no subprocesses: the poller must not steal the CPU it measures.
      while read -r key value _; do
        if [ "$key" = VmHWM: ] && [ "$value" -gt "$rss" ]; then rss=$value; fi
      done <"/proc/$pid/status" 2>/dev/null || true
      # Fields 14 and 15 of stat: utime and stime in clock ticks (the command
      # name in field 2 has no spaces for the programs measured here).
      if read -r -a stat <"/proc/$pid/stat" 2>/dev/null && [ "${#stat[@]}" -gt 15 ]; then
        ticks=$((stat[13] + stat[14]))
      fi
      sleep 0.01
    done
    cpu=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
    wait "$pid" || status=$?
    t1=$(bench_now)
    if [ "$SECONDS" -ge "$deadline" ] && [ "$status" != 0 ]; then status=124; fi
  fi
  rm -f "$tmp"
  printf -v "${prefix}_WALL" '%s' "$(bench_elapsed "$t0" "$t1")"
  printf -v "${prefix}_CPU" '%s' "$cpu"
  printf -v "${prefix}_RSS_KB" '%s' "$rss"
  printf -v "${prefix}_STATUS" '%s' "$status"
}

# Integer-free arithmetic for the reports.
bench_div() { awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN { printf f, (b > 0 ? a / b : 0) }'; }
bench_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
bench_human_bytes() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

bench_cpu_model() { awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo; }

# ---- Set-up shared by snapshot.sh and check.sh ----

# bench_workdir NAME: WORK=/tmp/sluice-bench-NAME.XXXXXX, and traps that on
# exit run the script's bench_on_exit (when it defines one: processes of its
# own), stop the servers this shell started and remove WORK (KEEP=1 keeps it).
# The exit status stays 0, 3 (goal missed) or 130 (interrupted); any other
# (bench_die's 2, a failed command under set -e) becomes 1.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/sluice-bench-$1.XXXXXX")
  trap _bench_workdir_exit EXIT
  trap 'exit 130' INT TERM
}
_bench_workdir_exit() {
  local status=$?
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  mariadb_stop_all || true
  if [ "${KEEP:-0}" = 1 ]; then bench_log "kept $WORK"; else rm -rf "$WORK"; fi
  case $status in 0 | 3 | 130) ;; *) status=1 ;; esac
  exit "$status"
}

bench_positive() {  # VAR...: each must hold a positive integer
  local v
  for v in "$@"; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || bench_die "$v must be a positive integer (got '${!v}')"
  done
}

# bench_has_subcommand CMD: does $SLUICE have the subcommand CMD? (`sluice
# UNKNOWN --help` prints the top-level help and exits 0, so the Usage line of
# the help must name CMD.) Sets BENCH_HAVE_SLUICE to 1 or 0, and warns on 0:
# the script then measures its reference alone and bench_sluice_missing fails.
bench_has_subcommand() {
  BENCH_HAVE_SLUICE=0
  if [ -x "$SLUICE" ] && "$SLUICE" "$1" --help 2>/dev/null | grep -qE "^Usage: [^ ]+ $1( |\$)"; then
    BENCH_HAVE_SLUICE=1
  else
    bench_log "WARNING: $SLUICE has no '$1' subcommand: measuring the reference only, then failing"
  fi
}
bench_sluice_missing() {  # CMD
  [ "$BENCH_HAVE_SLUICE" = 1 ] ||
    bench_die "$SLUICE has no '$1' subcommand (rebuild once it exists): only the reference was measured"
}

# bench_alternate REPEAT REFERENCE_FN SLUICE_FN: calls REFERENCE_FN ROUND, then
# SLUICE_FN ROUND (unless BENCH_HAVE_SLUICE is 0), REPEAT times. The functions
# pass each run's time to bench_keep_best KEY WALL CPU, which keeps the fastest
# in BENCH_BEST[KEY] (and its CPU seconds in BENCH_BEST_CPU[KEY]).
declare -A BENCH_BEST=() BENCH_BEST_CPU=()
bench_alternate() {
  local i
  for ((i = 1; i <= $1; i++)); do
    bench_log "round $i/$1"
    "$2" "$i"
    if [ "$BENCH_HAVE_SLUICE" = 1 ]; then "$3" "$i"; fi
  done
}
# shellcheck disable=SC2034  # BENCH_BEST_CPU is the scripts' to read
bench_keep_best() {
  if [ -z "${BENCH_BEST[$1]:-}" ] || awk -v a="$2" -v b="${BENCH_BEST[$1]}" 'BEGIN { exit !(a < b) }'; then
    BENCH_BEST[$1]=$2 BENCH_BEST_CPU[$1]=$3
  fi
}

# bench_ratio REFERENCE_KEY SLUICE_KEY GOAL: BENCH_RATIO = the reference's best
# time / sluice's (2 decimals), BENCH_GOAL_MET = yes when that is >= GOAL, else NO.
# shellcheck disable=SC2034  # BENCH_GOAL_MET is the scripts' to read
bench_ratio() {
  BENCH_RATIO=$(awk -v r="${BENCH_BEST[$1]}" -v s="${BENCH_BEST[$2]}" 'BEGIN { printf "%.2f", r / s }')
  BENCH_GOAL_MET=$(awk -v r="$BENCH_RATIO" -v g="$3" 'BEGIN { print (r >= g ? "yes" : "NO") }')
}

# bench_start_source NAME DIR ID / bench_start_target NAME DIR ID: mariadb_start
# with the servers' options. Both: ROW binlog, binlog_row_metadata=FULL,
# binlog_row_image=FULL, 1 GiB buffer pool. The source is not durable
# (loading it is set-up); a target is (innodb_flush_log_at_trx_commit=1,
# sync_binlog=1) and also gets TARGET_ARGS.
# shellcheck disable=SC2034  # used by the scripts
BENCH_TARGET_DESC="log-bin ROW, binlog_row_metadata=FULL, innodb_flush_log_at_trx_commit=1, sync_binlog=1, 1 GiB buffer pool${TARGET_ARGS:+, $TARGET_ARGS}"
_bench_server_opts=(--binlog-format=ROW --binlog-row-metadata=FULL --binlog-row-image=FULL
  --innodb-buffer-pool-size=1G --innodb-log-file-size=512M)
bench_start_source() {
  mariadb_start "$@" "${_bench_server_opts[@]}" --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 \
    --innodb-doublewrite=0 || bench_die "cannot start the source server in $2"
}
bench_start_target() {
  local extra
  read -r -a extra <<<"${TARGET_ARGS:-}"
  mariadb_start "$@" "${_bench_server_opts[@]}" --innodb-flush-log-at-trx-commit=1 --sync-binlog=1 \
    "${extra[@]}" || bench_die "cannot start the target server in $2"
}

# bench_orders_load DIR ROWS: creates bench.orders in the server of DIR and
# fills it with ids 1..ROWS (statements of 100,000 rows, autocommit). Every
# value is a function of the id, so two servers loaded alike hold equal
# tables (5 statuses, 100,003 customers, a NULL note in one row of 4; 143 MiB
# of data and index at 1M rows).
bench_orders_load() {
  local dir=$1 rows=$2
  awk -v rows="$rows" 'BEGIN {
    print "CREATE DATABASE IF NOT EXISTS bench;"
    print "USE bench;"
    print "CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id INT NOT NULL,"
    print "  status VARCHAR(16) NOT NULL, amount DECIMAL(12,2) NOT NULL, note VARCHAR(200) NULL,"
    print "  created_at DATETIME(3) NOT NULL, KEY customer_id (customer_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
    for (lo = 1; lo <= rows; lo += 100000) {
      hi = lo + 99999; if (hi > rows) hi = rows
      printf "INSERT INTO orders SELECT seq, seq * 7919 %% 100003, " \
             "ELT(1 + seq %% 5, \"new\", \"paid\", \"shipped\", \"delivered\", \"cancelled\"), " \
             "(seq * 37 %% 1000000) / 100 + 0.01, " \
             "IF(seq %% 4 = 0, NULL, CONCAT(\"order \", seq, \" \", REPEAT(CHAR(97 + seq %% 26), 10 + seq %% 90))), " \
             "TIMESTAMP\"2024-01-01 00:00:00\" + INTERVAL seq * 1001000 MICROSECOND FROM seq_%d_to_%d;\n", lo, hi
    }
  }' | mariadb_sql "$dir" -
}

bench_checksum() { mariadb_sql "$1" "CHECKSUM TABLE $2" | awk '{ print $2 }'; }  # DIR TABLE

# bench_sluice_config FILE SOURCE_PORT TARGET_PORT PARALLEL: a config with one
# pipeline `bench` copying bench.orders 1:1 from the source to the target.
bench_sluice_config() {
  local store
  store=$(dirname "$1")/sluice.db
  cat >"$1" <<CFG
store: $store
sources:
  src: {url: "mysql://root@127.0.0.1:$2"}
targets:
  dst: {url: "mysql://root@127.0.0.1:$3"}
pipelines:
  - name: bench
    source: src
    targets: [dst]
    tables:
      - match: "bench.orders"
    parallel: $4
CFG
}

# bench_rows_applied PORT PIPELINE: sets BENCH_APPLIED to the last
# "rows_applied" of /api/pipelines/PIPELINE/status (0 while sluice does not
# answer). Bash's own /dev/tcp: a curl and greps per poll took ~20 ms of CPU
# each, ~40% of a core that sluice's threads then waited for.
BENCH_APPLIED=0
bench_rows_applied() {
  local line body=""
  BENCH_APPLIED=0
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
  printf 'GET /api/pipelines/%s/status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  while IFS= read -r -u 3 line || [ -n "$line" ]; do body+=$line; done
  exec 3<&-
  while [[ $body =~ \"rows_applied\":\ *([0-9]+)(.*) ]]; do
    BENCH_APPLIED=${BASH_REMATCH[1]}
    body=${BASH_REMATCH[2]}
  done
}
# bench_nap SECONDS: a sleep without a process (`read -t` on a pipe nobody writes).
exec {_BENCH_NAP}<> <(:)
bench_nap() { read -r -t "$1" -u "$_BENCH_NAP" _ || true; }

# bench_kafka_mock FILE PARTITIONS: starts librdkafka's mock cluster (3
# brokers; topic bench.t with PARTITIONS partitions) in a process of its own
# ($MOCK, default build/bench/kafka_mock_server); its bootstrap servers go to
# FILE, its pid to BENCH_MOCK_PID. The caller stops it.
bench_kafka_mock() {
  "${MOCK:-$BENCH_ROOT/build/bench/kafka_mock_server}" 3 bench.t "$2" >"$1" 2>"$1.err" &
  BENCH_MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$1" ] && return 0; bench_nap 0.1; done
  bench_die "mock cluster did not start: $(cat "$1.err")"
}
