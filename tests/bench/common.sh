# shellcheck shell=bash
# common.sh - sourced by tests/bench/run.sh: cleanup at exit, logging, the memory guard,
# commands run quietly or in the background, images, buckets and checksums. Definitions
# only; the state they use (TMPD, RESULTS, SB, BUCKETS, CHECK_*) is set up by run.sh.

# kill_tree PID...: TERM each PID and all its descendants (children first found, then killed)
kill_tree() {
    local p c
    for p in "$@"; do
        for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill_tree "$c"; done
        kill -TERM "$p" 2>/dev/null
    done
}

cleanup() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM
    [ -n "$WATCHDOG_PID" ] && kill_tree "$WATCHDOG_PID"
    local c
    for c in $(ps -o pid= --ppid "$MAIN_PID" 2>/dev/null); do kill_tree "$c"; done
    wait 2>/dev/null
    [ -e "$TMPD/memlow" ] && echo "$PROG: stopped because memory ran low (see --min-mem-mib)" >&2
    if [ -n "$OWN_SB" ]; then
        echo "$PROG: stopping the sandbox $OWN_SB" >&2
        timeout -k 10 120 "$REPO/tests/sandbox/sandbox.sh" stop "$OWN_SB" >/dev/null 2>&1 </dev/null
    elif [ -n "$SB" ] && [ -n "${SRC_CEPH_CONF:-}" ]; then
        local b conf name
        for b in "${BUCKETS[@]}"; do remove_bucket "$b" >/dev/null 2>&1; done
        for conf in "$SRC_CEPH_CONF" "$DST_CEPH_CONF"; do
            for name in $(timeout 60 rbd -c "$conf" ls rbd 2>/dev/null | grep -F -- "-$TAG"); do
                rm_image "$conf" "rbd/$name" >/dev/null 2>&1
            done
        done
    fi
    rm -rf "$TMPD"
    exit "$rc"
}

# ------------------------------------------------------------------ helpers
log() { printf '%s\n' "$*"; }
step() { printf '  .. %s\n' "$*"; }

mem_avail_mib() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }

# mem_guard WHAT: wait up to 5 min (other programs may free memory) for MIN_MEM_MIB of
# available memory, else stop the run rather than exhaust the machine.
mem_guard() {
    local waited=0
    while [ "$(mem_avail_mib)" -lt "$MIN_MEM_MIB" ]; do
        [ $waited -eq 0 ] && step "waiting for $MIN_MEM_MIB MiB of available memory (now $(mem_avail_mib)) before $1"
        [ $waited -ge 300 ] &&
            die "only $(mem_avail_mib) MiB of memory available before $1 (--min-mem-mib $MIN_MEM_MIB); stopping"
        sleep 5
        waited=$((waited + 5))
    done
}

rbd_src() { timeout "$CMD_TIMEOUT" rbd -c "$SRC_CEPH_CONF" "$@"; }
rbd_dst() { timeout "$CMD_TIMEOUT" rbd -c "$DST_CEPH_CONF" "$@"; }

# run_bg CMD...: run CMD (stdin /dev/null) in the background and wait for it, so that
# INT/TERM reach this script's trap at once rather than after CMD ends.
run_bg() {
    "$@" </dev/null &
    wait $!
}

# quiet CMD...: run CMD, stdout to $TMPD/log/qN.log (stderr to qN.log.err); on failure
# print their tails and stop the run.
QN=0
quiet() {
    QN=$((QN + 1))
    local f=$TMPD/log/q$QN.log
    if ! run_bg "$@" >"$f" 2>"$f.err"; then
        echo "$PROG: command failed: $*" >&2
        tail -n 20 "$f.err" "$f" | sed 's/^/    /' >&2
        exit 1
    fi
}

rm_image() { # CONF SPEC
    timeout 300 rbd -c "$1" snap purge --no-progress "$2" >/dev/null 2>&1
    timeout 300 rbd -c "$1" rm --no-progress "$2" >/dev/null 2>&1
}
rm_image_or_die() { rm_image "$@" || die "cannot remove image $2"; }

make_bucket() { # NAME
    quiet "$AWS" --endpoint-url "$S3_ENDPOINT" s3api create-bucket --bucket "$1"
    BUCKETS+=("$1")
}

remove_bucket() { # NAME: abort unfinished uploads, delete every object and the bucket
    local b=$1 k up
    timeout 120 "$AWS" --endpoint-url "$S3_ENDPOINT" s3api list-multipart-uploads \
        --bucket "$b" --output json 2>/dev/null \
        | jq -r '(.Uploads // [])[] | [.Key, .UploadId] | @tsv' 2>/dev/null \
        | while IFS=$'\t' read -r k up; do
            timeout 60 "$AWS" --endpoint-url "$S3_ENDPOINT" s3api abort-multipart-upload \
                --bucket "$b" --key "$k" --upload-id "$up" >/dev/null 2>&1
        done
    timeout 300 "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rb --force "s3://$b" >/dev/null 2>&1
    # free the deleted objects' RAM now rather than after RGW's garbage-collection delay
    timeout 300 radosgw-admin -c "$SRC_CEPH_CONF" gc process --include-all >/dev/null 2>&1
    return 0
}

bucket_bytes() { # BUCKET PREFIX
    timeout 120 "$AWS" --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 --bucket "$1" \
        --prefix "$2" --output json | jq '[(.Contents // [])[].Size] | add // 0'
}

# img_sha CONF SPEC: sha256 of `rbd export SPEC -` (openssl: sha256sum is 4x slower here)
img_sha() {
    local out
    out=$(timeout "$CMD_TIMEOUT" rbd -c "$1" export --no-progress "$2" - 2>"$TMPD/log/export.err" \
          | openssl dgst -sha256 -r) || { cat "$TMPD/log/export.err" >&2; return 1; }
    echo "${out%% *}"
}

# verify WHAT CONF SPEC EXPECTED: compare a restored image with the source's checksum.
verify() {
    local got
    got=$(img_sha "$2" "$3") || die "rbd export of $3 (to check $1) failed"
    if [ "$got" = "$4" ]; then
        CHECK_OK=$((CHECK_OK + 1))
        step "checksum ok: $1"
    else
        CHECK_BAD=$((CHECK_BAD + 1))
        CHECK_LIST+=("$1")
        echo "  !! CHECKSUM MISMATCH: $1: $3 has $got, the source $4" >&2
    fi
}

# json_field FILE FIELD
json_field() { jq -r ".$2 // empty" "$1"; }

# gen_image FILE SIZE SEED: the sparse data file (30% holes, 30% random, 40% text)
gen_image() { quiet "$PY" "$BENCH_DIR/gen_image.py" image "$1" "$2" --seed "$3"; }

# import_image FILE SPEC: sparse import into the source cluster (holes stay unallocated)
import_image() { quiet rbd_src import --no-progress --sparse-size 4K "$1" "$2"; }

written_bytes() { # FILE: bytes of data (non-hole) in a sparse file
    echo $(($(stat -c %b "$1") * 512))
}
