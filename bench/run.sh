#!/usr/bin/env bash
# Runs every sluice benchmark (`make bench` builds, then runs this):
#   1. tail_vs_mariadb_binlog.sh  end-to-end row rate vs mariadb-binlog (goal: >= 2x)
#   2. decoder_bench              decoder micro-benchmarks (the Sakila fixture and
#                                 the binlog written by step 1)
#   3. memory_flat.sh             peak RSS over a > 1 GiB binlog with huge
#                                 transactions (goal: < 64 MiB)
#   4. apply.sh                   `sluice run` apply rate vs a native parallel
#                                 replica on the same binlog (goal: >= 1.0x)
#   5. lag.sh                     per-row delay under 8,000 rows/s (goal: p99 < 500 ms)
#   6. backlog_rss.sh             peak RSS working off a 1,000,000-change backlog
#                                 (goal: < 256 MiB), and the catch-up rate
#   7. snapshot.sh                `sluice snapshot` of a 1,000,000-row table vs
#                                 mariadb-dump | mariadb (goal: >= 2x)
#   8. check.sh                   `sluice check` of two 1,000,000-row tables with 10
#                                 planted differences vs pt-table-sync --print (goal: >= 5x)
# Each step's full output goes to $BENCH_OUT (default build/bench-results/DATE)
# as well as to the terminal.
#
#   bash bench/run.sh            # full size: ~4 min of load, ~13 min in all
#   QUICK=1 bash bench/run.sh    # small sizes, a smoke test of the scripts
#   ONLY="apply lag" bash bench/run.sh   # some steps only (names as above, without .sh)
#
# Exit status: 0 all goals met; 3 a goal missed (the figures are still
# valid); 1 a benchmark failed to run.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# SLUICE, DECODER_BENCH and LAG_PROBE select other builds (e.g. of another revision).
export SLUICE=${SLUICE:-$ROOT/build/sluice}
DECODER_BENCH=${DECODER_BENCH:-$ROOT/build/bench/decoder_bench}
export LAG_PROBE=${LAG_PROBE:-$ROOT/build/bench/lag_probe}
ONLY=${ONLY:-tail_vs_mariadb_binlog decoder_bench memory_flat apply lag backlog_rss snapshot check}
wanted() { [[ " $ONLY " == *" $1 "* ]]; }
for bin in "$SLUICE" "$DECODER_BENCH" "$LAG_PROBE"; do
  if [ ! -x "$bin" ]; then
    echo "error: $bin not found: run 'make build' (or 'make bench', which builds first)" >&2
    exit 1
  fi
done

if [ "${QUICK:-0}" = 1 ]; then
  export ROWS=${ROWS:-100000}
  export BIG_TXN_MB=${BIG_TXN_MB:-40} UPDATE_TXN_MB=${UPDATE_TXN_MB:-20} TOTAL_MB=${TOTAL_MB:-100}
  export MIN_BINLOG_MB=${MIN_BINLOG_MB:-90}
  export INSERTS=${INSERTS:-10001} UPDATES=${UPDATES:-5000} DELETES=${DELETES:-1000}
  export SECONDS_LOAD=${SECONDS_LOAD:-5} CHANGES=${CHANGES:-100000}
fi

BENCH_OUT=${BENCH_OUT:-$ROOT/build/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$BENCH_OUT"
SAVED_BINLOG=$BENCH_OUT/tail-bench-binlog.000001
trap 'rm -f "$SAVED_BINLOG"' EXIT

declare -a SUMMARY=()
worst=0
step() {  # NAME CMD...: runs CMD, tees its output, records its status
  local name=$1 status=0
  shift
  printf '\n######## %s\n' "$name"
  "$@" 2>&1 | tee "$BENCH_OUT/$name.txt" || status=${PIPESTATUS[0]}
  case $status in
    0) SUMMARY+=("$name: ok") ;;
    3) SUMMARY+=("$name: GOAL MISSED"); [ "$worst" = 1 ] || worst=3 ;;
    *) SUMMARY+=("$name: FAILED (status $status)"); worst=1 ;;
  esac
}

{
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
  echo "mariadb: $(/usr/sbin/mariadbd --version 2>/dev/null || mariadbd --version 2>/dev/null || echo unknown)"
  echo "sluice:  $SLUICE (built $(date -u -r "$SLUICE" +%Y-%m-%dT%H:%M:%SZ))"
  if [ "$SLUICE" = "$ROOT/build/sluice" ]; then
    echo "source:  $ROOT at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l) uncommitted file(s) in src/"
  fi
} | tee "$BENCH_OUT/environment.txt"

if wanted tail_vs_mariadb_binlog; then
  step tail_vs_mariadb_binlog env SAVE_BINLOG="$SAVED_BINLOG" bash "$BENCH_DIR/tail_vs_mariadb_binlog.sh"
fi

decoder_args=(--benchmark_repetitions=5 --benchmark_display_aggregates_only=true)
if ! wanted decoder_bench; then
  :
elif [ -f "$SAVED_BINLOG" ]; then
  step decoder_bench env SLUICE_BENCH_BINLOG="$SAVED_BINLOG" "$DECODER_BENCH" "${decoder_args[@]}"
else
  step decoder_bench "$DECODER_BENCH" "${decoder_args[@]}"
fi
rm -f "$SAVED_BINLOG"

if wanted memory_flat; then step memory_flat bash "$BENCH_DIR/memory_flat.sh"; fi
if wanted apply; then step apply bash "$BENCH_DIR/apply.sh"; fi
if wanted lag; then step lag bash "$BENCH_DIR/lag.sh"; fi
if wanted backlog_rss; then step backlog_rss bash "$BENCH_DIR/backlog_rss.sh"; fi
if wanted snapshot; then step snapshot bash "$BENCH_DIR/snapshot.sh"; fi
if wanted check; then step check bash "$BENCH_DIR/check.sh"; fi

printf '\n######## summary (outputs in %s)\n' "$BENCH_OUT"
printf '%s\n' "${SUMMARY[@]}" | tee "$BENCH_OUT/summary.txt"
exit "$worst"
