#!/usr/bin/env bash
# forged manifests (re-signed, so their checksum is right): a manifest is a backup only
# if its id, image and every key it names are its own folder's; prune never deletes
# what a forged manifest lists; the index is read at the size the manifest declares and
# must hold the records it declares; show of a manifest the writer would refuse does
# not crash; a junk manifest.json is listed as damaged.
. "$(dirname "$0")/../lib.sh"

VIC=rbd/$(img victim)
EVIL=rbd/$(img evil)
EDIT="python3 $TEST_DIR/manifest_edit.py"

require "create images" create_image "$VIC" 8M
require "create images" create_image "$EVIL" 8M
rand_writes "$VIC" 4 64K || bail "writes"
do_backup "$VIC" || bail "backup victim"
V1=$BK_ID
EIDS=()
for n in 1 2; do
    rand_writes "$EVIL" 4 64K || bail "writes"
    do_backup "$EVIL" || bail "backup evil $n"
    EIDS+=("$BK_ID")
done
E1=${EIDS[0]} E2=${EIDS[1]}
ok "backups: victim $V1, evil $E1 $E2"
echo "precious" >"$TMPD/precious"
s3api put-object --bucket "$BUCKET" --key other-app/important.db --body "$TMPD/precious" >/dev/null
mkey() { echo "$(key_prefix "$1" "$2")manifest.json"; }
get_m() { s3api get-object --bucket "$BUCKET" --key "$(mkey "$1" "$2")" "$3" >/dev/null; }
put_m() { s3api put-object --bucket "$BUCKET" --key "$(mkey "$1" "$2")" --body "$3" >/dev/null; }
exists() { s3api head-object --bucket "$BUCKET" --key "$1" >/dev/null 2>&1; }
get_m "$VIC" "$V1" "$TMPD/v1.json" && get_m "$EVIL" "$E1" "$TMPD/e1.json" &&
    get_m "$EVIL" "$E2" "$TMPD/e2.json" || bail "cannot read the manifests"
# forge E2 with the members given, re-signed, and put it in place
forge_e2() {
    local a=() s
    for s in "$@"; do a+=(--set "$s"); done
    $EDIT "$TMPD/e2.json" "$TMPD/e2.bad" "${a[@]}" --resign && put_m "$EVIL" "$E2" "$TMPD/e2.bad"
}
restore_e2() { put_m "$EVIL" "$E2" "$TMPD/e2.json"; }

# -- the index must hold the records the manifest declares (security F7.2)
recs=$(jq .index.records "$TMPD/e2.json")
isize=$(jq .index.size "$TMPD/e2.json")
require "forge: index.records + 1" forge_e2 "index.records=$((recs + 1))"
rm -f "$TMPD/r.raw"
rb restore "$EVIL" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r1.err"
expect_eq "$?" 8 "restore with a record count that is not the index's exits 8"
check "... naming the index" grep -q "$E2/index" "$TMPD/r1.err"
# -- the index is fetched at its declared size
require "forge: index.size - 1" forge_e2 "index.size=$((isize - 1))"
rm -f "$TMPD/r.raw"
rb restore "$EVIL" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r2.err"
expect_eq "$?" 8 "restore of an index larger than its declared size exits 8"
rb show "$EVIL" --chunks >/dev/null 2>"$TMPD/s0.err"
expect_eq "$?" 8 "show --chunks of it exits 8 too"

# -- show of a manifest that parses but that the writer refuses (security F8)
require "forge: parent.snapshot \"\"" forge_e2 'parent.snapshot=""'
rb show "$EVIL@$E2" >/dev/null 2>"$TMPD/s1.err"
expect_eq "$?" 8 "show of an incremental without parent snapshot exits 8 (no crash)"
rb list "$EVIL" >"$TMPD/l0.out" 2>&1
check "... and list shows it damaged" grep -q "$E2.*DAMAGED.*malformed" "$TMPD/l0.out"
require "put E2 back" restore_e2

# -- a manifest that names other keys (security F1): refused, nothing of them deleted.
# A forged old full under a new id in the evil image's folder: no kept backup needs it.
F=20200101T000002Z
vdata="$(key_prefix "$VIC" "$V1")data.0"
$EDIT "$TMPD/e1.json" "$TMPD/f.bad" --set "id=\"$F\"" --set "data_objects.0.key=\"$vdata\"" \
    --set 'data_objects.1={"key": "other-app/important.db", "size": 9, "etag": ""}' \
    --resign || bail "forge $F"
put_m "$EVIL" "$F" "$TMPD/f.bad"
rb list "$EVIL" >"$TMPD/l1.out" 2>&1
check "list shows the forged backup damaged" grep -q "$F.*DAMAGED.*outside its folder" \
    "$TMPD/l1.out"
rb prune "$EVIL" --keep-last 1 --grace 0 >"$TMPD/p1.out" 2>"$TMPD/p1.err"
expect_eq "$?" 8 "prune of the image with the forged manifest exits 8"
check "the victim's data object is still there" exists "$vdata"
check "the object outside the prefix is still there" exists other-app/important.db
check "the evil image's real backups are still there" exists "$(key_prefix "$EVIL" "$E1")data.0"
check "verify of the victim passes" rb verify "$VIC"
rm -f "$TMPD/r.raw"
rb restore "$EVIL@$F" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r3.err"
expect_eq "$?" 8 "restore @forged exits 8"
s3api delete-object --bucket "$BUCKET" --key "$(mkey "$EVIL" "$F")" >/dev/null

# -- another backup's manifest put in its place (wrong id, then wrong image)
put_m "$EVIL" "$E1" "$TMPD/v1.json"
rb list "$EVIL" >"$TMPD/l2.out" 2>&1
check "another backup's manifest is listed damaged" grep -q "$E1.*DAMAGED.*not its folder" "$TMPD/l2.out"
$EDIT "$TMPD/v1.json" "$TMPD/v1.bad" --set "id=\"$E1\"" --resign || bail "forge V1"
put_m "$EVIL" "$E1" "$TMPD/v1.bad"
rb list "$EVIL" >"$TMPD/l3.out" 2>&1
check "a re-labelled copy is listed damaged (image)" grep -q "$E1.*DAMAGED.*image" "$TMPD/l3.out"
rb prune "$EVIL" --keep-last 1 --grace 0 >/dev/null 2>&1
check "... and prune leaves the victim's data alone" exists "$vdata"
put_m "$EVIL" "$E1" "$TMPD/e1.json"

# -- junk manifest.json in an id-named folder: listed damaged, verify says what it is
JUNK="$(key_prefix "$EVIL" 20200101T000001Z)manifest.json"
echo "not a manifest" >"$TMPD/junk"
s3api put-object --bucket "$BUCKET" --key "$JUNK" --body "$TMPD/junk" >/dev/null
rb list "$EVIL" >"$TMPD/l4.out" 2>&1
check "a junk manifest.json is listed damaged" grep -q "20200101T000001Z.*DAMAGED.*malformed" \
    "$TMPD/l4.out"
rb verify >"$TMPD/v.out" 2>&1
expect_eq "$?" 8 "verify of the bucket reports it (exit 8)"
check "... naming its key" grep -q "$JUNK" "$TMPD/v.out"
s3api delete-object --bucket "$BUCKET" --key "$JUNK" >/dev/null
check "without it, verify of the bucket passes" rb verify

done_testing
