#!/usr/bin/env bash
# Encrypted backups' metadata: a full and an incremental with a key file; their
# manifests are format 2 with key id, wrapped data key, parent mac and mac (read with
# aws s3api); list shows the key id; without a key or with another key restore exits 12
# with one line and writes nothing; a manifest changed and re-checksummed (the unkeyed
# checksum of format 1) is refused (exit 8); a chain never mixes (exit 2 both ways).
. "$(dirname "$0")/../lib.sh"

EDIT=$REPO/tests/integration/prune/manifest_edit.py
NAME=$(img encmeta)
SRC=rbd/$NAME
K1=$TMPD/k1.key
K2=$TMPD/k2.key

require "create a 16 MiB source image" create_image "$SRC" 16M
require "write random data" write_random "$SRC" 0 4M
require "key create (1)" rb key create "$K1"
KID2=$(rb --format json key create "$K2" | jq -r .key_id)
check "key create (2) prints a key id" test "${#KID2}" -eq 16
ENC1=(--encryption aes-256-gcm --key-file "$K1")
enc_backup() { # SPEC [backup args...]: do_backup with ENC1 as global options
    local saved=("${RB_ARGS[@]}") rc
    RB_ARGS+=("${ENC1[@]}")
    do_backup "$@"
    rc=$?
    RB_ARGS=("${saved[@]}")
    return $rc
}

# --- an encrypted full and incremental
if enc_backup "$SRC"; then ok "encrypted full ($BK_ID)"; else
    not_ok "encrypted full"; done_testing; fi
ID1=$BK_ID
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")
require "random writes" rand_writes "$SRC" 10 64K
if enc_backup "$SRC"; then ok "encrypted incremental ($BK_ID)"; else
    not_ok "encrypted incremental"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_PARENT" "$ID1" "the incremental's parent is the full"
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

get_manifest() { # ID FILE
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api get-object --bucket "$BUCKET" \
        --key "$(key_prefix "$SRC" "$1")manifest.json" "$2" >/dev/null
}
put_manifest() { # ID FILE
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api put-object --bucket "$BUCKET" \
        --key "$(key_prefix "$SRC" "$1")manifest.json" --body "$2" >/dev/null
}
require "fetch the full's manifest" get_manifest "$ID1" "$TMPD/m1.json"
require "fetch the incremental's manifest" get_manifest "$ID2" "$TMPD/m2.json"
KID=$(jq -r .key.id "$TMPD/m1.json")
expect_eq "$(jq -r .format "$TMPD/m1.json")" 2 "the full's manifest is format 2"
expect_eq "$(jq -r .format "$TMPD/m2.json")" 2 "the incremental's manifest is format 2"
check "a 16 hex key id" grep -qxE '[0-9a-f]{16}' <<<"$KID"
expect_eq "$(jq -r .key.id "$TMPD/m2.json")" "$KID" "both backups name the same key"
expect_eq "$(jq -r .encryption.cipher "$TMPD/m1.json")" aes-256-gcm "cipher aes-256-gcm"
expect_eq "$(jq -r .key.kdf "$TMPD/m1.json")" null "a key file has no kdf"
expect_eq "$(jq -r '.key.wrapped | length' "$TMPD/m1.json")" 120 "the wrapped data key (60 bytes)"
check "the full's mac" grep -qxE 'hmac-sha256:[0-9a-f]{64}' <<<"$(jq -r .mac "$TMPD/m1.json")"
expect_eq "$(jq -r .encryption.parent_mac "$TMPD/m1.json")" null "a full has no parent mac"
expect_eq "$(jq -r .encryption.parent_mac "$TMPD/m2.json")" \
    "$(jq -r '.mac | sub("hmac-sha256:"; "")' "$TMPD/m1.json")" \
    "the incremental's parent mac is the full's mac"
check "the data keys differ" test "$(jq -r .key.wrapped "$TMPD/m1.json")" != \
    "$(jq -r .key.wrapped "$TMPD/m2.json")"

# --- list: without any key, the key id per backup
if rb --format json list "$SRC" >"$TMPD/list.json" 2>"$TMPD/list.err"; then
    ok "list without a key"
    expect_eq "$(jq -r '[.backups[] | select(.encrypted == true and .key_id == "'"$KID"'")]
        | length' "$TMPD/list.json")" 2 "list JSON: both backups encrypted with key $KID"
else
    not_ok "list without a key"; sed 's/^/#   /' "$TMPD/list.err"
fi
rb list "$SRC" >"$TMPD/list.txt" 2>&1
expect_eq "$(grep -c "encrypted, key $KID" "$TMPD/list.txt")" 2 "list text: the key id per backup"

# --- restore: no key (exit 12), another key (exit 12), the key
expect_exit() { # CODE WHAT CMD...: exit code CODE, one line on stderr, no output file
    local want=$1 what=$2 rc
    shift 2
    rm -f "$TMPD/out.raw"
    "$@" >/dev/null 2>"$TMPD/err"
    rc=$?
    expect_eq "$rc" "$want" "$what: exit $want"
    expect_eq "$(wc -l <"$TMPD/err")" 1 "$what: one line on stderr"
    diag "$(cat "$TMPD/err")"
}
# (by id: the newest is first checked against the image's head object, which names the
# key in its own words)
expect_exit 12 "restore without a key" rb restore "$SRC" --to-file "$TMPD/out.raw"
expect_exit 12 "restore @ID without a key" rb restore "$SRC@$ID2" --to-file "$TMPD/out.raw"
check "  ... says no key is configured" grep -q "encrypted with key $KID: no key configured" "$TMPD/err"
check "  ... writes nothing" test ! -e "$TMPD/out.raw"
expect_exit 12 "restore @ID with another key" rb --key-file "$K2" restore "$SRC@$ID2" \
    --to-file "$TMPD/out.raw"
check "  ... says no key has this id" grep -q "no configured key has this id" "$TMPD/err"
check "  ... writes nothing" test ! -e "$TMPD/out.raw"
expect_exit 12 "export-diff without a key" rb export-diff "$SRC@$ID2" "$TMPD/out.raw"
expect_exit 12 "verify without a key" rb verify "$SRC"
if check "restore with the key" rb --key-file "$K1" restore "$SRC" --to-file "$TMPD/out.raw"; then
    expect_eq "$(file_sum "$TMPD/out.raw")" "$SUM2" "the encrypted chain restores the snapshot"
fi
rm -f "$TMPD/out.raw"
if check "restore of the full with the key" \
        rb --key-file "$K1" restore "$SRC@$ID1" --to-file "$TMPD/out.raw"; then
    expect_eq "$(file_sum "$TMPD/out.raw")" "$SUM1" "the encrypted full restores its snapshot"
fi
rm -f "$TMPD/out.raw"
check "verify with the key" rb --key-file "$K1" verify "$SRC"

# --- tampering: one byte of a field changed, the checksum recomputed (it has no key)
python3 "$EDIT" "$TMPD/m2.json" "$TMPD/m2.bad" --set totals.data_bytes=1 --resign
require "upload the altered manifest" put_manifest "$ID2" "$TMPD/m2.bad"
expect_exit 8 "restore of the altered backup" rb --key-file "$K1" restore "$SRC@$ID2" \
    --to-file "$TMPD/out.raw"
check "  ... authentication failed" grep -q "authentication failed" "$TMPD/err"
rb --format json --key-file "$K1" list "$SRC" >"$TMPD/list.json" 2>/dev/null
expect_eq "$(jq -r '.backups[] | select(.id == "'"$ID2"'") | .reason' "$TMPD/list.json")" \
    "authentication failed" "list shows the altered backup damaged"
# a splice: the incremental pointing at another parent mac (the attacker's own full)
python3 "$EDIT" "$TMPD/m2.json" "$TMPD/m2.bad" \
    --set "encryption.parent_mac=\"$(printf '%064d' 0)\"" --resign
require "upload the spliced manifest" put_manifest "$ID2" "$TMPD/m2.bad"
expect_exit 8 "restore of the spliced backup" rb --key-file "$K1" restore "$SRC@$ID2" \
    --to-file "$TMPD/out.raw"
require "put the manifest back" put_manifest "$ID2" "$TMPD/m2.json"
rm -f "$TMPD/out.raw"
check "restore works again" rb --key-file "$K1" restore "$SRC" --to-file "$TMPD/out.raw"
rm -f "$TMPD/out.raw"

# --- import-diff writes through the same writer: same rules
IMP=rbd/$(img encmeta-imp)
xd() { rbd_src export-diff --no-progress "$@"; }
require "rbd export-diff of the full's snapshot" xd "$SRC@rbd2s3-$ID1" "$TMPD/full.diff"
require "rbd export-diff of the incremental" xd --from-snap "rbd2s3-$ID1" \
    "$SRC@rbd2s3-$ID2" "$TMPD/inc.diff"
check "an encrypted import-diff (full)" rb "${ENC1[@]}" import-diff "$TMPD/full.diff" "$IMP"
expect_exit 12 "an encrypted import-diff on a parent another key opens" \
    rb --encryption aes-256-gcm --key-file "$K2" import-diff "$TMPD/inc.diff" "$IMP"
check "an encrypted import-diff (incremental)" \
    rb "${ENC1[@]}" import-diff "$TMPD/inc.diff" "$IMP"
rb --format json list "$IMP" >"$TMPD/imp.json" 2>/dev/null
expect_eq "$(jq -r '[.backups[] | select(.encrypted and .key_id == "'"$KID"'")] | length' \
    "$TMPD/imp.json")" 2 "both imports are encrypted with key $KID"
IDI1=$(jq -r '.backups[0].id' "$TMPD/imp.json")
IDI2=$(jq -r '.backups[1].id' "$TMPD/imp.json")
SRC_SAVED=$SRC
SRC=$IMP
get_manifest "$IDI1" "$TMPD/i1.json" && get_manifest "$IDI2" "$TMPD/i2.json"
SRC=$SRC_SAVED
expect_eq "$(jq -r .encryption.parent_mac "$TMPD/i2.json")" \
    "$(jq -r '.mac | sub("hmac-sha256:"; "")' "$TMPD/i1.json")" \
    "the imported incremental's parent mac is the imported full's mac"
expect_exit 2 "a plain import-diff onto encrypted backups" rb import-diff "$TMPD/inc.diff" "$IMP"
if check "restore of the imported chain" rb --key-file "$K1" restore "$IMP" \
        --to-file "$TMPD/out.raw"; then
    expect_eq "$(file_sum "$TMPD/out.raw")" "$SUM2" "  ... equals the source snapshot"
fi
rm -f "$TMPD/out.raw"

# --- a passphrase: the kdf in the manifest, the same salt along the chain
PIMG=rbd/$(img encmeta-pass)
require "create an image for the passphrase" create_image "$PIMG" 8M
require "write into it" write_random "$PIMG" 0 1M
export RBD2S3_PASSPHRASE="correct horse battery staple"
PASSB() { rb --encryption aes-256-gcm backup "$PIMG"; }
check "an encrypted full with a passphrase" PASSB
require "write more" write_random "$PIMG" 0 64K
check "an encrypted incremental with the passphrase" PASSB
rb --format json list "$PIMG" >"$TMPD/pass.json" 2>/dev/null
SRC_SAVED=$SRC
SRC=$PIMG
get_manifest "$(jq -r '.backups[0].id' "$TMPD/pass.json")" "$TMPD/p1.json"
get_manifest "$(jq -r '.backups[1].id' "$TMPD/pass.json")" "$TMPD/p2.json"
SRC=$SRC_SAVED
expect_eq "$(jq -r .key.kdf.alg "$TMPD/p1.json")" scrypt "the manifest names scrypt"
check "  ... with a 16-byte salt" grep -qxE '[0-9a-f]{32}' <<<"$(jq -r .key.kdf.salt "$TMPD/p1.json")"
expect_eq "$(jq -c .key.kdf "$TMPD/p2.json")" "$(jq -c .key.kdf "$TMPD/p1.json")" \
    "the incremental takes its parent's salt and parameters"
expect_eq "$(jq -r .type "$TMPD/p2.json")" incremental "  ... and chains on it"
check "restore with the passphrase" rb restore "$PIMG" --to-file "$TMPD/out.raw"
rm -f "$TMPD/out.raw"
unset RBD2S3_PASSPHRASE
expect_exit 12 "restore @ID without the passphrase" \
    rb restore "$PIMG@$(jq -r '.backups[1].id' "$TMPD/pass.json")" --to-file "$TMPD/out.raw"

# --- a chain never mixes
expect_exit 2 "a plain backup after encrypted ones" rb backup "$SRC"
check "  ... names the setting" grep -q "set encryption = aes-256-gcm" "$TMPD/err"
PLAIN=rbd/$(img encmeta-plain)
require "create a plain image" create_image "$PLAIN" 8M
require "write into it" write_random "$PLAIN" 0 1M
check "a plain backup" rb backup "$PLAIN"
expect_exit 2 "an encrypted backup after plain ones" rb "${ENC1[@]}" backup "$PLAIN"
check "  ... names the setting" grep -q "encryption = none" "$TMPD/err"
# the encryption options after the command's name count too: never a silent plain backup
if do_backup "$PLAIN" --full "${ENC1[@]}"; then
    ok "an encrypted full starts an encrypted chain (migration; options after the command)"
    expect_eq "$BK_TYPE" full "  ... it is a full"
    rb --format json list "$PLAIN" >"$TMPD/plain.json" 2>/dev/null
    expect_eq "$(jq -r '.backups[-1].encrypted' "$TMPD/plain.json")" true "  ... encrypted"
else
    not_ok "an encrypted full after plain ones"
fi
if enc_backup "$PLAIN"; then
    expect_eq "$BK_TYPE" incremental "the next encrypted backup follows the encrypted full"
else
    not_ok "an encrypted incremental after the migration"
fi

done_testing
