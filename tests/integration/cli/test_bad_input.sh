#!/usr/bin/env bash
# Bad input and unreachable services: documented exit code, exactly one line on stderr
# starting with "rbd2s3: ", and nothing changed (source snapshots, bucket, destination).
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img bad)
EXIST=rbd/$(img exists)
CASE_TIMEOUT=${CASE_TIMEOUT:-300}

require "create source image" create_image "$SRC" 16M
require "write data" write_random "$SRC" 0 4M
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
require "create an existing destination image" rbd_dst create --size 8 "$EXIST"
require "write data into it" write_random "$EXIST" 0 2M "$DST_CEPH_CONF"

state() {
    echo "== source snapshots"
    rbd_src snap ls --format json "$SRC" | jq -c '[.[] | {id, name}]'
    echo "== bucket"
    bucket_listing
    echo "== destination images"
    rbd_dst ls --format json rbd | jq -r '.[]' | LC_ALL=C sort
    echo "== destination image content"
    img_sum "$EXIST" "$DST_CEPH_CONF"
}

# a ceph.conf whose monitor nobody listens on (exit code 9)
sed -e 's/^\([[:space:]]*mon[ _]host[[:space:]]*=\).*/\1 v1:127.0.0.1:1/' \
    -e 's/^\([[:space:]]*mon[ _]addr[[:space:]]*=\).*/\1 v1:127.0.0.1:1/' \
    -e '/^[[:space:]]*client[ _]mount[ _]timeout/d' \
    -e 's/^\[global\]/[global]\nclient mount timeout = 10/' \
    "$SRC_CEPH_CONF" >"$TMPD/dead.conf"

# case DESC EXPECTED_CODE CMD...
case_() {
    local desc=$1 want=$2 rc t0 t1 lines before after
    shift 2
    before=$(state)
    t0=$(date +%s)
    "$@" >"$TMPD/case.out" 2>"$TMPD/case.err" </dev/null
    rc=$?
    t1=$(date +%s)
    after=$(state)
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        not_ok "$desc: finished within ${CASE_TIMEOUT}s"
    fi
    expect_eq "$rc" "$want" "$desc: exit code $want ($((t1 - t0))s)"
    lines=$(awk 'END { print NR }' "$TMPD/case.err")
    if [ "$lines" = 1 ] && head -n 1 "$TMPD/case.err" | grep -q '^rbd2s3: '; then
        ok "$desc: one error line: $(head -c 200 "$TMPD/case.err")"
    else
        not_ok "$desc: exactly one stderr line starting with 'rbd2s3: ' (got $lines lines)"
        head -n 15 "$TMPD/case.err" | sed 's/^/#   stderr: /'
    fi
    if [ "$before" = "$after" ]; then
        ok "$desc: nothing changed"
    else
        not_ok "$desc: nothing changed"
        diff <(echo "$before") <(echo "$after") | head -n 20 | sed 's/^/#   /'
    fi
}

# rbd2s3 with the sandbox's settings, bounded by CASE_TIMEOUT; leading --bucket B,
# --endpoint E, --ceph-conf C replace the sandbox's; --env VAR=VALUE sets a variable
rbx() {
    local bucket=$BUCKET endpoint=$S3_ENDPOINT conf=$SRC_CEPH_CONF
    local -a envs=()
    while :; do
        case ${1:-} in
            --env) envs+=("$2"); shift 2 ;;
            --bucket) bucket=$2; shift 2 ;;
            --endpoint) endpoint=$2; shift 2 ;;
            --ceph-conf) conf=$2; shift 2 ;;
            *) break ;;
        esac
    done
    env "${envs[@]}" timeout -k 5 "$CASE_TIMEOUT" "$RBD2S3" --ceph-conf "$conf" --endpoint "$endpoint" \
        --bucket "$bucket" --no-progress ${AWS_DEFAULT_REGION:+--region "$AWS_DEFAULT_REGION"} "$@"
}

case_ "usage error (unknown command)" 2 rbx frobnicate
case_ "lock duration not above lock renewal" 2 rbx --lock-duration 10s --lock-renewal 10s backup "$SRC"
case_ "run --lock-renewal above the duration" 2 rbx run --lock-duration 5s --lock-renewal 6s
case_ "run --due: not a duration" 2 rbx run --due soon
case_ "host with a colon" 2 rbx --host a:b backup "$SRC"
case_ "unknown pool" 3 rbx backup "nosuchpool-$TAG/$(img bad)"
case_ "unknown namespace" 3 rbx backup "rbd/nosuchns-$TAG/$(img bad)"
case_ "unknown image" 3 rbx backup "rbd/$(img nosuch)"
case_ "unknown backup id" 3 rbx restore "$SRC@20000101T000000Z" "rbd/$(img newdst)" \
    --dest-ceph-conf "$DST_CEPH_CONF"
case_ "wrong credentials (backup)" 4 rbx --env AWS_SECRET_ACCESS_KEY=wrong backup "$SRC"
case_ "wrong credentials (list)" 4 rbx --env AWS_SECRET_ACCESS_KEY=wrong list
case_ "missing bucket (backup)" 5 rbx --bucket "nosuch-$TAG" backup "$SRC"
case_ "missing bucket (list)" 5 rbx --bucket "nosuch-$TAG" list
case_ "unreachable endpoint (backup)" 6 rbx --retry-time 5s --endpoint http://127.0.0.1:1 backup "$SRC"
case_ "unreachable endpoint (restore)" 6 rbx --retry-time 5s --endpoint http://127.0.0.1:1 restore "$SRC" \
    "rbd/$(img newdst)" --dest-ceph-conf "$DST_CEPH_CONF"
case_ "destination image already exists" 7 rbx restore "$SRC" "$EXIST" \
    --dest-ceph-conf "$DST_CEPH_CONF"
case_ "source cluster unreachable" 9 rbx --ceph-conf "$TMPD/dead.conf" backup "$SRC"

check "the original backup still restores" \
    rb restore "$SRC" "rbd/$(img bad-r)" --dest-ceph-conf "$DST_CEPH_CONF"

done_testing
