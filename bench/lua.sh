#!/usr/bin/env bash
# `transform: {lua: FILE}` cost: `sluice run` of ROWS inserts of bench.orders
# (from the start of the source's binlog) into a JSON-lines file target,
# three ways: no script, an identity script (`return row or old`), and a
# realistic one (mask the note like an e-mail, derive amount_cents). Reported:
# rows/s of each (best of REPEAT, alternating) and each script's ratio to no
# script (goal >= 0.7x). A file target keeps the target cheap, so the
# transform stage's cost shows. Also the CPU seconds sluice used (user +
# system, least over the rounds) and their ratio: on a machine shared with
# other work the wall time is noisy, the CPU time much less.
#
#   bash bench/lua.sh                 # ROWS=300000 REPEAT=3
#   ROWS=50000 REPEAT=1 bash bench/lua.sh
#   PERF=mask PERF_OUT=/tmp/mask.perf bash bench/lua.sh   # that variant's last round under `perf record -g`
#   LUA_THREADS=2 bash bench/lua.sh   # the pipeline's `lua_threads:` (default: the cores - 1, at most 4)
#   RUN_DIR=/dev/shm bash bench/lua.sh  # sluice's store and output there (on a machine whose disk is
#                                       # busy with other work, its fsyncs otherwise decide the wall time)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-300000}
REPEAT=${REPEAT:-3}
GOAL=${GOAL:-0.7}
export BENCH_TIMEOUT=${TIMEOUT:-900}
bench_positive ROWS REPEAT BENCH_TIMEOUT
bench_need_sluice

bench_workdir lua
bench_log "starting a source in $WORK"
bench_start_source SRC "$WORK/src" 1
bench_log "loading $ROWS rows into bench.orders"
bench_orders_load "$WORK/src" "$ROWS"

cat >"$WORK/identity.lua" <<'LUA'
function transform(op, row, old)
  return row or old
end
LUA
cat >"$WORK/mask.lua" <<'LUA'
-- mask the note as an e-mail would be (first letter, then ***), derive a column
function transform(op, row, old)
  local r = row or old
  if r.note ~= sluice.null then
    r.note = string.sub(r.note, 1, 1) .. "***" .. string.match(r.note, "%s(%S+)$")
  end
  local whole, frac = string.match(r.amount, "^(%d+)%.(%d%d)$")
  r.amount_cents = tonumber(whole) * 100 + tonumber(frac)
  return r
end
LUA

RUNS=$WORK
if [ -n "${RUN_DIR:-}" ]; then RUNS=$(mktemp -d "$RUN_DIR/sluice-bench-lua.XXXXXX"); fi
SLUICE_PID=
bench_on_exit() {
  if [ -n "$SLUICE_PID" ]; then kill "$SLUICE_PID" 2>/dev/null || true; fi
  if [ "$RUNS" != "$WORK" ]; then rm -rf "$RUNS"; fi
}

# run_variant NAME ROUND: one `sluice run` until the file holds ROWS lines.
run_variant() {
  local name=$1 dir="$RUNS/run-$1-$2" rule=""
  mkdir -p "$dir"
  if [ "$name" != none ]; then rule="        transform: {lua: $WORK/$name.lua}"; fi
  local threads=""
  if [ -n "${LUA_THREADS:-}" ]; then threads="    lua_threads: $LUA_THREADS"; fi
  cat >"$dir/sluice.yaml" <<CFG
store: $dir/sluice.db
sources:
  src: {url: "mysql://root@127.0.0.1:$SRC_PORT", server_id: 777$2}
targets:
  out: {url: "file://$dir/out.jsonl", format: json}
pipelines:
  - name: bench
    source: src
    targets: [out]
    start: earliest
$threads
    tables:
      - match: "bench.orders"
$rule
CFG
  local t0 t1 lines
  t0=$(bench_now)
  if [ "${PERF:-}" = "$name" ] && [ "$2" = "$REPEAT" ]; then
    perf record -g -o "${PERF_OUT:-$WORK/perf.data}" -- "$SLUICE" run -c "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
    sleep 0.2
    SLUICE_PID=$(pgrep -P $! -x sluice || echo $!)
  else
    "$SLUICE" run -c "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
    SLUICE_PID=$!
  fi
  # The lines are counted as they are written, by one reader following the
  # file (it ends with sluice): counting the whole file again every 50 ms
  # took a core's worth of CPU by the end of a run, from sluice's two.
  head -n "$ROWS" < <(exec tail -s 0.02 -c +1 -F --pid="$SLUICE_PID" "$dir/out.jsonl" 2>/dev/null) >/dev/null
  t1=$(bench_now)
  lines=$(wc -l <"$dir/out.jsonl" 2>/dev/null || echo 0)
  [ "$lines" -ge "$ROWS" ] || bench_die "sluice run ($name) exited: $(tail -5 "$dir/sluice.log")"
  local cpu
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SLUICE_PID/stat")
  kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true
  SLUICE_PID=
  local wall
  wall=$(bench_elapsed "$t0" "$t1")
  bench_log "$name round $2: $wall s, $cpu CPU s"
  bench_keep_best "$name" "$wall" 0
  bench_keep_best "${name}_cpu" "$cpu" 0
  if [ "$name" = mask ] && [ "$2" = 1 ]; then
    grep -m1 -o '"amount_cents":[0-9]*' "$dir/out.jsonl" >/dev/null || bench_die "mask: no amount_cents in the output"
  fi
  rm -rf "$dir"
}

for ((i = 1; i <= REPEAT; i++)); do
  for v in none identity mask; do run_variant "$v" "$i"; done
done

rate() { bench_div "$ROWS" "${BENCH_BEST[$1]}"; }
echo "sluice run, $ROWS inserts of bench.orders into a json file target, best of $REPEAT (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "| script | best wall s | rows/s | vs no script | least CPU s | CPU vs no script |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
status=0
for v in none identity mask; do
  ratio=$(awk -v a="${BENCH_BEST[none]}" -v b="${BENCH_BEST[$v]}" 'BEGIN { printf "%.2f", a / b }')
  cpu_ratio=$(awk -v a="${BENCH_BEST[none_cpu]}" -v b="${BENCH_BEST[${v}_cpu]}" 'BEGIN { printf "%.2f", a / b }')
  echo "| $v | ${BENCH_BEST[$v]} | $(rate "$v") | ${ratio}x | ${BENCH_BEST[${v}_cpu]} | ${cpu_ratio}x |"
  if [ "$v" != none ] && awk -v r="$ratio" -v g="$GOAL" 'BEGIN { exit !(r < g) }'; then status=3; fi
done
[ "$status" = 0 ] && echo "goal >= ${GOAL}x: met" || echo "goal >= ${GOAL}x: MISSED"
exit "$status"
