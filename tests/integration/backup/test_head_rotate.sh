#!/usr/bin/env bash
# test_head_rotate.sh - the head object of an encrypted image (written after each
# backup, a missing one a warning and written again by the next backup) and `key
# rotate`: every data key rewrapped under a new master key, no data object or index
# rewritten (same ETags), every backup restored byte-identical with the new key alone,
# a second rotation rewraps nothing, the old key alone no longer opens anything.
. "$(dirname "$0")/../lib.sh"

K1=$TMPD/k1.key
K2=$TMPD/k2.key
K1ID=$("$RBD2S3" key create "$K1" 2>/dev/null | sed -n 's/.*key id //p')
K2ID=$("$RBD2S3" key create "$K2" 2>/dev/null | sed -n 's/.*key id //p')
[ -n "$K1ID" ] && [ -n "$K2ID" ] || bail "key create"
BASE_ARGS=("${RB_ARGS[@]}")
with_key() { RB_ARGS=("${BASE_ARGS[@]}" --encryption aes-256-gcm --key-file "$1"); }
with_key "$K1"

IMG=rbd/$(img rot)
IMG2=rbd/$(img rot2)
hkey() { echo "$PREFIX/${1%%/*}/${1#*/}/head.json"; }
head_field() { # SPEC FIELD
    s3api get-object --bucket "$BUCKET" --key "$(hkey "$1")" "$TMPD/h.json" >/dev/null &&
        jq -r ".$2" "$TMPD/h.json"
}
# data objects and indexes with their ETags
data_listing() { bucket_listing | grep -v -e '/manifest.json ' -e '/head.json '; }
declare -A SUM

require "create images" create_image "$IMG" 8M
require "create images" create_image "$IMG2" 4M
require "writes" write_ops "$IMG" t:0:1M w:3M:256K
do_backup "$IMG" || bail "backup 1"
B1=$BK_ID SUM[$B1]=$(img_sum "$IMG")
expect_eq "$(head_field "$IMG" newest)" "$B1" "the head names the first backup"
expect_eq "$(head_field "$IMG" key_id)" "$K1ID" "... under the master key's id"
require "writes" write_ops "$IMG" w:1M:64K z:3M:64K
require "grow" grow "$IMG" 12M
do_backup "$IMG" || bail "backup 2"
B2=$BK_ID SUM[$B2]=$(img_sum "$IMG")
expect_eq "$(head_field "$IMG" newest)" "$B2" "the head names the newest backup"

# a missing head: a warning on restore and verify, written again by the next backup
s3api delete-object --bucket "$BUCKET" --key "$(hkey "$IMG")" >/dev/null
rb restore "$IMG" --to-file "$TMPD/r0.raw" >/dev/null 2>"$TMPD/r0.err"
expect_eq "$?" 0 "restore without a head works"
check "... with a warning" grep -q "no head object" "$TMPD/r0.err"
rm -f "$TMPD/r0.raw"
require "writes" write_ops "$IMG" w:9M:64K
do_backup "$IMG" || bail "backup 3"
B3=$BK_ID SUM[$B3]=$(img_sum "$IMG")
expect_eq "$BK_PARENT" "$B2" "the backup after it is incremental on the newest"
expect_eq "$(head_field "$IMG" newest)" "$B3" "it writes the head again"
require "writes" rand_writes "$IMG2" 4 64K
do_backup "$IMG2" || bail "backup other"
C1=$BK_ID SUM[$C1]=$(img_sum "$IMG2")
ok "backups: $B1 $B2 $B3 of $IMG, $C1 of $IMG2"

rb --format json list >"$TMPD/l1.json" || bail "list"
expect_eq "$(jq -r '[.backups[].key_id] | unique | join(",")' "$TMPD/l1.json")" "$K1ID" \
    "list shows the key id of every backup"

# ---------------------------------------------------------------- key rotate
data_listing >"$TMPD/before"
rb key rotate --new-key-file "$K2" >"$TMPD/rot1.out" 2>"$TMPD/rot1.err"
expect_eq "$?" 0 "key rotate exits 0"
expect_eq "$(cat "$TMPD/rot1.out")" "key $K2ID: rewrapped 4, skipped 0, failed 0" \
    "key rotate rewraps the 4 backups"
data_listing >"$TMPD/after"
if cmp -s "$TMPD/before" "$TMPD/after"; then
    ok "no data object or index changed (same keys, sizes, ETags: $(wc -l <"$TMPD/after"))"
else
    not_ok "no data object or index changed"
    diff "$TMPD/before" "$TMPD/after" | head -n 10 | sed 's/^/#   /'
fi
ids=""
for k in $(bucket_keys | grep '/manifest.json$'); do
    s3api get-object --bucket "$BUCKET" --key "$k" "$TMPD/m.json" >/dev/null
    ids="$ids $(jq -r .key.id "$TMPD/m.json")"
done
expect_eq "$(echo $ids | tr ' ' '\n' | sort -u | tr '\n' ' ')" "$K2ID " \
    "every manifest names the new key id"
expect_eq "$(head_field "$IMG" key_id) $(head_field "$IMG" newest)" "$K2ID $B3" \
    "the head is rewritten under the new key"

# the new key alone (the old key file gone from the configuration)
with_key "$K2"
for spec in "$IMG@$B1" "$IMG@$B2" "$IMG@$B3" "$IMG2@$C1"; do
    rm -f "$TMPD/r.raw"
    if rb restore "$spec" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r.err"; then
        expect_eq "$(file_sum "$TMPD/r.raw")" "${SUM[${spec#*@}]}" \
            "$spec restores byte-identical with the new key alone"
    else
        not_ok "$spec restores with the new key alone"
        diag "$(cat "$TMPD/r.err")"
    fi
done
rm -f "$TMPD/r.raw"
check "verify --deep with the new key alone" rb verify --deep
rb key rotate --new-key-file "$K2" >"$TMPD/rot2.out" 2>"$TMPD/rot2.err"
expect_eq "$?" 0 "a second key rotate exits 0"
expect_eq "$(cat "$TMPD/rot2.out")" "key $K2ID: rewrapped 0, skipped 4, failed 0" \
    "... and rewraps nothing"
rb --format json list >"$TMPD/l2.json"
expect_eq "$(jq -r '[.backups[].key_id] | unique | join(",")' "$TMPD/l2.json")" "$K2ID" \
    "list shows the new key id"

# the old key alone opens nothing any more
with_key "$K1"
rb restore "$IMG" --to-file "$TMPD/r1.raw" >/dev/null 2>"$TMPD/r1.err"
expect_eq "$?" 12 "restore with the old key alone exits 12"
check "... writing nothing" test ! -e "$TMPD/r1.raw"
diag "$(cat "$TMPD/r1.err")"

done_testing
