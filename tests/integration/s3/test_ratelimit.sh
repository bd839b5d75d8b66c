#!/usr/bin/env bash
# Bandwidth limits (--limit-upload, --limit-download, `limit upload`, `limit download`):
#  (a) a full backup of RATELIMIT_MIB (default 16) MiB of random data at
#      --limit-upload 8M and an incremental with the limit given as a config key, then a
#      restore of each point at --limit-download 8M/s: identical to the source snapshots
#  (b) `run --jobs 3` over three images of a namespace of our own with `limit upload`:
#      one limit for the process's three clients; every image restored identical
#  (c) bad values (not a size, below 1K, above 1T, a sign, "/S", a dangling "/", in the
#      config file too): exit 2, one stderr line naming the key, nothing written
# The achieved rates are printed as diagnostics only: no test here bounds a time
# (the benchmark measures them: tests/bench, group ratelimit).
. "$(dirname "$0")/../lib.sh"

MIB=${RATELIMIT_MIB:-16}
SRC=rbd/$(img limit)

require "create a $MIB MiB source image" create_image "$SRC" "${MIB}M"
require "write $MIB MiB of random data" write_random "$SRC" 0 "${MIB}M"

# rate DESC BYTES T0 T1: the achieved rate as a diagnostic
rate() {
    awk -v d="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN {
        s = (t1 - t0) / 1e9; if (s <= 0) s = 1e-9
        printf "# %s: %.1f MiB in %.2f s = %.2f MiB/s\n", d, b / 1048576, s, b / 1048576 / s }'
}

# --- (a) limited backups and restores
t0=$(date +%s%N)
if do_backup "$SRC" --full --limit-upload 8M; then ok "full backup at --limit-upload 8M ($BK_ID)"
else not_ok "full backup at --limit-upload 8M"; done_testing; fi
rate "full backup at 8 MiB/s (whole command)" $((MIB << 20)) "$t0" "$(date +%s%N)"
ID1=$BK_ID
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")

require "random writes" rand_writes "$SRC" 8 256K
printf '[global]\nlimit upload = 8M/s\nlimit download = 0\n' >"$TMPD/limit.conf"
SAVED_ARGS=("${RB_ARGS[@]}")
RB_ARGS+=(-c "$TMPD/limit.conf")
if do_backup "$SRC"; then ok "incremental with 'limit upload = 8M/s' ($BK_ID)"
else not_ok "incremental with 'limit upload = 8M/s'"; fi
RB_ARGS=("${SAVED_ARGS[@]}")
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

t0=$(date +%s%N)
if rb restore "$SRC@$ID1" --to-file - --limit-download 8M/s >"$TMPD/full.raw" \
        2>"$TMPD/restore1.err"; then
    ok "restore of the full at --limit-download 8M/s"
else
    not_ok "restore of the full at --limit-download 8M/s (exit $?)"; diag "$(tail -5 "$TMPD/restore1.err")"
fi
rate "restore at 8 MiB/s (whole command)" $((MIB << 20)) "$t0" "$(date +%s%N)"
expect_eq "$(sha256sum <"$TMPD/full.raw" | cut -d' ' -f1)" "$SUM1" "restored full equals its snapshot"

printf '[global]\nlimit download = 8M\n' >"$TMPD/down.conf"
if rb -c "$TMPD/down.conf" restore "$SRC@$ID2" --to-file "$TMPD/incr.raw" >/dev/null \
        2>"$TMPD/restore2.err"; then
    ok "restore of the incremental with 'limit download = 8M'"
else
    not_ok "restore of the incremental with 'limit download = 8M' (exit $?)"
    diag "$(tail -5 "$TMPD/restore2.err")"
fi
expect_eq "$(sha256sum <"$TMPD/incr.raw" | cut -d' ' -f1)" "$SUM2" \
    "restored incremental equals its snapshot"

# --- (b) run --jobs 3: three clients, one limit
NS=rl$TAG
require "create namespace rbd/$NS" rbd_src namespace create "rbd/$NS"
for n in a b c; do
    require "create image rbd/$NS/$n-$TAG" create_image "rbd/$NS/$n-$TAG" 4M
    require "write to $n" write_random "rbd/$NS/$n-$TAG" 0 4M
done
printf '[global]\nlimit upload = 4M\njobs = 3\n[pool:rbd/%s]\nimages = *\n' "$NS" >"$TMPD/run.conf"
t0=$(date +%s%N)
rb -c "$TMPD/run.conf" --format json run >"$TMPD/run.json" 2>"$TMPD/run.err"
expect_eq "$?" 0 "run --jobs 3 with 'limit upload = 4M'"
rate "run --jobs 3 at 4 MiB/s for the process (whole command)" $((12 << 20)) "$t0" "$(date +%s%N)"
expect_eq "$(jq -r '[.[] | .result] | join(" ")' "$TMPD/run.json" 2>/dev/null)" "ok ok ok" \
    "run backed up the three images"
for n in a b c; do
    spec=rbd/$NS/$n-$TAG
    rb restore "$spec" --to-file "$TMPD/$n.raw" --limit-download 4M >/dev/null 2>"$TMPD/$n.err"
    expect_eq "$(sha256sum <"$TMPD/$n.raw" | cut -d' ' -f1)" "$(img_sum "$spec")" \
        "$spec restored at 4 MiB/s equals the image"
done

# --- (c) bad values: exit 2, one line naming the key, nothing written
before=$(bucket_listing)
snaps=$(snap_names "$SRC")
for bad in fast 1023 2T -1 +8M 8M/S 8M/ "8 M" ""; do
    for opt in --limit-upload --limit-download; do
        rb backup "$SRC" "$opt" "$bad" >"$TMPD/bad.out" 2>"$TMPD/bad.err"
        rc=$?
        name=${opt#--}
        if [ $rc -eq 2 ] && [ "$(wc -l <"$TMPD/bad.err")" -eq 1 ] &&
                grep -q "$name: not a rate" "$TMPD/bad.err"; then
            ok "$opt '$bad': exit 2, one line"
        else
            not_ok "$opt '$bad': exit 2, one line (exit $rc)"; diag "$(head -3 "$TMPD/bad.err")"
        fi
    done
done
printf '[global]\nlimit upload = 20MB per second\n' >"$TMPD/bad.conf"
rb -c "$TMPD/bad.conf" backup "$SRC" >"$TMPD/bad.out" 2>"$TMPD/bad.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$TMPD/bad.err")" -eq 1 ] &&
        grep -q "limit-upload: not a rate" "$TMPD/bad.err"; then
    ok "config 'limit upload = 20MB per second': exit 2, one line"
else
    not_ok "config 'limit upload = 20MB per second': exit 2, one line (exit $rc)"
    diag "$(head -3 "$TMPD/bad.err")"
fi
expect_eq "$(bucket_listing)" "$before" "bad values wrote nothing"
expect_eq "$(snap_names "$SRC" | grep -c '^rbd2s3-')" "$(echo "$snaps" | grep -c '^rbd2s3-')" \
    "bad values made no snapshot"

done_testing
