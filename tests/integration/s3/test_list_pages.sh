#!/usr/bin/env bash
# test_list_pages.sh - listings of more than one page: LIST_PAGES_OBJECTS (default 1100)
# foreign objects sorted before the backups under the image's folder push the backups'
# keys onto the second ListObjectsV2 page (the agent asks for 1000 keys a page); list,
# verify, restore and prune --dry-run still see both backups and leave the objects alone.
# In the s3rver pass it shows that s3rver's continuation tokens work (they need node's
# OpenSSL legacy provider, tests/sandbox/s3rver.sh).
. "$(dirname "$0")/../lib.sh"

N=${LIST_PAGES_OBJECTS:-1100}
NAME=$(img pages)
SRC=rbd/$NAME
require "create a 16 MiB image" create_image "$SRC" 16M
require "write 4 MiB" write_random "$SRC" 0 4M
do_backup "$SRC" || bail "full backup"
FULL=$BK_ID
ok "full backup $FULL"
require "write 1 MiB more" write_random "$SRC" 8M 1M
do_backup "$SRC" || bail "incremental backup"
INCR=$BK_ID
ok "incremental backup $INCR"
SUM=$(img_sum "$SRC@rbd2s3-$INCR")

# N foreign objects in a folder that sorts before the backup ids ("0..." < "2...")
mkdir -p "$TMPD/foreign"
for ((i = 0; i < N; i++)); do printf '%d\n' "$i" >"$TMPD/foreign/$(printf 'f%05d' "$i")"; done
FDIR=$PREFIX/$SRC/0000-foreign/
require "upload $N foreign objects" s3cli cp --quiet --recursive "$TMPD/foreign" \
    "s3://$BUCKET/$FDIR"
expect_eq "$(bucket_keys "$FDIR" | wc -l)" "$N" "$N foreign objects listed by the aws CLI"

out=$(rb --format json list "$SRC" 2>"$TMPD/list.err")
expect_eq "$?" 0 "list over more than one page"
expect_eq "$(jq -r '[.backups[].id] | join(" ")' <<<"$out" 2>/dev/null)" "$FULL $INCR" \
    "list shows both backups (keys of the second page)"
expect_rc 0 "verify over more than one page" verify verify "$SRC"
expect_rc 0 "restore of the incremental" restore restore "$SRC@$INCR" --to-file "$TMPD/r.raw"
expect_eq "$(file_sum "$TMPD/r.raw")" "$SUM" "the restored image equals the snapshot"
expect_rc 0 "prune --keep-last 1 --dry-run" prune prune "$SRC" --keep-last 1 --dry-run
expect_rc 0 "prune --keep-last 1 --grace 0s" prune2 prune "$SRC" --keep-last 1 --grace 0s
expect_eq "$(bucket_keys "$FDIR" | wc -l)" "$N" "the foreign objects are left alone"
expect_eq "$(rb --format json list "$SRC" | jq '.backups | length')" 2 \
    "both backups kept (one chain)"
done_testing
