#!/usr/bin/env bash
# `sluice check` against pt-table-sync --print: both compare the same two
# tables of ROWS (1,000,000) rows that differ in 10 planted rows, and must
# report exactly those 10 keys.
#
#   bash bench/check.sh
#   ROWS=100000 REPEAT=1 bash bench/check.sh
#
# A source and a target (bench_start_source / bench_start_target in lib.sh:
# log-bin ROW, binlog_row_metadata=FULL; the target durable) both get
# bench.orders (BIGINT key, INT customer_id with an index, VARCHAR(16),
# DECIMAL(12,2), VARCHAR(200) NULL, DATETIME(3); 143 MiB at 1M rows) filled by
# the same deterministic INSERT ... SELECT (bench_orders_load), checked equal
# with CHECKSUM TABLE. One id (ROWS/5+2) is then deleted on both, to leave a
# gap, and the target alone (sql_log_bin=0) gets 10 differences:
#   different  4 rows UPDATEd (amount, note, status, created_at): ids 17,
#              ROWS/4+3, ROWS/2+11, ROWS-5
#   missing    3 rows DELETEd (in the source, not the target): 1, ROWS/3+1, ROWS
#   extra      3 rows INSERTed (in the target, not the source): the gap
#              ROWS/5+2, ROWS+1, 2*ROWS+7
# Both tables then hold ROWS-1 rows; ANALYZE TABLE on both (pt-table-sync
# sizes its chunks from the index statistics).
#
# Timed, REPEAT (3) times each, alternating, best reported (neither changes
# anything):
#   reference: pt-table-sync --print h=127.0.0.1,P=SRC,u=root,D=bench,t=orders
#              h=127.0.0.1,P=TGT (default algorithms: Chunk on the primary
#              key here), which prints the statements that would repair the
#              target. Its statements (INSERT/REPLACE, UPDATE, DELETE) must name
#              exactly the 10 planted ids.
#   sluice:    sluice check -c CONFIG --pipeline bench --format json (pipeline
#              `bench`, tables [{match: "bench.orders"}], parallel: PARALLEL (4)).
#              Exit status 1 (differences found) is the expected one; the JSON
#              must list exactly the planted ids under missing / extra /
#              different (the raw output is printed otherwise).
# Goal: sluice >= GOAL (5.0) times as fast as pt-table-sync.
#
# Environment: ROWS (1000000, >= 1000), PARALLEL (4), REPEAT (3), GOAL (5.0),
# TARGET_ARGS (extra mariadbd options for the target), TIMEOUT (900) s per
# timed run, KEEP=1 (keep the work directory).
#
# Exit status: 0 goal met, 3 goal missed, 1 the benchmark failed (also when
# $SLUICE has no `check` subcommand yet: the reference is still measured).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-1000000}
PARALLEL=${PARALLEL:-4}
REPEAT=${REPEAT:-3}
GOAL=${GOAL:-5.0}
export BENCH_TIMEOUT=${TIMEOUT:-900}
bench_positive ROWS PARALLEL REPEAT BENCH_TIMEOUT
[ "$ROWS" -ge 1000 ] || bench_die "ROWS must be at least 1000 (got $ROWS)"
PT_TABLE_SYNC=$(command -v pt-table-sync) || bench_die "pt-table-sync not found (package percona-toolkit)"
command -v python3 >/dev/null || bench_die "python3 not found (to read the reports)"
bench_has_subcommand check

GAP=$((ROWS / 5 + 2))
DIFFERENT="17 $((ROWS / 4 + 3)) $((ROWS / 2 + 11)) $((ROWS - 5))"
MISSING="1 $((ROWS / 3 + 1)) $ROWS"
EXTRA="$GAP $((ROWS + 1)) $((2 * ROWS + 7))"
read -r -a d <<<"$DIFFERENT"
[ "$(tr ' ' '\n' <<<"$DIFFERENT $MISSING $EXTRA" | sort -u | wc -l)" = 10 ] || bench_die "planted ids collide"

bench_workdir check
bench_log "starting a source and a target MariaDB in $WORK"
bench_start_source SRC "$WORK/src" 1
bench_start_target TGT "$WORK/tgt" 2
SRC_DIR=$WORK/src TGT_DIR=$WORK/tgt
SERVER_VERSION=$(mariadb_sql "$SRC_DIR" "SELECT VERSION()")

bench_log "loading $ROWS rows into bench.orders on both"
t0=$(bench_now)
bench_orders_load "$SRC_DIR" "$ROWS" &
load_src=$!
bench_orders_load "$TGT_DIR" "$ROWS" || bench_die "loading the target failed"
wait "$load_src" || bench_die "loading the source failed"
bench_log "loaded in $(bench_elapsed "$t0" "$(bench_now)") s"
SRC_SUM=$(bench_checksum "$SRC_DIR" bench.orders)
[ "$SRC_SUM" = "$(bench_checksum "$TGT_DIR" bench.orders)" ] || bench_die "the two loads differ (CHECKSUM TABLE)"

mariadb_sql "$SRC_DIR" "DELETE FROM bench.orders WHERE id = $GAP"
mariadb_sql "$TGT_DIR" "SET sql_log_bin = 0;
DELETE FROM bench.orders WHERE id = $GAP;
UPDATE bench.orders SET amount = amount + 1 WHERE id = ${d[0]};
UPDATE bench.orders SET note = 'changed by check.sh' WHERE id = ${d[1]};
UPDATE bench.orders SET status = 'refunded' WHERE id = ${d[2]};
UPDATE bench.orders SET created_at = created_at + INTERVAL 1 SECOND WHERE id = ${d[3]};
DELETE FROM bench.orders WHERE id IN (${MISSING// /, });
INSERT INTO bench.orders VALUES
  ($GAP, 42, 'new', 9.99, 'extra row', '2025-01-01 00:00:00'),
  ($((ROWS + 1)), 42, 'new', 9.99, NULL, '2025-01-01 00:00:01'),
  ($((2 * ROWS + 7)), 42, 'paid', 0.01, 'extra row', '2025-01-01 00:00:02');"
for dir in "$SRC_DIR" "$TGT_DIR"; do
  n=$(mariadb_sql "$dir" "SELECT COUNT(*) FROM bench.orders")
  [ "$n" = $((ROWS - 1)) ] || bench_die "$dir holds $n rows, want $((ROWS - 1))"
done
bench_log "planted on the target: different $DIFFERENT; missing $MISSING; extra $EXTRA"
# Fresh index statistics on both (pt-table-sync sizes its chunks from them).
mariadb_sql "$SRC_DIR" "ANALYZE TABLE bench.orders" >/dev/null
mariadb_sql "$TGT_DIR" "SET sql_log_bin = 0; ANALYZE TABLE bench.orders" >/dev/null

# verify_report KIND FILE: the ids FILE reports (KIND pt: pt-table-sync's
# statements; sluice: check's JSON) must be exactly the planted ones, each
# under its kind. Prints a one-line summary, or the mismatch and the raw output.
verify_report() {
  python3 - "$1" "$2" "$DIFFERENT" "$MISSING" "$EXTRA" <<'PY'
import json, re, sys
kind, path, different, missing, extra = sys.argv[1:]
want = {"different": set(different.split()), "missing": set(missing.split()), "extra": set(extra.split())}
text = open(path, encoding="utf-8", errors="replace").read()
got = {"different": set(), "missing": set(), "extra": set(), "missing|different": set()}
problems, summary = [], ""

def key_of(k):
    if isinstance(k, dict):
        k = k.get("id", next(iter(k.values()), None) if len(k) == 1 else None)
    elif isinstance(k, list) and len(k) == 1:
        k = k[0]
    return str(int(k)) if isinstance(k, (int, str)) and str(k).lstrip("-").isdigit() else repr(k)

if kind == "pt":
    verbs = {"INSERT": "missing", "REPLACE": "missing|different", "UPDATE": "different", "DELETE": "extra"}
    statements = [l for l in text.splitlines() if l.split(" ", 1)[0] in verbs]
    for l in statements:
        m = re.search(r"WHERE `id`='(-?\d+)'", l) or re.search(r"VALUES \('(-?\d+)'", l)
        if not m:
            problems.append("cannot read the id of: " + l[:200])
            continue
        got[verbs[l.split(" ", 1)[0]]].add(m.group(1))
    summary = "%d statements" % len(statements)
    if len(statements) != 10:
        problems.append("%d statements, want 10" % len(statements))
else:
    try:
        doc = json.loads(text)
        tables = [t for p in doc.get("pipelines", []) for t in p.get("tables", [])]
        if doc.get("consistent") is not False:
            problems.append("consistent is %r, want false" % doc.get("consistent"))
        if not tables:
            problems.append("no tables reported")
        for t in tables:
            for k in ("missing", "extra", "different"):
                got[k].update(key_of(x) for x in t.get(k) or [])
        summary = "; ".join("%s -> %s: %s rows, %s chunks" % (t.get("source"), t.get("target"), t.get("rows"), t.get("chunks"))
                            for t in tables)
    except (ValueError, AttributeError, TypeError) as e:
        problems.append("unreadable JSON: %s" % e)

either = got.pop("missing|different")
for k in want:
    extra_ids = got[k] - want[k]
    if k != "extra":
        want_left = want[k] - got[k] - either
    else:
        want_left = want[k] - got[k]
    if extra_ids:
        problems.append("%s: reported %s, not planted" % (k, sorted(extra_ids, key=int)))
    if want_left:
        problems.append("%s: %s not reported" % (k, sorted(want_left, key=int)))
stray = either - want["missing"] - want["different"]
if stray:
    problems.append("REPLACE of ids not planted: %s" % sorted(stray))
if problems:
    print("%s report wrong: %s" % (kind, "; ".join(problems)))
    print("---- raw output (%d bytes, first 4000) ----" % len(text))
    print(text[:4000])
    sys.exit(1)
print("all 10 planted ids, with the right kinds (%s)" % summary)
PY
}

run_pt() {  # ROUND
  local out=$WORK/pt-$1.out
  BENCH_STDOUT=$out bench_measure PT "$PT_TABLE_SYNC" --print \
    "h=127.0.0.1,P=$SRC_PORT,u=root,D=bench,t=orders" "h=127.0.0.1,P=$TGT_PORT" 2>"$WORK/pt-$1.err"
  # 2: differences found (0 would mean none).
  [ "$PT_STATUS" = 2 ] || bench_die "pt-table-sync exited with status $PT_STATUS: $(tail -n 20 "$WORK/pt-$1.err")"
  PT_VERIFIED=$(verify_report pt "$out") || bench_die "$PT_VERIFIED"
  bench_log "  pt-table-sync --print: $PT_WALL s, CPU $PT_CPU s, peak RSS $(bench_mib "$PT_RSS_KB") MiB; $PT_VERIFIED"
  bench_keep_best pt "$PT_WALL" "$PT_CPU"
}

run_sluice() {  # ROUND: a fresh config and store each time
  local dir=$WORK/sluice-$1
  mkdir -p "$dir"
  bench_sluice_config "$dir/sluice.yaml" "$SRC_PORT" "$TGT_PORT" "$PARALLEL"
  BENCH_STDOUT=$dir/check.json bench_measure SL "$SLUICE" check -c "$dir/sluice.yaml" --pipeline bench --format json 2>"$dir/sluice.log"
  # 1: differences found, the expected outcome.
  [ "$SL_STATUS" = 1 ] || bench_die "sluice check exited with status $SL_STATUS (want 1: differences found); stderr: $(tail -n 20 "$dir/sluice.log"); stdout: $(head -c 2000 "$dir/check.json")"
  SL_VERIFIED=$(verify_report sluice "$dir/check.json") || bench_die "$SL_VERIFIED"
  bench_log "  sluice check: $SL_WALL s, CPU $SL_CPU s, peak RSS $(bench_mib "$SL_RSS_KB") MiB; $SL_VERIFIED"
  bench_keep_best sluice "$SL_WALL" "$SL_CPU"
  SL_RSS_MAX=$(( SL_RSS_KB > ${SL_RSS_MAX:-0} ? SL_RSS_KB : ${SL_RSS_MAX:-0} ))
}

bench_alternate "$REPEAT" run_pt run_sluice

echo
echo "== check: sluice check vs pt-table-sync --print ($((ROWS - 1)) rows each side, 10 planted differences) =="
echo "server:    MariaDB $SERVER_VERSION; source log-bin ROW, binlog_row_metadata=FULL; target $BENCH_TARGET_DESC"
echo "table:     bench.orders, CHECKSUM TABLE $SRC_SUM before planting; different $DIFFERENT; missing $MISSING; extra $EXTRA"
echo "figures:   best of $REPEAT run(s), wall seconds; CPU = user + sys of the tool's processes (not the servers')"
row() {  # LABEL KEY NOTE
  printf '%-34s %8.3f s %10s rows/s  CPU %6.2f s  %s\n' "$1" "${BENCH_BEST[$2]}" \
    "$(bench_div $((ROWS - 1)) "${BENCH_BEST[$2]}")" "${BENCH_BEST_CPU[$2]}" "$3"
}
if [ "$BENCH_HAVE_SLUICE" = 1 ]; then
  row "sluice check, parallel $PARALLEL" sluice "peak RSS $(bench_mib "$SL_RSS_MAX") MiB; $SL_VERIFIED"
fi
row "pt-table-sync --print" pt "$PT_VERIFIED"
echo "commands:"
echo "  $SLUICE check -c sluice.yaml --pipeline bench --format json   # tables: [{match: \"bench.orders\"}], parallel: $PARALLEL"
echo "  $PT_TABLE_SYNC --print h=127.0.0.1,P=$SRC_PORT,u=root,D=bench,t=orders h=127.0.0.1,P=$TGT_PORT"
bench_sluice_missing check
bench_ratio pt sluice "$GOAL"
echo "ratio:     pt-table-sync time / sluice time ${BENCH_RATIO}x (goal >= ${GOAL}x: $BENCH_GOAL_MET)"
[ "$BENCH_GOAL_MET" = yes ] || exit 3
