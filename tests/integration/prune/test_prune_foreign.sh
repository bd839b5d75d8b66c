#!/usr/bin/env bash
# prune leftovers: only rbd2s3's own objects (data.N, index in a backup-id folder of a
# pool[/ns]/image folder) are leftovers; foreign objects under the prefix survive
# prune --grace 0s; prune POOL/IMG never reaches into namespace POOL/IMG's images
# (objects or unfinished uploads).
. "$(dirname "$0")/../lib.sh"

NAME=$(img fgn)
SRC=rbd/$NAME
require "create image" create_image "$SRC" 8M
rand_writes "$SRC" 2 64K || bail "writes"
do_backup "$SRC" || bail "backup"
ok "backup $BK_ID"
echo junk >"$TMPD/junk"
put() { s3api put-object --bucket "$BUCKET" --key "$1" --body "$TMPD/junk" >/dev/null; }
exists() { s3api head-object --bucket "$BUCKET" --key "$1" >/dev/null 2>&1; }
uploads() { # PREFIX: number of unfinished uploads under it
    s3api list-multipart-uploads --bucket "$BUCKET" --prefix "$1" --output json |
        jq -s '(.[0].Uploads // []) | length'
}

# foreign objects in id-named folders (reliability F8)
FOREIGN=("$PREFIX/otherapp/20240101T000000Z/app.log"
    "$(key_prefix "$SRC" 20200101T000000Z)foreign.bin"
    "$(key_prefix "$SRC" 20200101T000000Z)data.x"
    "$(key_prefix "$SRC" 20200101T000000Z)sub/data.0"
    "$PREFIX/a/b/c/d/20200101T000000Z/data.0")
# namespace $NAME of pool rbd: its image folders are under rbd/$NAME/ too (security F11)
NSDIR="$PREFIX/rbd/$NAME/inner/20200101T000000Z/"
for k in "${FOREIGN[@]}" "${NSDIR}data.0" "${NSDIR}index"; do
    put "$k" || bail "put $k"
done
s3api create-multipart-upload --bucket "$BUCKET" --key "${NSDIR}data.1" >/dev/null
# and a real leftover of the image: a crashed backup's data object without manifest
OWN="$(key_prefix "$SRC" 20200101T000001Z)data.0"
put "$OWN"

rb prune "$SRC" --keep-last 5 --grace 0s >"$TMPD/p1.out" 2>"$TMPD/p1.err"
expect_eq "$?" 0 "prune $SRC --keep-last 5 --grace 0s"
for k in "${FOREIGN[@]}"; do
    check "foreign object survives: $k" exists "$k"
done
check "namespace rbd/$NAME's leftover data.0 is not touched by prune $SRC" exists "${NSDIR}data.0"
check "... nor its index" exists "${NSDIR}index"
expect_eq "$(uploads "$NSDIR")" 1 "... nor its unfinished upload"
check "the image's own leftover is deleted" test "$(exists "$OWN" && echo y)" != y
expect_eq "$(rb --format json list "$SRC" | jq '.backups | length')" 1 "the backup is still listed"

rb prune --keep-last 5 --grace 0s >"$TMPD/p2.out" 2>"$TMPD/p2.err"
expect_eq "$?" 0 "prune of the whole prefix --grace 0s"
for k in "${FOREIGN[@]}"; do
    check "foreign object survives: $k" exists "$k"
done
check "the namespace image's leftover (rbd2s3's own) is deleted now" \
    test "$(exists "${NSDIR}data.0" && echo y)" != y
expect_eq "$(uploads "$NSDIR")" 0 "... and its unfinished upload aborted"
check "verify passes" rb verify "$SRC"

done_testing
