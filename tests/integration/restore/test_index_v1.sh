#!/usr/bin/env bash
# index version 1: two backups written by the rbd2s3 of before XXH3-128 chunk digests
# (tests/fixtures/index-v1, SHA-256 digests) restore with today's binary (into the
# destination cluster, merged and --replay, and to a file) equal to the image they were
# made from, and pass verify --deep; a byte flipped in a stored chunk fails the restore
# with exit 8, so the SHA-256 digests are really checked.
. "$(dirname "$0")/../lib.sh"

FIX=$REPO/tests/fixtures/index-v1
ID1=20261201T064055Z
ID2=20261201T064057Z
SUM1=97d0538779d904605888132d373832e5501ff0b502ea678938ed62d76973460f
SUM2=4428dad682afbe9593b99d16e4a1a66d9d7b3088700e84489f58127c170bfc6c
SRC=rbd/v1img
DST=rbd/$(img v1-dr)
KEY2=rbd2s3/rbd/v1img/$ID2

require "upload the fixture's objects" /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp \
    --recursive --quiet "$FIX/rbd2s3/" "s3://$BUCKET/rbd2s3/"
check "the fixture's index is version 1" \
    test "$(lz4 -dc "$FIX/$KEY2/index" | head -c 12 | od -An -tu4 | awk '{print $3}')" = 1

rb restore "$SRC@$ID1" --to-file "$TMPD/p1.raw" >/dev/null 2>"$TMPD/err"
expect_eq "$(file_sum "$TMPD/p1.raw")" "$SUM1" "the full restores to a file"
rb restore "$SRC@$ID2" --to-file "$TMPD/p2.raw" >/dev/null 2>"$TMPD/err"
expect_eq "$(file_sum "$TMPD/p2.raw")" "$SUM2" "the incremental restores to a file"
if check "restore into the destination" rb restore "$SRC@$ID2" "$DST" \
        --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM2" "restored image equals the source"
fi
rbd_dst snap purge "$DST" >/dev/null 2>&1
rbd_dst rm "$DST" >/dev/null 2>&1
if check "restore --replay into the destination" rb restore "$SRC@$ID2" "$DST" \
        --dest-ceph-conf "$DST_CEPH_CONF" --replay; then
    expect_eq "$(img_sum "$DST@rbd2s3-$ID1" "$DST_CEPH_CONF")" "$SUM1" "--replay: the full's snapshot"
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM2" "--replay: the end"
fi
check "verify --deep" rb verify "$SRC" --deep
rb --format json show "$SRC@$ID2" --chunks >"$TMPD/show.json" 2>"$TMPD/err"
check "show --chunks: SHA-256 digests" jq -e \
    '[.chunks[] | select(.kind != "zero") | .digest | startswith("sha256:")] | length > 0 and all' \
    "$TMPD/show.json"

# a byte flipped inside the incremental's raw chunk (the first 64 KiB of its data object)
cp "$FIX/$KEY2/data.0" "$TMPD/data.bad"
printf '\x5a' | dd of="$TMPD/data.bad" bs=1 seek=1000 conv=notrunc status=none
if cmp -s "$FIX/$KEY2/data.0" "$TMPD/data.bad"; then not_ok "the flipped byte changed the object"
else ok "the flipped byte changed the object"; fi
require "upload the damaged object" s3api put-object --bucket "$BUCKET" --key "$KEY2/data.0" \
    --body "$TMPD/data.bad"
rb restore "$SRC@$ID2" --to-file "$TMPD/bad.raw" >/dev/null 2>"$TMPD/err"
expect_eq "$?" 8 "a damaged SHA-256 chunk: restore exit code 8"
check "the error names the object" grep -qF "$KEY2/data.0" "$TMPD/err"
check "no partial file is left" test ! -e "$TMPD/bad.raw"

done_testing
