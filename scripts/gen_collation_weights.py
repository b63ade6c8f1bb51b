#!/usr/bin/env python3
"""Generates src/transform/collation_weights.inc from a real MariaDB server.

The row filter (src/transform/filter_collation.h) compares strings by the
column's collation the way the server does. Rather than re-deriving
general_ci's case folding or the UCA tables, this script asks the server:
WEIGHT_STRING of every code point (U+0000..U+10FFFF, surrogates excluded)
under each supported collation, and LOWER()/UPPER() of every code point.
The output is compact: consecutive code points whose weights are equal, or
differ only by +1 in the last weight (identity-like and implicit weights),
form one run.

Usage (a private server from scripts/lib/mariadb.sh):
    source scripts/lib/mariadb.sh
    mariadb_start W /tmp/weights 1
    scripts/gen_collation_weights.py --socket /tmp/weights/mariadbd.sock
    mariadb_stop /tmp/weights

The committed output was made with MariaDB 10.11. Run it again (and commit
both) when a collation is added to COLLATIONS below.
"""

import argparse
import subprocess
import sys

# Weight tables: name -> (charset of the values, a collation to ask).
# Collations sharing one table are listed in COLLATIONS.
TABLES = [
    ("general_ci", "utf8mb4", "utf8mb4_general_ci"),
    ("unicode_ci", "utf8mb4", "utf8mb4_unicode_ci"),
    ("unicode_520_ci", "utf8mb4", "utf8mb4_unicode_520_ci"),
    ("latin1_swedish_ci", "latin1", "latin1_swedish_ci"),
    ("latin1_general_ci", "latin1", "latin1_general_ci"),
    ("latin1_general_cs", "latin1", "latin1_general_cs"),
    ("latin1_german1_ci", "latin1", "latin1_german1_ci"),
    ("latin1_german2_ci", "latin1", "latin1_german2_ci"),
    ("latin1_spanish_ci", "latin1", "latin1_spanish_ci"),
    ("latin1_danish_ci", "latin1", "latin1_danish_ci"),
    ("latin1_bin", "latin1", "latin1_bin"),  # byte order, which is not code point order (0x80 is €)
]

# Collations the filter knows: name -> weight table ("bin" compares code
# points). NO PAD variants (MariaDB id + 1024) are derived at run time. The
# utf8mb3 collations share their utf8mb4 tables: this script checks that
# they agree on the BMP, which is all utf8mb3 holds.
COLLATIONS = {
    "utf8mb4_general_ci": "general_ci",
    "utf8mb3_general_ci": "general_ci",
    "utf8mb4_unicode_ci": "unicode_ci",
    "utf8mb3_unicode_ci": "unicode_ci",
    "utf8mb4_unicode_520_ci": "unicode_520_ci",
    "utf8mb3_unicode_520_ci": "unicode_520_ci",
    "latin1_swedish_ci": "latin1_swedish_ci",
    "latin1_general_ci": "latin1_general_ci",
    "latin1_general_cs": "latin1_general_cs",
    "latin1_german1_ci": "latin1_german1_ci",
    "latin1_german2_ci": "latin1_german2_ci",
    "latin1_spanish_ci": "latin1_spanish_ci",
    "latin1_danish_ci": "latin1_danish_ci",
    "utf8mb4_bin": "bin",
    "utf8mb3_bin": "bin",
    "latin1_bin": "latin1_bin",
    "ascii_bin": "bin",
    "binary": "bin",
}

MAX_CP = 0x10FFFF


def query(socket, sql):
    out = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={socket}", "--user=root", "--batch", "--skip-column-names",
         "--database=sluice_weights", f"--execute={sql}"],
        check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def weights_of(hexstr, width=2):
    """Weights of 2 bytes (utf8mb4 collations) or 1 byte (8-bit ones)."""
    b = bytes.fromhex(hexstr)
    if len(b) % width:
        sys.exit(f"weight string {hexstr} is not made of {width}-byte weights")
    return tuple(int.from_bytes(b[i:i + width], "big") for i in range(0, len(b), width))


def unicode_weights(socket, collation, charset="utf8mb4", max_cp=MAX_CP):
    rows = query(socket, f"""
        SELECT seq, HEX(WEIGHT_STRING(CONVERT(CHAR(seq USING utf32) USING {charset}) COLLATE {collation}))
        FROM seq_0_to_{max_cp} WHERE seq NOT BETWEEN 55296 AND 57343""")
    return {int(cp): weights_of(w) for cp, w in rows}


def latin1_weights(socket, collation):
    rows = query(socket, f"""
        SELECT ORD(CONVERT(CHAR(seq USING latin1) USING utf32)),
               HEX(WEIGHT_STRING(CHAR(seq USING latin1) COLLATE {collation}))
        FROM seq_0_to_255""")
    return {int(cp): weights_of(w, 1) for cp, w in rows}


def case_map(socket, fn):
    rows = query(socket, f"""
        SELECT seq, ORD(CONVERT({fn}(CONVERT(CHAR(seq USING utf32) USING utf8mb4)) USING utf32))
        FROM seq_0_to_{MAX_CP} WHERE seq NOT BETWEEN 55296 AND 57343
        HAVING seq <> ORD(CONVERT({fn}(CONVERT(CHAR(seq USING utf32) USING utf8mb4)) USING utf32))""")
    return sorted((int(a), int(b)) for a, b in rows)


def runs(table):
    """[(first, count, incr, weights)]: cp first+k has weights, the last one
    plus k when incr."""
    out = []
    for cp in sorted(table):
        w = table[cp]
        if out:
            first, count, incr, w0 = out[-1]
            if cp == first + count and len(w) == len(w0) and w0:
                k = count
                same = w == w0
                step = w[:-1] == w0[:-1] and w[-1] == w0[-1] + k
                if count == 1 and (same or step):
                    out[-1] = (first, 2, step and not same, w0)
                    continue
                if (incr and step) or (not incr and same):
                    out[-1] = (first, count + 1, incr, w0)
                    continue
            elif cp == first + count and not w and not w0:
                out[-1] = (first, count + 1, False, w0)
                continue
        out.append((cp, 1, False, w))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--out", default="src/transform/collation_weights.inc")
    args = ap.parse_args()
    query_root = ["mariadb", "--no-defaults", f"--socket={args.socket}", "--user=root", "-e",
                  "CREATE DATABASE IF NOT EXISTS sluice_weights"]
    subprocess.run(query_root, check=True)
    version = query(args.socket, "SELECT VERSION()")[0][0]
    ids = {name: int(i) for i, name in query(args.socket, "SELECT ID, COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")}
    ids["binary"] = 63

    tables = {}
    for name, charset, collation in TABLES:
        t = unicode_weights(args.socket, collation) if charset == "utf8mb4" else latin1_weights(args.socket, collation)
        tables[name] = t
        print(f"{name}: {len(t)} code points", file=sys.stderr)
    # utf8mb3 twins agree on the BMP.
    for mb3, table in COLLATIONS.items():
        if mb3.startswith("utf8mb3_") and table != "bin":
            t3 = unicode_weights(args.socket, mb3, "utf8mb3", 0xFFFF)
            bad = [cp for cp in t3 if cp < 0x10000 and t3[cp] != tables[table][cp]]
            if bad:
                sys.exit(f"{mb3} differs from {table} at U+{bad[0]:04X}")
    lower = case_map(args.socket, "LOWER")
    upper = case_map(args.socket, "UPPER")
    # LOWER/UPPER are the charset's, the same for every utf8mb4 collation:
    # check that on the UCA-5.2 collation, whose case table is its own.
    for fn, m in (("LOWER", lower), ("UPPER", upper)):
        rows = query(args.socket, f"""
            SELECT seq, ORD(CONVERT({fn}(CONVERT(CHAR(seq USING utf32) USING utf8mb4) COLLATE utf8mb4_unicode_520_ci) USING utf32))
            FROM seq_0_to_{MAX_CP} WHERE seq NOT BETWEEN 55296 AND 57343
            HAVING seq <> ORD(CONVERT({fn}(CONVERT(CHAR(seq USING utf32) USING utf8mb4) COLLATE utf8mb4_unicode_520_ci) USING utf32))""")
        m520 = sorted((int(a), int(b)) for a, b in rows)
        if m520 != m:
            print(f"note: {fn} under unicode_520_ci differs from general_ci in "
                  f"{len(set(m520) ^ set(m))} code points; using general_ci's", file=sys.stderr)

    pool = []
    lines = []
    w = lines.append
    w(f"// Generated by scripts/gen_collation_weights.py from MariaDB {version}. Do not edit.")
    w("// Weight runs: code point first + k (k < count) has the weights pool[offset .. offset + n),")
    w("// the last one plus k when incr. See src/transform/filter_collation.cc.")
    w("")
    table_index = {}
    for ti, (name, charset, _) in enumerate(TABLES):
        table_index[name] = ti
        rs = runs(tables[name])
        w(f"constexpr WeightRun kRuns_{name}[] = {{")
        for first, count, incr, ws in rs:
            off = len(pool)
            pool.extend(ws)
            w(f"    {{{first:#x}, {count}, {off}, {len(ws)}, {1 if incr else 0}}},")
        w("};")
        print(f"{name}: {len(rs)} runs", file=sys.stderr)
    w("")
    w("constexpr uint16_t kWeightPool[] = {")
    for i in range(0, len(pool), 16):
        w("    " + ", ".join(f"{x:#x}" for x in pool[i:i + 16]) + ",")
    w("};")
    w("")
    w("constexpr WeightTableDef kWeightTables[] = {")
    for name, charset, _ in TABLES:
        w(f'    {{"{name}", kRuns_{name}, std::size(kRuns_{name}), {"true" if charset == "latin1" else "false"}}},')
    w("};")
    w("")
    w("// Collation id -> weight table (-1: code points, as the _bin collations).")
    w("constexpr CollationDef kCollationDefs[] = {")
    for name, table in sorted(COLLATIONS.items(), key=lambda kv: ids[kv[0]]):
        w(f'    {{{ids[name]}, "{name}", {table_index.get(table, -1)}}},')
    w("};")
    w("")
    for label, m in (("Lower", lower), ("Upper", upper)):
        w(f"constexpr CaseMapping k{label}Map[] = {{")
        for i in range(0, len(m), 8):
            w("    " + " ".join(f"{{{a:#x}, {b:#x}}}," for a, b in m[i:i + 8]))
        w("};")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}: pool {len(pool)} weights, lower {len(lower)}, upper {len(upper)}", file=sys.stderr)


if __name__ == "__main__":
    main()
