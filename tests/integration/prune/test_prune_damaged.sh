#!/usr/bin/env bash
# damaged manifests: a damaged newest backup makes restore fail (exit 8) instead of
# restoring an older one; restore @damaged exits 8; list shows damaged backups; prune
# refuses (exit 8) to delete anything of an image with a damaged manifest, and keeps
# every older backup when a kept incremental's parent is missing (a deleted manifest).
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img dmg)
EDIT="python3 $TEST_DIR/manifest_edit.py"

require "create image" create_image "$SRC" 16M
IDS=()
for n in 1 2 3; do
    rand_writes "$SRC" 4 64K || bail "writes"
    do_backup "$SRC" || bail "backup $n"
    ok "backup $n: $BK_ID $BK_TYPE"
    IDS+=("$BK_ID")
done
B1=${IDS[0]} B2=${IDS[1]} B3=${IDS[2]}
mkey() { echo "$(key_prefix "$SRC" "$1")manifest.json"; }
get_m() { s3api get-object --bucket "$BUCKET" --key "$(mkey "$1")" "$2" >/dev/null; }
put_m() { s3api put-object --bucket "$BUCKET" --key "$(mkey "$1")" --body "$2" >/dev/null; }
for id in "$B1" "$B2" "$B3"; do
    require "save manifest $id" get_m "$id" "$TMPD/$id.json"
done
check "manifest_edit.py computes rbd2s3's checksum" $EDIT "$TMPD/$B3.json" --check
# one changed byte in a member: the checksum no longer matches
damage() { $EDIT "$TMPD/$1.json" "$TMPD/$1.bad" --set 'tool="rbd2s3 0.1.1"' && put_m "$1" "$TMPD/$1.bad"; }

# -- the newest manifest damaged (reliability F5)
require "damage the newest manifest" damage "$B3"
rm -f "$TMPD/r.raw"
rb restore "$SRC" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r1.err"
expect_eq "$?" 8 "restore of the image whose newest backup is damaged exits 8"
check "... naming the damaged backup" grep -q "$B3" "$TMPD/r1.err"
expect_eq "$(wc -l <"$TMPD/r1.err")" 1 "... in one line"
diag "$(cat "$TMPD/r1.err")"
rm -f "$TMPD/r.raw"
rb restore "$SRC@$B3" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r2.err"
expect_eq "$?" 8 "restore @damaged exits 8 (not 3)"
rb list "$SRC" >"$TMPD/l1.out" 2>&1
check "list shows the damaged backup" grep -q "$B3.*DAMAGED.*checksum mismatch" "$TMPD/l1.out"
rb --format json list "$SRC" >"$TMPD/l1.json"
expect_eq "$(jq -r '[.backups[] | "\(.id):\(.damaged)"] | join(" ")' "$TMPD/l1.json")" \
    "$B1:false $B2:false $B3:true" "list --format json: damaged true for it only"
rb show "$SRC" >/dev/null 2>"$TMPD/s1.err"
expect_eq "$?" 8 "show of the image exits 8 as well"
require "put the newest manifest back" put_m "$B3" "$TMPD/$B3.json"

# -- a damaged middle manifest: prune must not delete the full (reliability F1)
require "damage the middle manifest" damage "$B2"
bucket_listing >"$TMPD/before.lst"
rb prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/p1.out" 2>"$TMPD/p1.err"
expect_eq "$?" 8 "prune --keep-last 1 with a damaged middle manifest exits 8"
check "... naming the damaged backup" grep -q "$B2" "$TMPD/p1.err"
expect_eq "$(wc -l <"$TMPD/p1.err")" 1 "... in one line"
diag "$(cat "$TMPD/p1.err")"
bucket_listing >"$TMPD/after.lst"
check "nothing deleted (s3api listing unchanged)" cmp -s "$TMPD/before.lst" "$TMPD/after.lst"
rb --format json prune "$SRC" --keep-last 1 >"$TMPD/p1.json" 2>/dev/null
expect_eq "$?:$(jq -r '.pruned_backups' "$TMPD/p1.json")" 8:0 "prune --format json: exit 8, 0 pruned"
check "... the image is marked refused" jq -e '.images[0].refused | test("damaged")' "$TMPD/p1.json"
rm -f "$TMPD/r.raw"
rb restore "$SRC@$B3" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r3.err"
expect_eq "$?" 8 "restore of the child of a damaged backup exits 8"
check "... saying its parent is damaged" grep -q "parent backup $B2 is damaged" "$TMPD/r3.err"
rb prune --keep-last 1 --grace 0 >"$TMPD/p2.out" 2>"$TMPD/p2.err"
expect_eq "$?" 8 "prune of the whole prefix refuses too (exit 8)"
bucket_listing >"$TMPD/after2.lst"
check "... nothing deleted" cmp -s "$TMPD/before.lst" "$TMPD/after2.lst"
require "put the middle manifest back" put_m "$B2" "$TMPD/$B2.json"

# -- a deleted middle manifest: the kept incremental's parent is missing
s3api delete-object --bucket "$BUCKET" --key "$(mkey "$B2")" >/dev/null
rb prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/p3.out" 2>"$TMPD/p3.err"
expect_eq "$?" 0 "prune with a deleted middle manifest exits 0"
check "... saying that the parent is missing" grep -q "parent backup $B2 is missing" "$TMPD/p3.err"
diag "$(cat "$TMPD/p3.err")"
check "... the full is kept (broken chain)" grep -q "keep.*$B1.*broken-chain" "$TMPD/p3.out"
expect_eq "$(bucket_keys "$(key_prefix "$SRC" "$B1")" | wc -l)" 3 \
    "the full's manifest, data and index are all still there"
expect_eq "$(bucket_keys "$(key_prefix "$SRC" "$B2")" | wc -l)" 2 \
    "the middle backup's data and index are not deleted as leftovers"
require "put the middle manifest back" put_m "$B2" "$TMPD/$B2.json"
rm -f "$TMPD/r.raw"
if rb restore "$SRC" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r4.err"; then
    expect_eq "$(file_sum "$TMPD/r.raw")" "$(img_sum "$SRC@rbd2s3-$B3")" \
        "with the manifest back, the newest restores byte-identical"
else
    not_ok "restore after putting the manifest back: $(tail -1 "$TMPD/r4.err")"
fi

done_testing
