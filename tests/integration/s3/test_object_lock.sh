#!/usr/bin/env bash
# S3 Object Lock (issue 20 item 2): every object of a backup written with the configured
# retention, a locked version refused to DeleteObject, a chain's parents extended to the
# newest backup's date, key rotate keeping each rewritten manifest's and head's retention,
# a lock setting on a bucket without Object Lock refused before anything is written, bad
# settings refused. Governance mode only: compliance cannot be undone on a shared RGW (a
# compliance-locked bucket cannot be removed until the date).
. "$(dirname "$0")/../lib.sh"

LBUCKET=$(echo "rbd2s3-lock-$TAG" | tr '_A-Z' '-a-z' | cut -c1-63)

# Every version and delete marker goes (governance is bypassed: the sandbox user owns
# the bucket), then the bucket.
remove_locked_bucket() {
    local b=$1 k v
    [ "${KEEP:-0}" = 1 ] && return 0
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-object-versions \
        --bucket "$b" --output json 2>/dev/null \
        | jq -r '((.Versions // []) + (.DeleteMarkers // []))[] | [.Key, .VersionId] | @tsv' \
        | while IFS=$'\t' read -r k v; do
            timeout 60 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api delete-object \
                --bucket "$b" --key "$k" --version-id "$v" --bypass-governance-retention \
                >/dev/null 2>&1
        done
    _remove_bucket "$b"
}
trap '_rc=$?; remove_locked_bucket "$LBUCKET"; (exit $_rc); _lib_exit' EXIT

require "create a bucket with Object Lock enabled" \
    s3api create-bucket --bucket "$LBUCKET" --object-lock-enabled-for-bucket

cat >"$TMPD/lock.conf" <<EOF
[global]
object lock = governance
object lock days = 1
EOF
lrb() { rb -c "$TMPD/lock.conf" --bucket "$LBUCKET" "$@"; }
epoch() { date -u -d "$1" +%s 2>/dev/null || echo 0; }

# "mode epoch" of key's current version, from the aws CLI
retention() {
    s3api head-object --bucket "$LBUCKET" --key "$1" --output json 2>/dev/null \
        | jq -r '"\(.ObjectLockMode // "none") \(.ObjectLockRetainUntilDate // "")"' \
        | { read -r m d; echo "$m $(epoch "$d")"; }
}

NAME=$(img lock)
SRC=rbd/$NAME
require "create image" create_image "$SRC" 32M
require "write data" write_random "$SRC" 0 12M

ids=()
for step in full incremental incremental; do
    if [ ${#ids[@]} -gt 0 ]; then
        require "random writes" rand_writes "$SRC" 6 256K
        sleep 1   # the retention dates of two backups differ
    fi
    if lrb --format json backup "$SRC" >"$TMPD/bk.json" 2>"$TMPD/bk.err"; then
        ok "$step backup with object lock = governance"
    else
        not_ok "$step backup with object lock = governance"
        sed 's/^/#   /' "$TMPD/bk.err"
        done_testing
    fi
    expect_eq "$(jq -r .type "$TMPD/bk.json")" "$step" "backup ${#ids[@]} is a $step"
    ids+=("$(jq -r .id "$TMPD/bk.json")")
done
BASE=$(key_prefix rbd "$NAME")

s3api list-objects-v2 --bucket "$LBUCKET" --output json \
    | jq -r '(.Contents // [])[].Key' | LC_ALL=C sort >"$TMPD/keys"
diag "$(wc -l <"$TMPD/keys") objects in the locked bucket"
bad=""
while read -r k; do
    read -r m t < <(retention "$k")
    [ "$m" = GOVERNANCE ] && [ "$t" -gt "$(date +%s)" ] || bad="$bad $k($m $t)"
done <"$TMPD/keys"
expect_eq "$bad" "" "every object carries mode GOVERNANCE and a retain-until date ahead"

read -r _ newest < <(retention "$BASE${ids[2]}/manifest.json")
now=$(date +%s)
if [ "$newest" -ge $((now + 86400 - 120)) ] && [ "$newest" -le $((now + 86400)) ]; then
    ok "the newest backup is retained one day (object lock days = 1)"
else
    not_ok "the newest backup is retained one day: $newest, now $now"
fi
short=""
for id in "${ids[0]}" "${ids[1]}"; do
    while read -r k; do
        read -r _ t < <(retention "$k")
        [ "$t" -ge "$newest" ] || short="$short $k($t)"
    done < <(grep -F "$BASE$id/" "$TMPD/keys")
done
expect_eq "$short" "" "every object of the parents is retained at least as long as the newest"
check "the full has data objects, index and manifest" \
    test "$(grep -cF "$BASE${ids[0]}/" "$TMPD/keys")" -ge 3

DKEY=$(grep -m1 -E "^$BASE${ids[0]}/data\\.[0-9]+\$" "$TMPD/keys")
VID=$(s3api head-object --bucket "$LBUCKET" --key "$DKEY" --query VersionId --output text)
if s3api delete-object --bucket "$LBUCKET" --key "$DKEY" --version-id "$VID" \
        >"$TMPD/del.out" 2>&1; then
    not_ok "deleting a data object's version is refused by the lock"
else
    check "deleting a data object's version is refused by the lock" \
        grep -qiE "AccessDenied|forbidden by object lock" "$TMPD/del.out"
fi
check "the chain restores after all" lrb restore "$SRC" --to-file "$TMPD/out.img"
expect_eq "$(file_sum "$TMPD/out.img")" "$(img_sum "$SRC")" "restored image is byte-identical"
rm -f "$TMPD/out.img"

# import-diff writes its backup locked too
IMP=$(img imported)
require "rbd export-diff" rbd_src export-diff --no-progress "$SRC" "$TMPD/full.diff"
check "import-diff with object lock = governance" lrb import-diff "$TMPD/full.diff" "rbd/$IMP"
bad=""
n=0
while read -r k; do
    n=$((n + 1))
    read -r m t < <(retention "$k")
    [ "$m" = GOVERNANCE ] && [ "$t" -gt "$(date +%s)" ] || bad="$bad $k($m $t)"
done < <(s3api list-objects-v2 --bucket "$LBUCKET" --prefix "$(key_prefix rbd "$IMP")" \
             --output json | jq -r '(.Contents // [])[].Key')
expect_eq "$n $bad" "3 " "the imported backup's 3 objects carry mode GOVERNANCE"
rm -f "$TMPD/full.diff"

# key rotate in the locked bucket: each rewritten manifest and head carries the retention
# of the version it replaces (same mode, same date), its new version cannot be deleted,
# every backup restores with the new key alone and verify still calls it protected.
K1=$TMPD/k1.key
K2=$TMPD/k2.key
K2ID=$("$RBD2S3" key create "$K2" 2>/dev/null | sed -n 's/.*key id //p')
require "key create" "$RBD2S3" key create "$K1"
[ -n "$K2ID" ] || bail "key create"
erb() { local k=$1; shift; lrb --encryption aes-256-gcm --key-file "$k" "$@"; }
# "mode epoch" of key's current version, from GetObjectRetention
get_retention() {
    s3api get-object-retention --bucket "$LBUCKET" --key "$1" --output json 2>/dev/null \
        | jq -r '"\(.Retention.Mode // "none") \(.Retention.RetainUntilDate // "")"' \
        | { read -r m d; [ -n "$d" ] && echo "$m $(epoch "$d")" || echo "$m 0"; }
}
vid() { s3api head-object --bucket "$LBUCKET" --key "$1" --query VersionId --output text; }
prot() { jq -r '[.backups[] | "\(.id)=\(.protected_until)"] | join(" ")' "$1"; }
ENC=$(img lockenc)
require "create image" create_image "rbd/$ENC" 8M
require "write data" write_random "rbd/$ENC" 0 4M
eids=()
declare -A ESUM
for step in full incremental; do
    [ ${#eids[@]} -eq 0 ] || require "random writes" rand_writes "rbd/$ENC" 4 64K
    if erb "$K1" --format json backup "rbd/$ENC" >"$TMPD/eb.json" 2>"$TMPD/eb.err"; then
        ok "encrypted $step backup with object lock = governance"
    else
        not_ok "encrypted $step backup with object lock = governance"
        sed 's/^/#   /' "$TMPD/eb.err"
        done_testing
    fi
    eids+=("$(jq -r .id "$TMPD/eb.json")")
    ESUM[${eids[-1]}]=$(img_sum "rbd/$ENC")
done
EBASE=$(key_prefix rbd "$ENC")
ekeys=("$EBASE${eids[0]}/manifest.json" "$EBASE${eids[1]}/manifest.json" "${EBASE}head.json")
declare -A ERET EVID
bad=""
for k in "${ekeys[@]}"; do
    ERET[$k]=$(get_retention "$k")
    EVID[$k]=$(vid "$k")
    [ "${ERET[$k]% *}" = GOVERNANCE ] || bad="$bad $k(${ERET[$k]})"
done
expect_eq "$bad" "" "before the rotation: both manifests and the head are retained"
erb "$K1" --format json verify "rbd/$ENC" >"$TMPD/v1.json" 2>"$TMPD/v1.err"
check "verify before the rotation calls both protected" \
    test "$(jq '[.backups[].protected_until | select(. != null)] | length' "$TMPD/v1.json")" = 2

erb "$K1" key rotate --new-key-file "$K2" >"$TMPD/rot.out" 2>"$TMPD/rot.err"
expect_eq "$?" 0 "key rotate in the locked bucket exits 0"
expect_eq "$(cat "$TMPD/rot.out")" "key $K2ID: rewrapped 2, skipped 0, failed 0" \
    "... and rewraps the 2 encrypted backups"
sed 's/^/#   /' "$TMPD/rot.err"
for k in "${ekeys[@]}"; do
    n=${k#"$EBASE"}
    check "$n: rewritten (a new current version)" test "$(vid "$k")" != "${EVID[$k]}"
    expect_eq "$(get_retention "$k")" "${ERET[$k]}" \
        "$n: its new version keeps mode and retain-until date (${ERET[$k]})"
done
for id in "${eids[@]}"; do
    rm -f "$TMPD/er.img"
    if erb "$K2" restore "rbd/$ENC@$id" --to-file "$TMPD/er.img" >/dev/null 2>"$TMPD/er.err"
    then
        expect_eq "$(file_sum "$TMPD/er.img")" "${ESUM[$id]}" \
            "$id restores byte-identical with the new key alone"
    else
        not_ok "$id restores with the new key alone"
        sed 's/^/#   /' "$TMPD/er.err"
    fi
done
rm -f "$TMPD/er.img"
erb "$K2" --format json verify "rbd/$ENC" >"$TMPD/v2.json" 2>"$TMPD/v2.err"
expect_eq "$?" 0 "verify with the new key alone exits 0"
expect_eq "$(prot "$TMPD/v2.json")" "$(prot "$TMPD/v1.json")" \
    "verify reports both protected until the same dates as before the rotation"
for k in "${ekeys[1]}" "${ekeys[2]}"; do
    n=${k#"$EBASE"}
    if s3api delete-object --bucket "$LBUCKET" --key "$k" --version-id "$(vid "$k")" \
            >"$TMPD/del.out" 2>&1; then
        not_ok "deleting the rewritten $n version is refused by the lock"
    else
        check "deleting the rewritten $n version is refused by the lock" \
            grep -qiE "AccessDenied|forbidden by object lock" "$TMPD/del.out"
    fi
done
# back to the first key with no object lock configured: the retentions are kept all the same
rb --bucket "$LBUCKET" --encryption aes-256-gcm --key-file "$K2" key rotate \
    --new-key-file "$K1" >"$TMPD/rot2.out" 2>"$TMPD/rot2.err"
expect_eq "$?" 0 "key rotate back without object lock configured exits 0"
kept=""
for k in "${ekeys[@]}"; do
    [ "$(get_retention "$k")" = "${ERET[$k]}" ] || kept="$kept ${k#"$EBASE"}($(get_retention "$k"))"
done
expect_eq "$kept" "" "... and each rewritten version still keeps its retention"

# a lock setting on a bucket without Object Lock: one line, exit 2, nothing written
rb -c "$TMPD/lock.conf" backup "$SRC" >"$TMPD/nl.out" 2>"$TMPD/nl.err"
expect_eq "$?" 2 "backup with object lock to a bucket without it exits 2"
expect_eq "$(wc -l <"$TMPD/nl.err")" 1 "with one line"
check "naming the bucket and the way out" \
    grep -qF "bucket $BUCKET has no Object Lock: create it with object lock enabled, or set object lock = none" "$TMPD/nl.err"
expect_eq "$(s3api list-objects-v2 --bucket "$BUCKET" --query 'length(Contents || `[]`)' --output text)" \
    0 "nothing written to that bucket"
expect_eq "$(s3api list-multipart-uploads --bucket "$BUCKET" --query 'length(Uploads || `[]`)' --output text)" \
    0 "no multipart upload left"

# bad settings: exit 2, one line each
bad_conf() { # DESC LINES...
    local desc=$1
    shift
    printf '[global]\n' >"$TMPD/bad.conf"
    printf '%s\n' "$@" >>"$TMPD/bad.conf"
    rb -c "$TMPD/bad.conf" --bucket "$LBUCKET" list >/dev/null 2>"$TMPD/bad.err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$TMPD/bad.err")" -eq 1 ]; then
        ok "$desc: exit 2, one line"
    else
        not_ok "$desc: exit 2, one line (got $rc)"
        sed 's/^/#   /' "$TMPD/bad.err"
    fi
}
bad_conf "object lock = bogus" "object lock = bogus" "object lock days = 1"
bad_conf "object lock = Governance (values are strict)" "object lock = Governance" \
    "object lock days = 1"
bad_conf "object lock days = 0" "object lock = governance" "object lock days = 0"
bad_conf "object lock days = 36501" "object lock = governance" "object lock days = 36501"
bad_conf "object lock days = 1d" "object lock = governance" "object lock days = 1d"
bad_conf "object lock without days" "object lock = compliance"
rb --bucket "$LBUCKET" --object-lock governance list >/dev/null 2>"$TMPD/bad.err"
expect_eq "$?" 2 "--object-lock without --object-lock-days exits 2"
rb -c "$TMPD/bad.conf" --bucket "$LBUCKET" --object-lock none list >/dev/null 2>&1
expect_eq "$?" 0 "--object-lock none on the command line overrides the config file"

done_testing
