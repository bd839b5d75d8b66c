# shellcheck shell=bash
# lib.sh - sourced by every tests/integration/**/test_*.sh script, as
# `. "$(dirname "$0")/../lib.sh"` from a subject folder (backup/, restore/, ...), or as
# `. "$(dirname "$0")/lib.sh"` by a script not yet filed into one.
#
# Provides:
#   REPO, RBD2S3            the repository and the binary under test (env RBD2S3 overrides)
#   TEST_DIR                the running script's folder (its helpers sit beside it)
#   sandbox                 uses the running sandbox in $SANDBOX_DIR (sources its env.sh);
#                           without SANDBOX_DIR it starts a private one and stops it at exit
#   BUCKET                  a fresh bucket for this script (created; removed at exit)
#   TAG, img NAME           unique image names: "$(img chain)" -> chain-<TAG>; every image
#                           whose name contains TAG is removed from both clusters at exit
#   TMPD                    a private temp dir (removed at exit)
#   rb ARGS...              ./rbd2s3 --ceph-conf $SRC_CEPH_CONF --endpoint $S3_ENDPOINT
#                           --bucket $BUCKET --no-progress ARGS...  (bounded by RB_TIMEOUT)
#   do_backup SPEC [ARGS]   rb --format json backup SPEC ARGS; sets BK_ID, BK_TYPE,
#                           BK_PARENT, BK_JSON (file); returns rb's exit code
#   rbd_src / rbd_dst       rbd -c $SRC_CEPH_CONF / rbd -c $DST_CEPH_CONF
#   create_image SPEC SIZE [rbd create options]     on the source cluster
#   write_random SPEC OFF LEN [CONF]   random bytes at OFF (via rbd import-diff)
#   rand_writes SPEC COUNT LEN [CONF]  COUNT writes of LEN random bytes at random offsets
#   discard SPEC OFF LEN [CONF]        a zero/discard record over [OFF, OFF+LEN)
#   write_ops SPEC OP...               w:OFF:LEN random, t:OFF:LEN text, z:OFF:LEN discard
#   grow SPEC SIZE [CONF]              rbd resize
#   img_sum SPEC [CONF]     sha256 of `rbd export SPEC -` (a unique junk value on failure)
#   img_field SPEC FIELD [CONF]        a field of `rbd info --format json`
#   snap_names SPEC [CONF]  snapshot names, one a line
#   bucket_keys [PREFIX]    keys in $BUCKET (via the aws CLI), sorted
#   bucket_listing          "key size etag" lines, sorted (to compare before/after)
#   key_prefix SPEC ID      <prefix>/<pool>[/<ns>]/<image>/<id>/ for simple names
#   locked_bucket [DAYS]    $BUCKET again, with Object Lock (so versioned), and a default
#                           retention GOVERNANCE DAYS when given; every version of it is
#                           removed at exit (--bypass-governance-retention)
#   lock_default [DAYS]     set (or with no DAYS remove) that default retention
# TAP:
#   ok DESC | not_ok DESC | diag TEXT | check DESC CMD... | expect_eq GOT WANT DESC
#   expect_rc WANT DESC NAME ARGS...   rb ARGS (stdout, stderr in $TMPD/NAME.out, .err)
#                           exits WANT, else not ok with the end of its stderr
#   wait_line PID FILE PATTERN SECS WHAT   a background run's stderr FILE gets a line
#                           matching PATTERN: 0; else PID reaped, diagnostics, 1
#   require DESC CMD...     like check, but stops the script (done_testing) on failure
#   bail REASON             "Bail out!" and exit 1
#   done_testing            plan line, summary, exit 1 if anything failed (or nothing ran)
# Sizes accept K/M/G suffixes (powers of 1024). KEEP=1 keeps images, bucket and temp dir.

set -u -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LIB_DIR/../.." && pwd)
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
RBD2S3=${RBD2S3:-$REPO/rbd2s3}
TEST_NAME=$(basename "$0" .sh)
TAG="t$$r$RANDOM"
RB_TIMEOUT=${RB_TIMEOUT:-600}
PREFIX=${PREFIX:-rbd2s3}

_T_N=0
_T_FAIL=0
_LIB_OWN_SB=""
BUCKET=""
TMPD=$(mktemp -d "/tmp/rbd2s3-${TEST_NAME#test_}.XXXXXX")

# ---------------------------------------------------------------- TAP
# ok not_ok skip diag check expect_eq silent none done_testing: tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
bail()   { echo "Bail out! $TEST_NAME: $*"; exit 1; }

# require DESC CMD...: check, and end the script if it failed.
require() {
    check "$@" && return 0
    diag "cannot go on after this failure"
    done_testing
}

# wait_line PID FILE PATTERN SECS WHAT: 0 once a line of FILE (the stderr of the
# background process PID) matches PATTERN (grep -E); else, when PID ends or SECS pass,
# 1 with PID reaped and the end of FILE as diagnostics ("the restore did not WHAT").
wait_line() {
    local pid=$1 file=$2 pattern=$3 secs=$4 what=$5 t
    for ((t = 0; t < secs * 5; t++)); do
        grep -qE "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    wait "$pid" 2>/dev/null
    diag "the restore did not $what (exit $?):"
    tail -n 5 "$file" | sed 's/^/#   /'
    return 1
}

# expect_rc WANT DESC NAME ARGS...: rb ARGS with stdout/stderr in $TMPD/NAME.*
# (rb is defined below; it is looked up when expect_rc runs)
expect_rc() {
    local want=$1 desc=$2 n=$3 rc
    shift 3
    rb "$@" >"$TMPD/$n.out" 2>"$TMPD/$n.err"
    rc=$?
    expect_eq "$rc" "$want" "$desc: exit $want" || tail -n 5 "$TMPD/$n.err" | sed 's/^/#   /'
}

# Build the LD_PRELOAD fault shim snap_shim.c of the script's folder into
# $TMPD/snap_shim.so; without a C compiler (or when it fails) the whole script is
# skipped, the compiler's errors shown as diagnostics.
need_snap_shim() {
    if ! command -v cc >/dev/null ||
        ! cc -shared -fPIC -o "$TMPD/snap_shim.so" "$TEST_DIR/snap_shim.c" -ldl \
            2>"$TMPD/cc.err"; then
        sed 's/^/# /' "$TMPD/cc.err" 2>/dev/null
        echo "1..0 # SKIP no C compiler to build the fault shim"
        exit 0
    fi
}

# ---------------------------------------------------------------- sizes
to_bytes() {
    local v=$1 n u
    n=${v%[KkMmGgTt]}
    u=${v#"$n"}
    case $u in
        "") echo "$n" ;;
        K|k) echo $((n * 1024)) ;;
        M|m) echo $((n * 1024 * 1024)) ;;
        G|g) echo $((n * 1024 * 1024 * 1024)) ;;
        T|t) echo $((n * 1024 * 1024 * 1024 * 1024)) ;;
    esac
}

# ---------------------------------------------------------------- cleanup
_purge_images() { # CONF POOLSPEC...
    local conf=$1 spec name snap
    shift
    for _ in 1 2 3; do
        for spec in "$@"; do
            for name in $(timeout 60 rbd -c "$conf" ls --format json "$spec" 2>/dev/null \
                          | jq -r '.[]' 2>/dev/null | grep -F -- "$TAG"); do
                for snap in $(timeout 60 rbd -c "$conf" snap ls --format json "$spec/$name" \
                              2>/dev/null | jq -r '.[].name' 2>/dev/null); do
                    timeout 60 rbd -c "$conf" snap unprotect "$spec/$name@$snap" >/dev/null 2>&1
                done
                timeout 60 rbd -c "$conf" snap purge --no-progress "$spec/$name" >/dev/null 2>&1
                timeout 60 rbd -c "$conf" rm --no-progress "$spec/$name" >/dev/null 2>&1
            done
        done
    done
}

_remove_bucket() {
    local b=$1 up
    [ -n "$b" ] || return 0
    timeout 60 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-multipart-uploads \
        --bucket "$b" --output json 2>/dev/null \
        | jq -r '(.Uploads // [])[] | [.Key, .UploadId] | @tsv' 2>/dev/null \
        | while IFS=$'\t' read -r k up; do
            timeout 60 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api abort-multipart-upload \
                --bucket "$b" --key "$k" --upload-id "$up" >/dev/null 2>&1
        done
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 rb --force "s3://$b" \
        >/dev/null 2>&1
}

_lib_exit() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM   # a second signal must not cut the cleanup short
    # kill any background job we started (e.g. a stalled agent)
    local j
    for j in $(jobs -p); do { kill -9 "$j"; wait "$j"; } 2>/dev/null; done
    if [ "${KEEP:-0}" != 1 ] && [ -n "${SRC_CEPH_CONF:-}" ]; then
        _purge_images "$SRC_CEPH_CONF" rbd rbd2 rbd/ns1
        _purge_images "$DST_CEPH_CONF" rbd
        _remove_bucket "$BUCKET"
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "# KEEP=1: kept bucket $BUCKET, images *$TAG*, temp dir $TMPD"
    else
        rm -rf "$TMPD"
    fi
    if [ -n "$_LIB_OWN_SB" ]; then
        timeout -k 10 120 "$REPO/tests/sandbox/sandbox.sh" stop "$_LIB_OWN_SB" \
            >/dev/null 2>&1 </dev/null
        rm -rf "$_LIB_OWN_SB"
    fi
    exit $rc
}
trap _lib_exit EXIT
trap 'echo "# interrupted"; exit 130' INT
trap 'echo "# terminated"; exit 143' TERM

# ---------------------------------------------------------------- the S3 server
# RBD2S3_TEST_S3=s3rver: the bucket (and every aws CLI check) is on s3rver
# (tests/sandbox/s3rver.sh; its env.sh is sourced from RBD2S3_S3RVER_DIR unless
# RBD2S3_S3RVER_ENDPOINT is set), Ceph stays the sandbox's; TAP lines say "[s3rver]".
# Default (unset or "rgw"): the sandbox's RGW.
S3_SERVER=${RBD2S3_TEST_S3:-rgw}
_T_TAG=""
_s3_server_switch() {
    case $S3_SERVER in
        rgw) return 0 ;;
        s3rver) ;;
        *) bail "RBD2S3_TEST_S3=$S3_SERVER: expected rgw or s3rver" ;;
    esac
    if [ -z "${RBD2S3_S3RVER_ENDPOINT:-}" ] && [ -f "${RBD2S3_S3RVER_DIR:-}/env.sh" ]; then
        # shellcheck disable=SC1091
        . "$RBD2S3_S3RVER_DIR/env.sh"
    fi
    [ -n "${RBD2S3_S3RVER_ENDPOINT:-}" ] ||
        bail "RBD2S3_TEST_S3=s3rver without RBD2S3_S3RVER_ENDPOINT (tests/sandbox/s3rver.sh)"
    export S3_ENDPOINT=$RBD2S3_S3RVER_ENDPOINT
    export AWS_ACCESS_KEY_ID=$RBD2S3_S3RVER_ACCESS_KEY
    export AWS_SECRET_ACCESS_KEY=$RBD2S3_S3RVER_SECRET_KEY
    unset S3_TLS_ENDPOINT S3_TLS_CA
    _T_TAG="[s3rver] "
}

# rgw_only REASON: on another S3 server than RGW, skip the whole script (TAP plan 1..0).
rgw_only() {
    [ "$S3_SERVER" = rgw ] && return 0
    echo "1..0 # SKIP [$S3_SERVER] $TEST_NAME: $*"
    exit 0
}

# on_rgw: true when the bucket is on the sandbox's RGW (for a single RGW-only check:
# `on_rgw && check ... || skip DESC REASON`).
on_rgw() { [ "$S3_SERVER" = rgw ]; }

# skip DESC REASON: a TAP "ok" marked SKIP.
skip() { ok "$1 # SKIP [$S3_SERVER] $2"; }

# ---------------------------------------------------------------- setup
[ -x "$RBD2S3" ] || bail "$RBD2S3 is not built"
command -v jq >/dev/null || bail "jq missing (tests/install-deps.sh)"

if [ -z "${SANDBOX_DIR:-}" ]; then
    SANDBOX_DIR=$(mktemp -d /tmp/rbd2s3-sb.XXXXXX)
    _LIB_OWN_SB=$SANDBOX_DIR
    echo "# starting a private sandbox in $SANDBOX_DIR"
    if ! timeout -k 10 300 "$REPO/tests/sandbox/sandbox.sh" start "$SANDBOX_DIR" \
            >"$TMPD/sandbox.log" 2>&1 </dev/null; then
        tail -n 20 "$TMPD/sandbox.log" | sed 's/^/# /'
        bail "could not start a sandbox"
    fi
fi
[ -f "$SANDBOX_DIR/env.sh" ] || bail "no $SANDBOX_DIR/env.sh: is the sandbox running?"
# shellcheck disable=SC1091
. "$SANDBOX_DIR/env.sh"
for v in SRC_CEPH_CONF DST_CEPH_CONF S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    [ -n "${!v:-}" ] || bail "$SANDBOX_DIR/env.sh does not set $v"
done
_s3_server_switch
if ! declare -F s3api >/dev/null; then
    s3api() { /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api "$@"; }
fi
if ! declare -F s3cmd_sb >/dev/null; then
    bail "$SANDBOX_DIR/env.sh does not define s3cmd_sb"
fi

BUCKET=$(echo "rbd2s3-${TEST_NAME#test_}-$TAG" | tr '_A-Z' '-a-z' | cut -c1-63)
timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api create-bucket --bucket "$BUCKET" \
    >"$TMPD/mb.log" 2>&1 || { cat "$TMPD/mb.log" | sed 's/^/# /'; BUCKET=""; bail "cannot create bucket"; }
echo "# ${_T_TAG}$TEST_NAME: bucket $BUCKET on $S3_ENDPOINT, image tag $TAG, sandbox $SANDBOX_DIR"

RB_ARGS=(--ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_ENDPOINT" --bucket "$BUCKET" --no-progress)
[ -n "${AWS_DEFAULT_REGION:-}" ] && RB_ARGS+=(--region "$AWS_DEFAULT_REGION")

# ---------------------------------------------------------------- helpers
img() { echo "$1-$TAG"; }

rb() { timeout --foreground -k 5 "$RB_TIMEOUT" "$RBD2S3" "${RB_ARGS[@]}" "$@"; }

rbd_src() { timeout 600 rbd -c "$SRC_CEPH_CONF" "$@"; }
rbd_dst() { timeout 600 rbd -c "$DST_CEPH_CONF" "$@"; }

_BK_N=0
do_backup() { # SPEC [backup args...]; sets BK_ID BK_TYPE BK_PARENT BK_JSON
    local rc
    _BK_N=$((_BK_N + 1))
    BK_JSON=$TMPD/backup.$_BK_N.json
    BK_ID="" BK_TYPE="" BK_PARENT=""
    rb --format json backup "$@" >"$BK_JSON" 2>"$TMPD/backup.$_BK_N.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        diag "rbd2s3 backup $* failed with exit code $rc:"
        tail -n 20 "$TMPD/backup.$_BK_N.err" | sed 's/^/#   /'
        return $rc
    fi
    if ! jq -e . "$BK_JSON" >/dev/null 2>&1; then
        diag "rbd2s3 --format json backup $* printed no valid JSON:"
        head -c 2000 "$BK_JSON" | sed 's/^/#   /'
        return 1
    fi
    BK_ID=$(jq -r '.id // empty' "$BK_JSON")
    BK_TYPE=$(jq -r '.type // empty' "$BK_JSON")
    BK_PARENT=$(jq -r '.parent // "null"' "$BK_JSON")
    [ -n "$BK_ID" ] || { diag "backup JSON has no id"; return 1; }
    return 0
}

backup_as() { # NAME [backup args]: a backup of $SRC checked ok, its id in ID_NAME
    local name=$1
    shift
    do_backup "$SRC" "$@"
    expect_eq "$?" 0 "backup $name"
    eval "ID_$name=$BK_ID"
}

create_image() { # SPEC SIZE [rbd create options...]
    local spec=$1 size=$2
    shift 2
    rbd_src create --size "$(($(to_bytes "$size") / 1048576))" "$@" "$spec"
}

# The rbd export-diff v1 stream (doc/dev/rbd-diff.rst): "rbd diff v1\n", then records
# 'w' le64 off, le64 len, data | 'z' le64 off, le64 len | 'e'. Without 'f'/'t'/'s'
# records `rbd import-diff` just applies the writes to the image head.
_DIFFGEN='
import os, random, struct, sys
def num(s):
    m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    s = s.strip()
    return int(s[:-1]) * m[s[-1].upper()] if s[-1].upper() in m else int(s)
out = sys.stdout.buffer
out.write(b"rbd diff v1\n")
PIECE = 4 << 20
TEXT = b"2026-11-30T20:00:00Z osd.0 pg 1.2a deep-scrub ok, 0 errors\n" * 80000
def w(off, ln, fill=None):
    while ln > 0:
        n = min(ln, PIECE)
        data = os.urandom(n) if fill is None else fill[:n]
        out.write(b"w" + struct.pack("<QQ", off, n) + data)
        off += n
        ln -= n
for op in sys.argv[1:]:
    f = op.split(":")
    if f[0] == "w":
        w(num(f[1]), num(f[2]))
    elif f[0] == "t":  # log-like text
        w(num(f[1]), num(f[2]), TEXT)
    elif f[0] == "z":
        out.write(b"z" + struct.pack("<QQ", num(f[1]), num(f[2])))
    elif f[0] == "r":  # r:COUNT:LEN:IMAGESIZE - random 4 KiB-aligned offsets
        cnt, ln, size = num(f[1]), num(f[2]), num(f[3])
        rnd = random.SystemRandom()
        for _ in range(cnt):
            w(rnd.randrange(0, (size - ln) // 4096 + 1) * 4096, ln)
    else:
        sys.exit("diffgen: bad op " + op)
out.write(b"e")
'

_import_ops() { # SPEC CONF OPS...
    local spec=$1 conf=$2
    shift 2
    python3 -c "$_DIFFGEN" "$@" | timeout 600 rbd -c "$conf" import-diff --no-progress - "$spec"
}

write_random() { _import_ops "$1" "${4:-$SRC_CEPH_CONF}" "w:$2:$3"; }
write_ops()    { local spec=$1; shift; _import_ops "$spec" "$SRC_CEPH_CONF" "$@"; } # SPEC OPS...
discard()      { _import_ops "$1" "${4:-$SRC_CEPH_CONF}" "z:$2:$3"; }
rand_writes() { # SPEC COUNT LEN [CONF]
    local conf=${4:-$SRC_CEPH_CONF} size
    size=$(img_field "$1" size "$conf") || return 1
    _import_ops "$1" "$conf" "r:$2:$3:$size"
}
grow() { timeout 600 rbd -c "${3:-$SRC_CEPH_CONF}" resize --no-progress --size "$(($(to_bytes "$2") / 1048576))" "$1"; }

img_sum() { # SPEC [CONF]
    local conf=${2:-$SRC_CEPH_CONF} sum
    local -a st
    sum=$(timeout 600 rbd -c "$conf" export --no-progress "$1" - 2>"$TMPD/export.err" | sha256sum)
    st=("${PIPESTATUS[@]}")
    if [ "${st[0]}" -ne 0 ]; then
        echo "export-of-$1-failed-$RANDOM$RANDOM"
        sed 's/^/# img_sum: /' "$TMPD/export.err" >&2
        return 1
    fi
    echo "${sum%% *}"
}

file_sum() { local s; s=$(sha256sum <"$1") || return 1; echo "${s%% *}"; }

img_field() { # SPEC FIELD [CONF]
    timeout 120 rbd -c "${3:-$SRC_CEPH_CONF}" info --format json "$1" | jq -r ".$2"
}

img_exists() { # SPEC [CONF]
    timeout 120 rbd -c "${2:-$SRC_CEPH_CONF}" info "$1" >/dev/null 2>&1
}

snap_names() { # SPEC [CONF]
    timeout 120 rbd -c "${2:-$SRC_CEPH_CONF}" snap ls --format json "$1" | jq -r '.[].name'
}

bucket_keys() { # [PREFIX]
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 \
        --bucket "$BUCKET" ${1:+--prefix "$1"} --output json \
        | jq -r '(.Contents // [])[].Key' | LC_ALL=C sort
}

bucket_listing() {
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 \
        --bucket "$BUCKET" --output json \
        | jq -r '(.Contents // [])[] | "\(.Key) \(.Size) \(.ETag)"' | LC_ALL=C sort
}

bucket_bytes() { # PREFIX: sum of object sizes under PREFIX
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 \
        --bucket "$BUCKET" --prefix "$1" --output json \
        | jq '[(.Contents // [])[].Size] | add // 0'
}

key_prefix() { # SPEC ID  (names here need no escaping)
    echo "$PREFIX/$1/$2/"
}

_purge_versions() { # BUCKET: every version and delete marker, governance bypassed
    timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-object-versions \
        --bucket "$1" --output json 2>/dev/null |
        jq -r '((.Versions // []) + (.DeleteMarkers // []))[] | [.Key, .VersionId] | @tsv' |
        while IFS=$'\t' read -r k v; do
            timeout 60 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api delete-object \
                --bucket "$1" --key "$k" --version-id "$v" --bypass-governance-retention \
                >/dev/null 2>&1
        done
}

lock_default() { # [DAYS]
    local rule=""
    [ -n "${1:-}" ] && rule=',"Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":'"$1"'}}'
    s3api put-object-lock-configuration --bucket "$BUCKET" \
        --object-lock-configuration '{"ObjectLockEnabled":"Enabled"'"$rule"'}'
}

locked_bucket() { # [DAYS]
    s3api delete-bucket --bucket "$BUCKET" &&
        s3api create-bucket --bucket "$BUCKET" --object-lock-enabled-for-bucket >/dev/null ||
        bail "cannot create a bucket with Object Lock"
    trap 'rc=$?; [ "${KEEP:-0}" = 1 ] || _purge_versions "$BUCKET"; (exit $rc); _lib_exit' EXIT
    [ -z "${1:-}" ] || lock_default "$1" || bail "cannot set a default retention"
}
