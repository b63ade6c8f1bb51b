# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, never run).
#
#   bench_measure OUT_PREFIX CMD [ARGS...]   runs CMD with stdout to /dev/null
#       and sets ${OUT_PREFIX}_WALL (seconds, ns resolution), ${OUT_PREFIX}_CPU
#       (user + system seconds of CMD), ${OUT_PREFIX}_RSS_KB (peak resident set
#       size of CMD, KiB) and ${OUT_PREFIX}_STATUS.
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
    /usr/bin/time -f '%M %U %S' -o "$tmp" timeout "${BENCH_TIMEOUT:-900}" "$@" >/dev/null || status=$?
    t1=$(bench_now)
    read -r rss user sys < <(tail -n 1 "$tmp") || true
    [[ ${rss:-} =~ ^[0-9]+$ ]] || rss=0
    cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.2f", u + s }')
  else
    local pid key value stat ticks=0 hz deadline
    hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
    deadline=$((SECONDS + ${BENCH_TIMEOUT:-900}))
    t0=$(bench_now)
    "$@" >/dev/null &
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
