#!/usr/bin/env bash
# list --as-of and restore --as-of: a bucket with Object Lock (so versioned; the agent
# writes every object with `object lock = governance`, `object lock days = 1`), a chain
# full + 2 incrementals, then every key deleted with the aws CLI (delete markers only:
# the locked versions stay). `list` shows nothing; `list --as-of T` (T between the last backup and
# the deletion) shows the three; `restore --as-of T` reads the versions of then and
# restores byte-identical into the other cluster; verify --deep and export-diff take
# --as-of too. Cleanup removes every version with --bypass-governance-retention.
. "$(dirname "$0")/../lib.sh"

locked_bucket
printf '[global]\nobject lock = governance\nobject lock days = 1\n' >"$TMPD/lock.conf"
RB_ARGS+=(-c "$TMPD/lock.conf")

SRC=rbd/$(img asof)
create_image "$SRC" 16M
write_random "$SRC" 0 4M
do_backup "$SRC"; expect_eq "$?" 0 "full backup"
ID1=$BK_ID
write_random "$SRC" 6M 2M
do_backup "$SRC"; expect_eq "$?" 0 "first incremental"
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")
write_random "$SRC" 1M 1M
grow "$SRC" 20M
write_random "$SRC" 17M 1M
do_backup "$SRC"; expect_eq "$?" 0 "second incremental (after a resize)"
ID3=$BK_ID
expect_eq "$BK_TYPE" incremental "the third backup is an incremental"
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")
sleep 2
T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 2

# ---- someone with the bucket's credentials deletes every key (no version ids)
bucket_keys >"$TMPD/keys"
check "the chain's objects are in the bucket" test "$(wc -l <"$TMPD/keys")" -ge 9
while read -r k; do
    s3api delete-object --bucket "$BUCKET" --key "$k" >/dev/null || not_ok "delete $k"
done <"$TMPD/keys"
expect_eq "$(bucket_keys | wc -l)" 0 "list-objects-v2 shows nothing after the deletion"
locked=$(s3api head-object --bucket "$BUCKET" --key "$(head -n 1 "$TMPD/keys")" \
    --version-id "$(s3api list-object-versions --bucket "$BUCKET" --prefix \
        "$(head -n 1 "$TMPD/keys")" --output json | jq -r '.Versions[0].VersionId')" \
    --output json | jq -r .ObjectLockMode)
expect_eq "$locked" GOVERNANCE "the versions behind the delete markers are locked"

rb --format json list >"$TMPD/list.json" 2>"$TMPD/list.err"
expect_eq "$?" 0 "list after the deletion"
expect_eq "$(jq '.backups | length' "$TMPD/list.json")" 0 "list shows no backups"

rb --format json list --as-of "$T" >"$TMPD/asof.json" 2>"$TMPD/asof.err"
expect_eq "$?" 0 "list --as-of $T"
expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$TMPD/asof.json")" "$ID1 $ID2 $ID3" \
    "list --as-of shows the three backups of then"
rb --format json list "$SRC" --as-of "$(date -u -d "$T" +%Y%m%dT%H%M%SZ)" \
    >"$TMPD/asof-id.json" 2>&1
expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$TMPD/asof-id.json")" "$ID1 $ID2 $ID3" \
    "list POOL/IMAGE --as-of in the backup-id form: the same three"
rb --format json list --as-of "$(date -u -d @$(($(date -u -d "$T" +%s) - 86400)) \
    +%Y-%m-%dT%H:%M:%SZ)" >"$TMPD/asof-before.json" 2>&1
expect_eq "$(jq '.backups | length' "$TMPD/asof-before.json")" 0 \
    "list --as-of a day before: nothing yet"
rb list --as-of yesterday >/dev/null 2>"$TMPD/bad.err"
expect_eq "$?" 2 "a malformed --as-of is a usage error"

DST=rbd/$(img asof-dst)
rb restore --as-of "$T" "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" \
    >"$TMPD/restore.out" 2>&1
expect_eq "$?" 0 "restore --as-of $T into the other cluster"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" \
    "the restored image equals rbd export of the source snapshot"
DST2=rbd/$(img asof-dst2)
rb restore --as-of "$T" "$SRC@$ID2" "$DST2" --dest-ceph-conf "$DST_CEPH_CONF" \
    >"$TMPD/restore2.out" 2>&1
expect_eq "$?" 0 "restore --as-of $T of the first incremental"
expect_eq "$(img_sum "$DST2" "$DST_CEPH_CONF")" "$SUM2" "... byte-identical too"
rb --format json verify --deep --as-of "$T" "$SRC" >"$TMPD/verify.json" 2>"$TMPD/verify.err"
expect_eq "$?" 0 "verify --deep --as-of $T"
expect_eq "$(jq -r '[.backups[].status] | join(" ")' "$TMPD/verify.json")" "ok ok ok" \
    "... every backup of then is ok"
check "... and protected (the lock's default retention)" \
    test "$(jq '[.backups[].protected_until | select(. != null)] | length' \
        "$TMPD/verify.json")" = 3
rb export-diff --as-of "$T" "$SRC" "$TMPD/full.diff" >/dev/null 2>"$TMPD/export.err"
expect_eq "$?" 0 "export-diff --as-of $T"
DST3=rbd/$(img asof-dst3)
rbd_dst create --size 1M "$DST3" && rbd_dst import-diff --no-progress "$TMPD/full.diff" "$DST3"
expect_eq "$(img_sum "$DST3" "$DST_CEPH_CONF")" "$SUM3" "... its stream imports byte-identical"
rb restore "$SRC" --to-file "$TMPD/latest.img" >/dev/null 2>"$TMPD/latest.err"
check "restore without --as-of finds nothing" test "$?" -ne 0

done_testing
