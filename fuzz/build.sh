#!/usr/bin/env bash
# build.sh - build the libFuzzer harnesses fuzz/harness/fuzz_*.c (clang, ASan+UBSan) into
# fuzz/out/.
# usage: fuzz/build.sh [--update-corpus]   (or `make fuzz`)
# Also writes the seeds of today's writers into fuzz/out/seeds/; --update-corpus copies
# them into fuzz/corpus/ too. Needs a configured tree (config.h; env BUILDDIR if not the
# source tree) and clang with libFuzzer (Debian: clang, libclang-rt-14-dev; env CLANG
# names another clang). Exit 77 when clang or libFuzzer is missing, so that callers can
# report a skip.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BLD=${BUILDDIR:-$SRC}
OUT=${FUZZ_OUT:-$SRC/fuzz/out}
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz/build.sh: $CLANG not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 77
fi
probe=$(mktemp -d /tmp/rbd2s3-fuzzprobe.XXXXXX)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" >/dev/null 2>&1; then
    echo "fuzz/build.sh: $CLANG cannot link -fsanitize=fuzzer" \
        "(apt-get install libclang-rt-14-dev)" >&2
    exit 77
fi
if [ ! -f "$BLD/config.h" ]; then
    echo "fuzz/build.sh: no $BLD/config.h: run ./configure first" >&2
    exit 1
fi
mkdir -p "$OUT"
make --no-print-directory -f "$SRC/fuzz/fuzz.mk" CC="$CLANG" SRC="$SRC" BLD="$BLD" OUT="$OUT" \
    -j"${JOBS:-2}"

# Seeds of today's writers into $OUT/seeds (the committed ones are in fuzz/corpus), and
# the fixtures' manifests and indexes (mode byte 0: taken as they are).
rm -rf "$OUT/seeds"
"$OUT/gen_seeds" "$OUT/seeds"
for f in "$SRC"/tests/fixtures/*/*/*/*/*/manifest.json "$SRC"/tests/fixtures/*/*/*/*/*/index; do
    [ -f "$f" ] || continue
    h=manifest
    [ "${f##*/}" = index ] && h=index
    d=${f%/*}
    { printf '\0'; cat "$f"; } >"$OUT/seeds/$h/fixture-${d##*/}"
done
cp "$SRC/conf/rbd2s3.conf" "$OUT/seeds/config/sample"
{ printf '\1'; cat "$SRC/conf/lifecycle-example.xml"; } >"$OUT/seeds/lifecycle/example-apply"
if [ "${1:-}" = --update-corpus ]; then
    for d in "$OUT"/seeds/*/; do
        h=$(basename "$d")
        mkdir -p "$SRC/fuzz/corpus/$h"
        cp "$d"* "$SRC/fuzz/corpus/$h/"
    done
    echo "fuzz/build.sh: seeds copied into fuzz/corpus/"
fi
