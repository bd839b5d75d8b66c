#!/usr/bin/env bash
# verify --source --sample PERCENT [--seed N]: each backup in scope compared with its
# snapshot in a random sample of its chunks, holes included. A good chain passes a 10%
# sample (bytes sampled reported); the same seed draws the same extents, and the seed
# -v shows draws them again. A snapshot replaced by one with other bytes (in a hole of
# every backup and in data): a 100% sample finds it (exit 8, naming the backup and the
# offset); a seeded 10% sample covering only the hole finds the hole's bytes, one covering
# neither finds nothing. Bad values: exit 2, one line.
. "$(dirname "$0")/../lib.sh"

NAME=$(img vsample)
SRC=rbd/$NAME
MiB=1048576

require "create image" create_image "$SRC" 64M
require "write data" write_ops "$SRC" "w:0:6M" "w:20M:1M"
do_backup "$SRC" || bail "full backup failed"
FULL=$BK_ID
require "write more" write_ops "$SRC" "w:1M:64K" "w:30M:2M"
do_backup "$SRC" || bail "incremental backup failed"
NEW=$BK_ID

# a good chain: a 10% sample of each backup
expect_rc 0 "a 10% sample of a good chain" good --format json verify "$SRC" --source --sample 10
expect_eq "$(jq -r '[.backups[] | select(.source == "identical")] | length' "$TMPD/good.out")" \
    2 "both backups identical in their sample"
expect_eq "$(jq -r "[.backups[].sampled_bytes | select(. >= 64 * $MiB / 10 and . < 64 * $MiB)]
    | length" "$TMPD/good.out")" 2 "each sample is at least 10% of the image, not all of it"
check "the seed in JSON" jq -e '.sample_seed | type == "number"' "$TMPD/good.out"
expect_rc 0 "text" goodtxt verify "$SRC" --source --sample 12.5
expect_eq "$(grep -c ': ok; source: identical in a sample of ' "$TMPD/goodtxt.out")" 2 \
    "each line says the bytes sampled"

# the seed: shown with -v, and drawing the same extents again
sample_line() { grep -oE "sample of $SRC@rbd2s3-$1: .*" "$2"; }
expect_rc 0 "-v shows the seed" seed1 -v verify "$SRC@$NEW" --source --sample 10
SEED=$(grep -oE 'seed [0-9]+' "$TMPD/seed1.err" | head -n 1 | cut -d' ' -f2)
check "a seed shown" test -n "$SEED"
expect_rc 0 "--seed SEED" seed2 -v verify "$SRC@$NEW" --source --sample 10 --seed "$SEED"
expect_eq "$(sample_line "$NEW" "$TMPD/seed2.err")" "$(sample_line "$NEW" "$TMPD/seed1.err")" \
    "the seed draws the same sample again"

# the newest backup's snapshot replaced by one with other bytes: at 40M (a hole of every
# backup) and at 2M (data)
require "write at 40M and 2M" write_ops "$SRC" "w:40M:64K" "w:2M:4K"
require "remove the snapshot" rbd_src snap rm --no-progress "$SRC@rbd2s3-$NEW"
require "the same name, other bytes" rbd_src snap create --no-progress "$SRC@rbd2s3-$NEW"
expect_rc 8 "a 100% sample finds the difference" all verify "$SRC@$NEW" --source --sample 100
check "it names the backup and the offset" grep -qF \
    "$SRC@$NEW: DAMAGED: the restored chain differs from the source snapshot rbd2s3-$NEW at offset $((2 * MiB))" \
    "$TMPD/all.out"
check "the parent is fine" grep -qF "$SRC@$FULL: ok; source: identical" "$TMPD/all.out"

# covers LINE OFF: a sampled extent of the -v line holds OFF
covers() {
    local e
    for e in ${1#*extents:}; do
        [ "$e" = "..." ] && continue
        [ "${e%~*}" -le "$2" ] && [ $((${e%~*} + ${e#*~})) -gt "$2" ] && return 0
    done
    return 1
}
hole=$((40 * MiB)) data=$((2 * MiB)) seen_hole="" seen_none=""
for s in $(seq 1 64); do
    rb -v verify "$SRC@$NEW" --source --sample 10 --seed "$s" >"$TMPD/s.out" 2>"$TMPD/s.err"
    rc=$?
    line=$(sample_line "$NEW" "$TMPD/s.err")
    if covers "$line" "$hole" && ! covers "$line" "$data" && [ -z "$seen_hole" ]; then
        seen_hole=$s
        expect_eq "$rc" 8 "seed $s samples the hole at 40M: exit 8"
        check "seed $s: the hole's offset named" grep -qF "at offset $hole (in the sample)" \
            "$TMPD/s.out"
    elif ! covers "$line" "$hole" && ! covers "$line" "$data" && [ -z "$seen_none" ]; then
        seen_none=$s
        expect_eq "$rc" 0 "seed $s samples neither place: nothing found"
    fi
    [ -n "$seen_hole" ] && [ -n "$seen_none" ] && break
done
check "a seed sampled the hole only" test -n "$seen_hole"
check "a seed sampled neither place" test -n "$seen_none"

# bad values
for bad in 0 101 abc -5 5% 1e2 .5 10.12345 ""; do
    expect_rc 2 "--sample '$bad'" bad verify "$SRC" --source --sample "$bad"
    expect_eq "$(wc -l <"$TMPD/bad.err")" 1 "--sample '$bad': one line"
done
expect_rc 2 "--sample without --source" bad verify "$SRC" --sample 10
expect_rc 2 "--seed without --sample" bad verify "$SRC" --source --seed 5
expect_rc 2 "--seed -1" bad verify "$SRC" --source --sample 10 --seed -1

done_testing
