#!/usr/bin/env bash
# protect in a bucket with Object Lock and a default retention: the protect object gets
# the bucket's retention like any object, yet unprotect still works (a DELETE without
# version id leaves a delete marker, the object is gone from the listing) and protect
# works again afterwards. rbd2s3 itself never puts a retention on a protect object.
. "$(dirname "$0")/../lib.sh"

locked_bucket 1
SRC=rbd/$(img protlock)
create_image "$SRC" 4M
write_random "$SRC" 0 1M
do_backup "$SRC"
expect_eq "$?" 0 "a backup in the locked bucket"
ID=$BK_ID
PKEY="$(key_prefix "$SRC" "$ID")protect.json"

expect_rc 0 "protect" p1 protect "$SRC@$ID" --reason "kept for audit"
check "... the protect object exists" s3api head-object --bucket "$BUCKET" --key "$PKEY"
expect_rc 0 "unprotect despite the bucket's default retention" u1 unprotect "$SRC@$ID"
check "... says unprotected" grep -q ": unprotected" "$TMPD/u1.out"
expect_eq "$(rb --format json list "$SRC" | jq -r '.backups[0].protected')" false \
    "... list: no longer protected"
expect_rc 0 "protect again" p2 protect "$SRC@$ID"
check "... a new protect object, not 'already protected'" grep -q "[0-9]Z: protected (since" \
    "$TMPD/p2.out"
expect_eq "$(rb --format json list "$SRC" | jq -r '.backups[0].protected')" true \
    "... list: protected"

done_testing
