#!/usr/bin/env bash
# The chunk index of a fully written 10 TiB image (IDXSTREAM_RECORDS, default 10 million
# records of 1 MiB chunks) written through the streaming writer and read back through the
# cursor, every record checked, against tests/fakes3: peak RSS under 64 MiB, plain and
# sealed (IDXSTREAM_SEALED_RECORDS, default the same count). The program is
# tests/unit/repo/idxstream_scale (built by make check); it needs no sandbox.
. "$(dirname "$0")/../lib.sh"

PROG=$REPO/tests/unit/repo/idxstream_scale
[ -x "$PROG" ] || bail "$PROG is not built (make check)"
N=${IDXSTREAM_RECORDS:-10000000}
NS=${IDXSTREAM_SEALED_RECORDS:-$N}

run_scale() { # WHAT COUNT SEALED
    IDXSTREAM_RECORDS=$2 IDXSTREAM_SEALED=$3 srcdir=$REPO "$PROG" >"$TMPD/$1.out" 2>&1
    local rc=$?
    grep '^# ' "$TMPD/$1.out"
    if [ $rc -eq 0 ]; then
        ok "$1 index of $2 records: written, read back, under 64 MiB"
    else
        not_ok "$1 index of $2 records (exit $rc)"
        tail -n 15 "$TMPD/$1.out" | sed 's/^/#   /'
    fi
}
run_scale plain "$N" 0
run_scale sealed "$NS" 1

done_testing
