#!/usr/bin/env bash
# copy --to-bucket: a chain of three backups copied server-side to a second bucket of the
# same RGW (our process moves almost nothing) restores byte-identical from it; a second
# run copies nothing (JSON counts, LastModified unchanged); streamed to another endpoint
# URL (the sandbox's https one); --to-prefix (a labelled backup keeps its labels); an
# interrupted copy (kill -9) leaves no manifest whose objects are missing, and a rerun
# completes; bad input exits 2.
. "$(dirname "$0")/../lib.sh"

NAME=$(img copy)
SRC=rbd/$NAME
B2="$BUCKET-2"
B3="$BUCKET-3"
B4="$BUCKET-4"
for b in "$B2" "$B3" "$B4"; do
    s3api create-bucket --bucket "$b" >/dev/null || bail "cannot create bucket $b"
done
B6="$BUCKET-6"
U2="" AK2="" SK2="" B5=""
cleanup_copy() {
    local b
    for b in "$B2" "$B3" "$B4"; do _remove_bucket "$b"; done
    _purge_versions "$B6"
    _remove_bucket "$B6"
    [ -z "$U2" ] && return
    AWS_ACCESS_KEY_ID=$AK2 AWS_SECRET_ACCESS_KEY=$SK2 _remove_bucket "$B5"
    timeout 60 radosgw-admin -c "$SRC_CEPH_CONF" user rm --uid="$U2" --purge-data >/dev/null 2>&1
}
trap 'rc=$?; [ "${KEEP:-0}" = 1 ] || cleanup_copy; (exit $rc); _lib_exit' EXIT

listing_of() { # BUCKET: "key size etag lastmodified" lines, sorted
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 \
        --bucket "$1" --output json \
        | jq -r '(.Contents // [])[] | "\(.Key) \(.Size) \(.ETag) \(.LastModified)"' \
        | LC_ALL=C sort
}

# Every manifest in BUCKET names only objects that are there, with their sizes.
manifests_complete() { # BUCKET
    local b=$1 k m
    listing_of "$b" | awk '{print $1, $2}' >"$TMPD/have.$b"
    for k in $(awk '$1 ~ /manifest\.json$/ {print $1}' "$TMPD/have.$b"); do
        m=$(timeout 60 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp "s3://$b/$k" - ) ||
            return 1
        jq -r '(.data_objects[] | "\(.key) \(.size)"), "\(.index.key) \(.index.size)"' \
            <<<"$m" | while read -r line; do
                grep -qxF "$line" "$TMPD/have.$b" || { echo "$k names missing $line"; exit 1; }
            done || return 1
    done
}

restore_sum() { # BUCKET SPEC@ID NAME [extra global args]: the sha256 of the restored image
    local b=$1 at=$2 dst=rbd/$(img "$3")
    shift 3
    rb --bucket "$b" "$@" restore "$at" "$dst" --dest-ceph-conf "$DST_CEPH_CONF" \
        >/dev/null 2>"$TMPD/restore.$b.err" || { tail -n 3 "$TMPD/restore.$b.err" >&2; return 1; }
    img_sum "$dst" "$DST_CEPH_CONF"
}

require "create a 64 MiB source image" create_image "$SRC" 64M
require "write random data" write_random "$SRC" 0 24M
IDS=() SUMS=()
for i in 1 2 3; do
    [ "$i" = 1 ] || require "random writes" rand_writes "$SRC" 8 1M
    if do_backup "$SRC"; then ok "backup $i ($BK_ID)"; else not_ok "backup $i"; done_testing; fi
    IDS+=("$BK_ID")
    SUMS+=("$(img_sum "$SRC@rbd2s3-$BK_ID")")
done

# --- server-side to a second bucket of the same endpoint
if rb --format json copy "$SRC" --to-bucket "$B2" >"$TMPD/c1.json" 2>"$TMPD/c1.err"; then
    ok "copy to $B2"
else
    not_ok "copy to $B2"; tail -n 5 "$TMPD/c1.err" | sed 's/^/#   /'
fi
expect_eq "$(jq -r .mode "$TMPD/c1.json")" server-side "same endpoint and keys: server-side"
expect_eq "$(jq -r .backups_copied "$TMPD/c1.json")" 3 "three backups copied"
COPIED=$(jq -r .bytes_copied "$TMPD/c1.json")
MOVED=$(jq -r .bytes_transferred "$TMPD/c1.json")
check "the bytes copied are the data ($COPIED bytes)" test "$COPIED" -gt $((24 << 20))
check "our process moved a tiny part of them ($MOVED bytes)" test $((MOVED * 100)) -lt "$COPIED"
expect_eq "$(listing_of "$B2" | awk '{print $1, $2, $3}')" \
    "$(listing_of "$BUCKET" | awk '{print $1, $2, $3}')" \
    "the second bucket holds the same keys, sizes and ETags"
expect_eq "$(restore_sum "$B2" "$SRC@${IDS[2]}" r3)" "${SUMS[2]}" \
    "the newest (a chain of 3) restores byte-identical from $B2"
expect_eq "$(restore_sum "$B2" "$SRC@${IDS[0]}" r1)" "${SUMS[0]}" \
    "the full restores byte-identical from $B2"

# --- a second run copies nothing
listing_of "$B2" >"$TMPD/before"
if rb --format json copy "$SRC" --to-bucket "$B2" >"$TMPD/c2.json" 2>"$TMPD/c2.err"; then
    ok "second copy run"
else
    not_ok "second copy run"; tail -n 5 "$TMPD/c2.err" | sed 's/^/#   /'
fi
expect_eq "$(jq -c '[.backups_copied, .backups_present, .objects_copied, .bytes_copied]' \
    "$TMPD/c2.json")" "[0,3,0,0]" "second run: nothing copied, three backups present"
expect_eq "$(listing_of "$B2")" "$(cat "$TMPD/before")" "second run: LastModified unchanged"
rb copy "$SRC" --to-bucket "$B2" >/dev/null 2>"$TMPD/c2t.err"
check "the text report says so" grep -q "3 backups already present" "$TMPD/c2t.err"

# --- streamed to another endpoint URL (https), one backup with its chain
if [ -n "${S3_TLS_ENDPOINT:-}" ]; then
    if rb --ca-file "$S3_TLS_CA" --format json copy "$SRC@${IDS[1]}" --to-bucket "$B3" \
            --to-endpoint "$S3_TLS_ENDPOINT" >"$TMPD/c3.json" 2>"$TMPD/c3.err"; then
        ok "streamed copy to $S3_TLS_ENDPOINT"
    else
        not_ok "streamed copy"; tail -n 5 "$TMPD/c3.err" | sed 's/^/#   /'
    fi
    expect_eq "$(jq -r .mode "$TMPD/c3.json")" streamed "another endpoint: streamed"
    expect_eq "$(jq -c '[.backups[].id]' "$TMPD/c3.json")" \
        "[\"${IDS[0]}\",\"${IDS[1]}\"]" "the backup and its parent, parent first"
    expect_eq "$(listing_of "$B3" | awk '{print $1, $2, $3}')" \
        "$(listing_of "$BUCKET" | grep -v "/${IDS[2]}/" | awk '{print $1, $2, $3}')" \
        "streamed copies keep sizes and ETags"
    expect_eq "$(restore_sum "$B3" "$SRC@${IDS[1]}" r2)" "${SUMS[1]}" \
        "the streamed copy restores byte-identical"
else
    ok "# SKIP no https endpoint in this sandbox"
fi

# --- same endpoint, another user's keys (config file, then environment): streamed
AK2=CP${TAG^^} SK2=copysecret-$TAG-0123456789
AK2=${AK2:0:20}
B5="$BUCKET-5"
if timeout 60 radosgw-admin -c "$SRC_CEPH_CONF" user create --uid="copy-$TAG" \
        --display-name="copy-$TAG" --access-key="$AK2" --secret="$SK2" >/dev/null 2>&1; then
    U2=copy-$TAG
    AWS_ACCESS_KEY_ID=$AK2 AWS_SECRET_ACCESS_KEY=$SK2 s3api create-bucket --bucket "$B5" \
        >/dev/null || bail "cannot create $B5 as $U2"
    printf '[global]\nto access key = %s\nto secret key = %s\n' "$AK2" "$SK2" >"$TMPD/to.conf"
    chmod 600 "$TMPD/to.conf"
    if rb -c "$TMPD/to.conf" --format json copy "$SRC@${IDS[0]}" --to-bucket "$B5" \
            >"$TMPD/c6.json" 2>"$TMPD/c6.err"; then
        ok "copy with the destination's keys from the config file"
    else
        not_ok "copy with the config file's keys"; tail -n 3 "$TMPD/c6.err" | sed 's/^/#   /'
    fi
    expect_eq "$(jq -r '.mode + " " + (.backups_copied | tostring)' "$TMPD/c6.json")" \
        "streamed 1" "other credentials on the same endpoint: streamed"
    RBD2S3_TO_ACCESS_KEY_ID=$AK2 RBD2S3_TO_SECRET_ACCESS_KEY=$SK2 \
        rb --format json copy "$SRC@${IDS[1]}" --to-bucket "$B5" >"$TMPD/c7.json" 2>"$TMPD/c7.err"
    expect_eq "$(jq -c '[.mode, .backups_copied, .backups_present]' "$TMPD/c7.json")" \
        '["streamed",1,1]' "keys from the environment: the parent already present"
    expect_rc 4 "the source's keys cannot write the other user's bucket" nokeys \
        copy "$SRC" --to-bucket "$B5"
else
    ok "# SKIP radosgw-admin cannot create a second user here"
fi

# --- a part size that cannot be the backup's (5632K: as many parts, cut elsewhere): the
# copy's ETags differ from the manifest's, the completion's are checked; a rerun skips
for run in 1 2; do
    rb --part-size 5632K --format json copy "$SRC@${IDS[0]}" --to-bucket "$B2" \
        --to-prefix layout >"$TMPD/c8.$run.json" 2>"$TMPD/c8.$run.err" ||
        tail -n 3 "$TMPD/c8.$run.err" | sed 's/^/#   /'
done
expect_eq "$(jq -c '[.backups_copied, .objects_copied]' "$TMPD/c8.1.json")" "[1,2]" \
    "copied in other parts"
expect_eq "$(jq -c '[.backups_present, .objects_copied]' "$TMPD/c8.2.json")" "[1,0]" \
    "the rerun copies nothing"
expect_eq "$(restore_sum "$B2" "$SRC@${IDS[0]}" r8 --prefix layout)" "${SUMS[0]}" \
    "the copy in other parts restores byte-identical"

# --- object lock: the copies carry the configured retention
s3api create-bucket --bucket "$B6" --object-lock-enabled-for-bucket >/dev/null ||
    bail "cannot create $B6 with Object Lock"
check "copy into a bucket with Object Lock, object lock = governance" \
    rb --object-lock governance --object-lock-days 1 copy "$SRC@${IDS[0]}" --to-bucket "$B6"
for k in $(listing_of "$B6" | awk '{print $1}'); do
    echo "$(s3api head-object --bucket "$B6" --key "$k" --output json |
            jq -r '.ObjectLockMode // "none"') $k"
done >"$TMPD/locks"
expect_eq "$(awk '{print $1}' "$TMPD/locks" | sort -u)" GOVERNANCE \
    "every copied object is retained ($(wc -l <"$TMPD/locks") objects)"
expect_rc 2 "object lock asked, destination without it" nolock \
    --object-lock governance --object-lock-days 1 copy "$SRC@${IDS[0]}" --to-bucket "$B3"

# --- another prefix: manifests rewritten for their new keys
if rb copy "$SRC@${IDS[0]}" --to-bucket "$B2" --to-prefix other >/dev/null 2>"$TMPD/c5.err"
then ok "copy under another prefix"; else not_ok "copy under another prefix"
    tail -n 3 "$TMPD/c5.err" | sed 's/^/#   /'; fi
expect_eq "$(restore_sum "$B2" "$SRC@${IDS[0]}" r5 --prefix other)" "${SUMS[0]}" \
    "the copy under another prefix restores byte-identical"

# --- a labelled backup under another prefix (its manifest rewritten): the labels come
# along (the rewrite once freed them twice)
LAB=rbd/$(img lab)
require "create a labelled source image" create_image "$LAB" 8M
require "write random data" write_random "$LAB" 0 2M
do_backup "$LAB" --label env=prod --label tier=gold || { not_ok "labelled backup"; done_testing; }
LAB_ID=$BK_ID
LSUM=$(img_sum "$LAB@rbd2s3-$LAB_ID")
if rb copy "$LAB" --to-bucket "$B2" --to-prefix lab >/dev/null 2>"$TMPD/c9.err"
then ok "copy a labelled backup under another prefix"; else not_ok "copy a labelled backup"
    tail -n 3 "$TMPD/c9.err" | sed 's/^/#   /'; fi
expect_eq "$(restore_sum "$B2" "$LAB@$LAB_ID" rlab --prefix lab)" "$LSUM" \
    "the labelled backup restores byte-identical from the copy"
expect_eq "$(rb --bucket "$B2" --prefix lab --format json list "$LAB" |
             jq -c '[.backups[].labels]')" '[{"env":"prod","tier":"gold"}]' \
    "list shows the labels in the copy"

# --- storage class: the copied data objects get the configured one (server-side too)
check "copy with --storage-class STANDARD_IA" rb --storage-class STANDARD_IA \
    copy "$SRC@${IDS[0]}" --to-bucket "$B3" --to-prefix sc
SCKEY=$(listing_of "$B3" | awk '$1 ~ /^sc\// && $1 ~ /\/data\.0$/ {print $1}')
expect_eq "$(s3api head-object --bucket "$B3" --key "$SCKEY" --output json |
             jq -r '.StorageClass // "STANDARD"')" STANDARD_IA \
    "the copied data object is in STANDARD_IA ($SCKEY)"

# --- the destination holds another backup under the same id: exit 8, nothing touched
MKEY=$(listing_of "$B2" | awk -v id="/${IDS[0]}/" '$1 ~ id && $1 ~ /manifest\.json$/ &&
       $1 !~ /^(layout|other|lab)\// {print $1}')
/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp "s3://$B2/$MKEY" - 2>/dev/null \
    >"$TMPD/mine.json"
DKEY=$(jq -r '.data_objects[0].key' "$TMPD/mine.json")
head -c 100000 /dev/urandom >"$TMPD/other.data"
check "another backup's data object in the destination ($DKEY)" \
    s3api put-object --bucket "$B2" --key "$DKEY" --body "$TMPD/other.data" --output text
OETAG=$(s3api head-object --bucket "$B2" --key "$DKEY" --output json | jq -r .ETag)
jq -c --argjson e "$OETAG" '.data_objects[0].size = 100000 | .data_objects[0].etag = $e' \
    "$TMPD/mine.json" >"$TMPD/forged.json"
check "and its manifest ($MKEY)" \
    s3api put-object --bucket "$B2" --key "$MKEY" --body "$TMPD/forged.json" --output text
listing_of "$B2" | grep -v "manifest\.json" >"$TMPD/before.forged"
expect_rc 8 "copy onto another backup with the same id" forged \
    copy "$SRC@${IDS[0]}" --to-bucket "$B2"
expect_eq "$(wc -l <"$TMPD/forged.err")" 1 "another backup: one line"
check "the line names the backup" grep -q "${IDS[0]}" "$TMPD/forged.err"
expect_eq "$(listing_of "$B2" | grep -v "manifest\.json")" "$(cat "$TMPD/before.forged")" \
    "another backup: the destination's objects untouched (LastModified, ETags)"
expect_eq "$(/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp "s3://$B2/$MKEY" - |
             jq -c .)" "$(cat "$TMPD/forged.json")" "another backup: its manifest kept"

# --- interrupted: kill -9 as the second backup's first data object starts, then rerun
mkfifo "$TMPD/fifo"
"$RBD2S3" "${RB_ARGS[@]}" -v --ca-file "$S3_TLS_CA" copy "$SRC" --to-bucket "$B4" \
    --to-endpoint "${S3_TLS_ENDPOINT:-$S3_ENDPOINT}" >/dev/null 2>"$TMPD/fifo" &
PID=$!
while IFS= read -r line; do
    echo "$line" >>"$TMPD/c4k.err"
    case $line in *"/${IDS[1]}/data.0: copying"*) kill -9 "$PID"; break ;; esac
done <"$TMPD/fifo"
{ wait "$PID"; } 2>/dev/null
NMAN=$(listing_of "$B4" | grep -c 'manifest\.json')
diag "after kill -9: $(listing_of "$B4" | wc -l) objects, $NMAN manifests"
check "the copy was cut mid-way ($NMAN of 3 manifests)" test "$NMAN" -lt 3
check "after kill -9 no manifest names a missing object" manifests_complete "$B4"
if rb --ca-file "$S3_TLS_CA" --format json copy "$SRC" --to-bucket "$B4" \
        --to-endpoint "${S3_TLS_ENDPOINT:-$S3_ENDPOINT}" >"$TMPD/c4.json" 2>"$TMPD/c4.err"; then
    ok "the rerun completes"
else
    not_ok "the rerun completes"; tail -n 5 "$TMPD/c4.err" | sed 's/^/#   /'
fi
expect_eq "$(jq '.backups_copied + .backups_present' "$TMPD/c4.json")" 3 \
    "the rerun ends with three backups"
check "every manifest complete after the rerun" manifests_complete "$B4"
expect_eq "$(restore_sum "$B4" "$SRC@${IDS[2]}" r4)" "${SUMS[2]}" \
    "the interrupted and rerun copy restores byte-identical"

# --- an encrypted image: its head object comes along; the newest restores from the copy
ENC=rbd/$(img enc)
KEYF=$TMPD/master.key
require "key create" rb key create "$KEYF"
require "create an encrypted source image" create_image "$ENC" 16M
require "write random data" write_random "$ENC" 0 4M
for i in 1 2; do
    [ "$i" = 1 ] || require "random writes" rand_writes "$ENC" 4 256K
    do_backup "$ENC" --encryption aes-256-gcm --key-file "$KEYF" ||
        { not_ok "encrypted backup $i"; done_testing; }
done
ESUM=$(img_sum "$ENC@rbd2s3-$BK_ID")
check "copy the encrypted image, without its key" rb copy "$ENC" --to-bucket "$B2"
check "and with its key (the chain authenticated first)" \
    rb --key-file "$KEYF" copy "$ENC" --to-bucket "$B3"
check "its head object was copied" \
    test -n "$(listing_of "$B2" | grep "/$(img enc)/head.json")"
expect_eq "$(restore_sum "$B2" "$ENC" renc --key-file "$KEYF")" "$ESUM" \
    "the newest encrypted backup restores byte-identical from the copy (head checked)"
# key rotate rewrites the source's manifests: a copy again takes them as the same backups
# (same objects) and rewrites only the manifests (and the head)
K2=$TMPD/master2.key
require "key create (2)" rb key create "$K2"
require "key rotate" rb --key-file "$KEYF" key rotate "$ENC" --new-key-file "$K2"
rb --format json copy "$ENC" --to-bucket "$B2" >"$TMPD/crot.json" 2>"$TMPD/crot.err" ||
    tail -n 3 "$TMPD/crot.err" | sed 's/^/#   /'
expect_eq "$(jq -c '[.backups_copied, .objects_copied]' "$TMPD/crot.json")" "[2,0]" \
    "after key rotate: two manifests rewritten, no object copied"
expect_eq "$(restore_sum "$B2" "$ENC" renc2 --key-file "$K2")" "$ESUM" \
    "after key rotate: the copy restores with the new key"
expect_rc 2 "an encrypted backup under another prefix" encpfx --key-file "$K2" \
    copy "$ENC" --to-bucket "$B2" --to-prefix other2

# --- bad input: one line, exit 2
expect_rc 2 "no --to-bucket" nobucket copy "$SRC"
expect_eq "$(wc -l <"$TMPD/nobucket.err")" 1 "no --to-bucket: one line"
expect_rc 2 "the source itself" same copy "$SRC" --to-bucket "$BUCKET"
expect_eq "$(wc -l <"$TMPD/same.err")" 1 "the source itself: one line"
expect_rc 2 "a bad URL" badurl copy "$SRC" --to-bucket "$B2" --to-endpoint "s3:/x"
expect_eq "$(wc -l <"$TMPD/badurl.err")" 1 "a bad URL: one line"
for kv in "to access key" "to secret key"; do
    printf '[global]\n%s = x\n' "$kv" >"$TMPD/half.conf"
    chmod 600 "$TMPD/half.conf"
    n=half${kv// /}
    expect_rc 2 "only $kv set" "$n" -c "$TMPD/half.conf" copy "$SRC" --to-bucket "$B2"
    check "only $kv: the error names the other" grep -q "to access key.*to secret key" \
        "$TMPD/$n.err"
done
RBD2S3_TO_SECRET_ACCESS_KEY=x expect_rc 2 "only RBD2S3_TO_SECRET_ACCESS_KEY set" halfenv \
    copy "$SRC" --to-bucket "$B2"
expect_eq "$(wc -l <"$TMPD/halfenv.err")" 1 "a half key pair: one line"

done_testing
