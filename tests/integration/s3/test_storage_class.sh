#!/usr/bin/env bash
# `storage class` puts the data objects (data.N) in that class and nothing else: index,
# manifest, head, checkpoint and key objects stay STANDARD so that list, verify and prune
# read them whatever the class costs to read (checked with aws s3api head-object):
#  (a) against RGW (the sandbox defines STANDARD_IA in its default placement): a full and
#      an incremental backup with --storage-class STANDARD_IA; list, verify, restore
#  (b) against fakes3 (it keeps the class each creation asked): `storage class = GLACIER`
#      in the config file, the same split
#  (c) a malformed class is exit 2 with one line; a class the server does not know is
#      the server's refusal (exit 1), nothing committed
. "$(dirname "$0")/../lib.sh"
. "$TEST_DIR/fakes3_lib.sh"

CLASS=${STORAGE_CLASS_RGW:-STANDARD_IA}
SRC=rbd/$(img sclass)
DST=rbd/$(img sclass-r)

# classes EP BUCKET PREFIX: "KEY CLASS" lines of every object under PREFIX (STANDARD when
# the server names none)
classes() {
    local ep=$1 b=$2 k
    timeout 120 /usr/bin/aws --endpoint-url "$ep" s3api list-objects-v2 --bucket "$b" \
        --prefix "$3" --output json | jq -r '(.Contents // [])[].Key' | while read -r k; do
        printf '%s %s\n' "$k" "$(timeout 60 /usr/bin/aws --endpoint-url "$ep" s3api \
            head-object --bucket "$b" --key "$k" --output json |
            jq -r '.StorageClass // "STANDARD"')"
    done
}

# split DESC FILE WANT: data.N objects carry WANT, every other object STANDARD
split() {
    local desc=$1 f=$2 want=$3 nd no bad
    nd=$(awk '$1 ~ /\/data\.[0-9]+$/' "$f" | wc -l)
    no=$(awk '$1 !~ /\/data\.[0-9]+$/' "$f" | wc -l)
    bad=$(awk -v w="$want" '($1 ~ /\/data\.[0-9]+$/ && $2 != w) ||
        ($1 !~ /\/data\.[0-9]+$/ && $2 != "STANDARD")' "$f")
    if [ "$nd" -gt 0 ] && [ "$no" -gt 0 ] && [ -z "$bad" ]; then
        ok "$desc: $nd data objects $want, $no others STANDARD"
    else
        not_ok "$desc: data objects $want, others STANDARD ($nd data, $no others)"
        sed 's/^/#   /' "$f" | head -n 20
    fi
}

require "create source image" create_image "$SRC" 16M
require "write data" write_random "$SRC" 0 6M

# ---------------------------------------------------------------- (a) RGW
if ! timeout 60 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api put-object --bucket "$BUCKET" \
        --key probe --storage-class "$CLASS" >/dev/null 2>&1; then
    bail "RGW refuses storage class $CLASS: a sandbox started by an older sandbox.sh?" \
        "restart it with tests/sandbox/sandbox.sh start"
fi
s3api delete-object --bucket "$BUCKET" --key probe >/dev/null 2>&1
if do_backup "$SRC" --storage-class "$CLASS"; then ok "full backup, storage class $CLASS"
else not_ok "full backup, storage class $CLASS"; done_testing; fi
ID1=$BK_ID
require "change the source" write_random "$SRC" 8M 2M
if do_backup "$SRC" --storage-class "$CLASS"; then ok "incremental backup ($BK_ID)"
else not_ok "incremental backup"; done_testing; fi
ID2=$BK_ID
classes "$S3_ENDPOINT" "$BUCKET" "$PREFIX/" >"$TMPD/rgw.classes"
split "RGW" "$TMPD/rgw.classes" "$CLASS"
ids=$(rb --format json list 2>/dev/null | jq -r '.backups[].id' | LC_ALL=C sort | xargs)
expect_eq "$ids" "$ID1 $ID2" "RGW: list shows both backups"
check "RGW: verify" rb verify "$SRC"
check "RGW: restore" rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "$SRC@rbd2s3-$ID2")" \
    "RGW: the restore equals the source snapshot"

# ---------------------------------------------------------------- (b) fakes3, config key
FB=fakebkt
start_fakes3 "$FB"
cat >"$TMPD/fake.conf" <<CONF
[global]
storage class = GLACIER
CONF
fk() {
    timeout -k 5 "$RB_TIMEOUT" "$RBD2S3" -c "$TMPD/fake.conf" --ceph-conf "$SRC_CEPH_CONF" \
        --endpoint "$FAKE" --bucket "$FB" --no-progress --part-size 5M "$@"
}
check "fakes3: backup with storage class = GLACIER" fk backup "$SRC"
classes "$FAKE" "$FB" "" >"$TMPD/fake.classes"
split "fakes3" "$TMPD/fake.classes" GLACIER
check "fakes3: verify reads the index and manifest (STANDARD)" fk verify "$SRC"

# ---------------------------------------------------------------- (c) bad classes
expect_rc 2 "storage class 'bad class'" bad backup "$SRC" --storage-class "bad class"
lines=$(awk 'END { print NR }' "$TMPD/bad.err")
if [ "$lines" = 1 ] && grep -q "storage class" "$TMPD/bad.err"; then
    ok "one line: $(cat "$TMPD/bad.err")"
else
    not_ok "one line that names the storage class"
    sed 's/^/#   /' "$TMPD/bad.err"
fi
before=$(bucket_keys "$PREFIX/" | grep -c manifest)
expect_rc 1 "a class RGW does not define (NO_SUCH_CLASS)" unk backup "$SRC" \
    --storage-class NO_SUCH_CLASS
# RGW 16 answers InvalidArgument (AWS: InvalidStorageClass)
grep -q "multipart upload: .*(HTTP 400)" "$TMPD/unk.err" && ok "the server's refusal is said" ||
    { not_ok "the server's refusal is said"; sed 's/^/#   /' "$TMPD/unk.err"; }
expect_eq "$(bucket_keys "$PREFIX/" | grep -c manifest)" "$before" "no backup committed"

done_testing
