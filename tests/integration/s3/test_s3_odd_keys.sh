#!/usr/bin/env bash
# Keys with control characters in the bucket (security review F4): anyone who may write
# to the bucket puts `<prefix>/POOL/IMG/x<0x01>`, `<prefix>/x<0x1f>y` and an unfinished
# multipart upload with such a key. list, verify, restore and prune --dry-run of the
# image (and list of the whole prefix) still work against the sandbox's RGW, and the odd
# objects are left alone (checked with the aws CLI).
. "$(dirname "$0")/../lib.sh"

NAME=$(img oddkeys)
SRC=rbd/$NAME

require "create a 8 MiB image" create_image "$SRC" 8M
require "fill it with random data" write_random "$SRC" 0 8M
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID

K1=$(printf '%s/rbd/%s/x\001' "$PREFIX" "$NAME")
K2=$(printf '%s/x\037y z+%%' "$PREFIX")
K3=$(printf '%s/rbd/%s/up\002load' "$PREFIX" "$NAME")
printf 'planted' >"$TMPD/planted"
require "plant an object with 0x01 under the image" \
    s3api put-object --bucket "$BUCKET" --key "$K1" --body "$TMPD/planted"
require "plant an object with 0x1f under the prefix" \
    s3api put-object --bucket "$BUCKET" --key "$K2" --body "$TMPD/planted"
require "start a multipart upload with 0x02 under the image" \
    bash -c 's3api create-multipart-upload --bucket "$1" --key "$2" >/dev/null 2>&1 || true' \
    _ "$BUCKET" "$K3"

# run DESC ARGS...: rb ARGS must exit 0
run() {
    local desc=$1
    shift
    if rb "$@" >"$TMPD/run.out" 2>"$TMPD/run.err" </dev/null; then
        ok "$desc"
    else
        not_ok "$desc (exit $?)"
        sed 's/^/#   /' "$TMPD/run.err" | head -n 10
    fi
}

run "list of the image" --format json list "$SRC"
check "list names the backup" grep -q "$ID1" "$TMPD/run.out"
run "list of the whole prefix" --format json list
run "verify of the image" verify "$SRC"
run "restore --to-file" restore "$SRC" --to-file "$TMPD/out.raw"
expect_eq "$(file_sum "$TMPD/out.raw")" "$(img_sum "$SRC")" "the restore equals the image"
run "prune --dry-run" prune "$SRC" --keep-last 1 --dry-run

check "the planted object under the image is still there" \
    s3api head-object --bucket "$BUCKET" --key "$K1"
check "the planted object under the prefix is still there" \
    s3api head-object --bucket "$BUCKET" --key "$K2"

done_testing
