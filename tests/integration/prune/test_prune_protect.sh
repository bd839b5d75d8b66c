#!/usr/bin/env bash
# protect / unprotect: a protected backup in the middle of a chain survives
# `prune --keep-last 1` with the parents it needs, and prune says why; list shows the
# protection; protect is idempotent; a protect object overwritten with garbage in the
# bucket still protects (with a warning); after unprotect the next prune removes them.
# The same in an encrypted repository.
#   F full, I1 I2 I3 incrementals on it, G a new full (the newest)
#   I2 protected -> kept; F, I1 kept as its parents; I3 pruned; G kept by --keep-last 1
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img protect)
create_image "$SRC" 8M
write_random "$SRC" 0 1M
backup_as F
write_random "$SRC" 1M 1M
backup_as I1
write_random "$SRC" 2M 1M
backup_as I2
write_random "$SRC" 3M 1M
backup_as I3
write_random "$SRC" 4M 1M
backup_as G --full
SUM_G=$(img_sum "$SRC@rbd2s3-$ID_G")
# shellcheck disable=SC2154
diag "F $ID_F  I1 $ID_I1  I2 $ID_I2  I3 $ID_I3  G $ID_G"
PKEY="$(key_prefix "$SRC" "$ID_I2")protect.json"

# -- bad input: exit 2 or 3, one line, nothing written
expect_rc 2 "protect without @BACKUP" noat protect "$SRC"
expect_eq "$(wc -l <"$TMPD/noat.err")" 1 "... one line"
expect_rc 2 "unprotect with two specs" two unprotect "$SRC@$ID_I2" "$SRC@$ID_I1"
expect_rc 2 "a reason with a control character" ctl protect "$SRC@$ID_I2" \
    --reason "$(printf 'a\tb')"
expect_rc 3 "protect of a backup that does not exist" missing protect "$SRC@20200101T000000Z"
expect_eq "$(wc -l <"$TMPD/missing.err")" 1 "... one line"
expect_eq "$(bucket_keys | grep -c 'protect.json$')" 0 "... no protect object written"

# -- protect (twice: idempotent)
expect_rc 0 "protect I2 with a reason" p1 protect "$SRC@$ID_I2" --reason "legal hold 42"
check "... says protected since, with the reason" grep -q \
    ": protected (since .*, legal hold 42)$" "$TMPD/p1.out"
check "... its protect object is next to the manifest" \
    s3api head-object --bucket "$BUCKET" --key "$PKEY"
s3api get-object --bucket "$BUCKET" --key "$PKEY" "$TMPD/prot1.json" >/dev/null 2>&1
expect_eq "$(jq -r '.backup + " " + .reason' "$TMPD/prot1.json")" "$ID_I2 legal hold 42" \
    "... it names the backup and the reason"
expect_rc 0 "protect I2 again" p2 protect "$SRC@$ID_I2"
check "... already protected" grep -q "already protected" "$TMPD/p2.out"
s3api get-object --bucket "$BUCKET" --key "$PKEY" "$TMPD/prot2.json" >/dev/null 2>&1
check "... the protect object unchanged" cmp "$TMPD/prot1.json" "$TMPD/prot2.json"

# -- list shows it
rb list "$SRC" >"$TMPD/list.out" 2>&1
expect_eq "$(grep -c 'protected (since' "$TMPD/list.out")" 1 "list shows one protected backup"
check "... I2" grep -q "$ID_I2 .*protected (since .*legal hold 42" "$TMPD/list.out"
rb --format json list "$SRC" >"$TMPD/list.json" 2>&1
expect_eq "$(jq -r --arg id "$ID_I2" '.backups[] | select(.id == $id) |
    "\(.protected) \(.protect_reason)"' "$TMPD/list.json")" "true legal hold 42" \
    "list --format json: protected, protect_reason"
expect_eq "$(jq '[.backups[] | select(.protected)] | length' "$TMPD/list.json")" 1 \
    "... the others are not protected"

# -- prune keeps I2 and its parents, prunes I3
rb --format json prune "$SRC" --keep-last 1 --dry-run >"$TMPD/dry.json" 2>&1
act() { jq -r --arg id "$2" '.images[0].backups[] | select(.id == $id) | .action' "$1"; }
why() { jq -r --arg id "$2" '.images[0].backups[] | select(.id == $id) | .reasons' "$1"; }
expect_eq "$(act "$TMPD/dry.json" "$ID_I2") $(jq -r --arg id "$ID_I2" \
    '.images[0].backups[] | select(.id == $id) | .protected' "$TMPD/dry.json")" "keep true" \
    "prune --dry-run: I2 kept, protected"
rb prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/prune.out" 2>"$TMPD/prune.err"
expect_eq "$?" 0 "prune --keep-last 1"
check "... I2: protected (since DATE, reason)" grep -Eq \
    "keep +$ID_I2 +incremental +protected \(since [0-9T:-]+Z, legal hold 42\)" "$TMPD/prune.out"
for n in F I1; do
    id=$(eval echo "\$ID_$n")
    check "... $n: parent of protected I2" grep -Eq \
        "keep +$id +[a-z]+ +parent of protected $ID_I2\$" "$TMPD/prune.out"
done
check "... I3 pruned" grep -Eq "prune +$ID_I3 " "$TMPD/prune.out"
expect_eq "$(rb --format json list "$SRC" | jq -r '[.backups[].id] | join(" ")')" \
    "$ID_F $ID_I1 $ID_I2 $ID_G" "F, I1, I2 and G are left"
check "I2 restores (its chain is whole)" rb verify "$SRC@$ID_I2"

# -- a protect object overwritten with garbage still protects, with a warning
printf 'not json at all {' >"$TMPD/garbage"
s3api put-object --bucket "$BUCKET" --key "$PKEY" --body "$TMPD/garbage" >/dev/null 2>&1
rb prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/prune2.out" 2>"$TMPD/prune2.err"
expect_eq "$?" 0 "prune with a garbage protect object"
check "... warns that it is unreadable" grep -q "protect object .*unreadable" "$TMPD/prune2.err"
check "... I2 still kept as protected" grep -Eq "keep +$ID_I2 .*protected" "$TMPD/prune2.out"
expect_eq "$(rb --format json list "$SRC" 2>/dev/null | jq '.backups | length')" 4 \
    "... nothing pruned"
s3api put-object --bucket "$BUCKET" --key "$PKEY" --body /dev/null >/dev/null 2>&1
expect_eq "$(rb --format json list "$SRC" 2>/dev/null | jq -r --arg id "$ID_I2" \
    '.backups[] | select(.id == $id) | .protected')" true "an empty protect object protects"

# -- unprotect (twice), then prune removes them
expect_rc 0 "unprotect I2" u1 unprotect "$SRC@$ID_I2"
check "... says unprotected" grep -q ": unprotected" "$TMPD/u1.out"
expect_rc 0 "unprotect I2 again" u2 unprotect "$SRC@$ID_I2"
check "... was not protected" grep -q "was not protected" "$TMPD/u2.out"
expect_eq "$(bucket_keys | grep -c 'protect.json$')" 0 "no protect object left"
rb prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/prune3.out" 2>"$TMPD/prune3.err"
expect_eq "$?" 0 "prune --keep-last 1 after unprotect"
expect_eq "$(rb --format json list "$SRC" | jq -r '[.backups[].id] | join(" ")')" "$ID_G" \
    "... only G is left"
expect_eq "$(rb restore "$SRC" --to-file - 2>/dev/null | sha256sum | cut -d' ' -f1)" \
    "$SUM_G" "G restores identical"

# -- an encrypted repository
ENCI=rbd/$(img protect-enc)
create_image "$ENCI" 4M
K=$TMPD/master.key
require "key create" rb key create "$K"
ENC=(--encryption aes-256-gcm --key-file "$K")
write_random "$ENCI" 0 1M
do_backup "$ENCI" "${ENC[@]}"
expect_eq "$?" 0 "encrypted full E1"
ID_E1=$BK_ID
write_random "$ENCI" 1M 1M
do_backup "$ENCI" "${ENC[@]}"
expect_eq "$?" 0 "encrypted incremental E2"
ID_E2=$BK_ID
write_random "$ENCI" 2M 1M
do_backup "$ENCI" "${ENC[@]}" --full
expect_eq "$?" 0 "encrypted full E3"
ID_E3=$BK_ID
expect_rc 0 "protect E2 (encrypted)" pe --key-file "$K" protect "$ENCI@$ID_E2"
rb --key-file "$K" prune "$ENCI" --keep-last 1 --grace 0 >"$TMPD/pe.out" 2>&1
expect_eq "$?" 0 "prune --keep-last 1 (encrypted)"
check "... E1: parent of protected E2" grep -Eq "keep +$ID_E1 +full +parent of protected $ID_E2" \
    "$TMPD/pe.out"
expect_eq "$(rb --key-file "$K" --format json list "$ENCI" |
    jq -r '[.backups[] | "\(.id)=\(.protected)"] | join(" ")')" \
    "$ID_E1=false $ID_E2=true $ID_E3=false" "... E1, E2 (protected) and E3 are left"
check "E2 verifies" rb --key-file "$K" verify "$ENCI@$ID_E2"

done_testing
