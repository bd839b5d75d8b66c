#!/usr/bin/env bash
# run.sh - benchmark: rbd2s3 against the shell pipeline users run today, on the same data
# in the same run (the targets and the current numbers: doc/performance.md).
#
#   tests/bench/run.sh [--rounds N] [--size SIZE] [--quick] [options]
#
#   --rounds N        timed rounds per scenario (default 4); the two tools alternate
#                     which goes first from one round to the next, so an even N gives
#                     each tool each place equally often
#   --size SIZE       image size for scenarios 1-4 (default 2G; K/M/G suffixes,
#                     a multiple of 4M)
#   --rss-sizes S,L   the small and large image of scenario 5 (default 1G,16G)
#   --quick           smoke test: --size 512M --rounds 1 --rss-sizes 256M,4G
#   --tls             both tools over the sandbox's https endpoint, each at its defaults
#                     (there both send UNSIGNED-PAYLOAD; over http both sign the body)
#   --only LIST       run only these scenario groups: full (1-3), chain (4), rss (5);
#                     comma-separated (default: full,chain,rss)
#   --sandbox DIR     use this running sandbox (tests/sandbox/sandbox.sh start DIR) and
#                     leave it running; default: a private one, started afresh for each
#                     group of scenarios (memstore OSDs keep their memory) and stopped at the end
#   --store S         object store of a private sandbox's OSDs: bluestore (default, on a
#                     sparse file under the sandbox, as in production) or memstore (all
#                     in RAM, as in the tests); or $SANDBOX_OSD_STORE
#   --osd-bytes N     size of a private sandbox's OSDs (default 20 GiB, or
#                     $SANDBOX_OSD_BYTES)
#   --min-mem-mib N   stop (non-zero exit) rather than go on when less than N MiB of memory is
#                     available before a step that stores data (default 2048), or less
#                     than a third of that at any time: the OSDs keep everything in RAM
#   -h, --help
#
# Environment: RBD2S3 (binary under test, default ./rbd2s3 of this repository; it is copied
# at the start so that a rebuild during the run does not change what is measured).
#
# Scenarios (each timed with /usr/bin/time: elapsed seconds and max RSS):
#   1 full backup          pipeline export-diff | lz4 -1 | aws s3 cp  vs  rbd2s3 backup --full
#   2 restore of that full aws s3 cp | lz4 -d | rbd import-diff (into an image created
#                          beforehand)  vs  rbd2s3 restore, both into the destination cluster
#   3 1% incremental       export-diff --from-snap ...  vs  rbd2s3 backup (incremental)
#   4 chain restore        rbd2s3 restoring full + 5 incrementals vs the full alone; and
#                          the pipeline applying the 6 diffs in order
#   5 peak RSS             rbd2s3 backup and restore of a small and a large image holding
#                          the same data at the same offsets
# It prints a table per scenario and a summary (also written to
# tests/bench/out/summary-<date>.txt). It never judges speed: it exits non-zero only if
# something failed to run or a restored image's checksum (sha256 of `rbd export`, checked
# once per scenario, outside the timed sections) is wrong.
set -uo pipefail

PROG=${0##*/}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
AWS=/usr/bin/aws
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH   # the ceph CLI is python: no pyenv shims

ROUNDS=4
TLS=0
SIZE=2G
RSS_SIZES=1G,16G
ONLY=full,chain,rss
SB_GIVEN=""
OSD_BYTES=${SANDBOX_OSD_BYTES:-21474836480}
STORE=${SANDBOX_OSD_STORE:-bluestore}
MIN_MEM_MIB=2048
CMD_TIMEOUT=1200           # bound on any one command

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        --size) SIZE=${2:?}; shift 2 ;;
        --size=*) SIZE=${1#*=}; shift ;;
        --rss-sizes) RSS_SIZES=${2:?}; shift 2 ;;
        --rss-sizes=*) RSS_SIZES=${1#*=}; shift ;;
        --quick) SIZE=512M; ROUNDS=1; RSS_SIZES=256M,4G; shift ;;
        --tls) TLS=1; shift ;;
        --only) ONLY=${2:?}; shift 2 ;;
        --only=*) ONLY=${1#*=}; shift ;;
        --sandbox) SB_GIVEN=${2:?}; shift 2 ;;
        --sandbox=*) SB_GIVEN=${1#*=}; shift ;;
        --osd-bytes) OSD_BYTES=${2:?}; shift 2 ;;
        --store) STORE=${2:?}; shift 2 ;;
        --store=*) STORE=${1#*=}; shift ;;
        --min-mem-mib) MIN_MEM_MIB=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

to_bytes() {
    local v=$1 n u
    n=${v%[KkMmGgTt]}
    u=${v#"$n"}
    [[ $n =~ ^[0-9]+$ ]] || return 1
    case $u in
        "") echo "$n" ;;
        K|k) echo $((n << 10)) ;;
        M|m) echo $((n << 20)) ;;
        G|g) echo $((n << 30)) ;;
        T|t) echo $((n << 40)) ;;
    esac
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: a positive number, not '$ROUNDS'"
SIZE_B=$(to_bytes "$SIZE") || die "--size: bad size '$SIZE'"
SMALL_B=$(to_bytes "${RSS_SIZES%%,*}") || die "--rss-sizes: bad '$RSS_SIZES'"
LARGE_B=$(to_bytes "${RSS_SIZES#*,}") || die "--rss-sizes: bad '$RSS_SIZES'"
for b in "$SIZE_B" "$SMALL_B" "$LARGE_B"; do
    [ $((b % (4 << 20))) -eq 0 ] && [ "$b" -ge $((64 << 20)) ] ||
        die "sizes must be multiples of 4M and at least 64M"
done
[ "$LARGE_B" -ge "$SMALL_B" ] || die "--rss-sizes: the large image must not be smaller"
case $STORE in memstore|bluestore) ;; *) die "--store: memstore or bluestore, not '$STORE'" ;; esac
for g in ${ONLY//,/ }; do
    case $g in full|chain|rss) ;; *) die "--only: unknown group '$g' (full, chain, rss)" ;; esac
done
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

for t in rbd lz4 jq openssl "$AWS" /usr/bin/time "$PY"; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing (tests/install-deps.sh)"
done
RBD2S3_SRC=${RBD2S3:-$REPO/rbd2s3}
[ -x "$RBD2S3_SRC" ] || die "$RBD2S3_SRC is not built (make -j2)"

# ------------------------------------------------------------------ state and cleanup
TAG="b$$"
TMPD=$(mktemp -d /tmp/rbd2s3-bench.XXXXXX)
mkdir -p "$TMPD/log" "$TMPD/data"
RESULTS=$TMPD/results.tsv
: >"$RESULTS"
OWN_SB=""
SB=""
SB_USED=0           # has a scenario group used the (private) sandbox yet?
MAIN_PID=$$
WATCHDOG_PID=""
BUCKETS=()          # buckets still to remove when not using our own sandbox
CHECK_OK=0
CHECK_BAD=0
CHECK_LIST=()

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
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'echo "$PROG: terminated" >&2; exit 143' TERM

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

# timed SCEN ROW ROUND CMD...: run CMD under /usr/bin/time (elapsed, max RSS of the
# largest process; for a pipeline that is its largest member) and record the result.
# Sets T_EL, T_RSS, T_OUT (stdout file). Stops the run if CMD fails.
TN=0
# cluster_ticks: CPU clock ticks (user + system) the sandbox's daemons (monitors, OSDs,
# RGW) have used so far; a timed command's share is the difference across it.
cluster_ticks() {
    local p t=0 f
    for p in $(pgrep -f "^(/usr/bin/)?(ceph-mon|ceph-osd|radosgw) .*$SB/(src|dst)/ceph.conf"); do
        read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
        t=$((t + f[13] + f[14]))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

# Wait (up to 60 s) until the daemons are idle: under 4% of a core over half a second.
# Background work of an earlier step (the OSD trimming a removed snapshot's clones, or
# deleting an image) would otherwise land on whichever tool runs next.
settle() {
    local a b i
    for ((i = 0; i < 120; i++)); do
        a=$(cluster_ticks)
        sleep 0.5
        b=$(cluster_ticks)
        [ $((b - a)) -le $((HZ / 50)) ] && return 0
    done
    echo "$PROG: warning: the Ceph/RGW daemons are still busy after 60 s" >&2
}

# The upload of BYTES random bytes by an independent client (curl, one PUT, unsigned
# payload), alone on the machine: the median ms of 3. An incremental that stores that
# many bytes cannot end sooner than a snapshot create plus this, however it reads.
upload_alone() { # BUCKET BYTES
    local f=$TMPD/data/upload-alone.bin i t ms=()
    if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || ! [ "${2:-0}" -gt 0 ] 2>/dev/null; then
        echo n/a
        return
    fi
    head -c "$2" /dev/urandom >"$f"
    for i in 1 2 3; do
        settle
        t=$(timeout 120 curl -sSf -o /dev/null -w '%{time_total}' \
            ${S3_TLS_CA:+--cacert "$S3_TLS_CA"} \
            --aws-sigv4 "aws:amz:${AWS_DEFAULT_REGION:-us-east-1}:s3" \
            --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
            -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$f" "$S3_ENDPOINT/$1/upload-alone") ||
            { rm -f "$f"; echo n/a; return; }
        ms+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')")
    done
    rm -f "$f"
    printf '%s\n' "${ms[@]}" | sort -n | sed -n 2p
}

# When a timed command failed: was it the sandbox's OSD calling itself full?
say_if_full() {
    local full
    full=$("$REPO/tests/sandbox/sandbox.sh" full "$SB" 2>/dev/null) || return 0
    echo "$PROG: the sandbox's OSD reports full on: $full (memstore's accounting fault," \
        "tests/bench/README.md, Caveats, or --osd-bytes too small); run it again" >&2
}

timed() {
    local scen=$1 row=$2 rnd=$3 base rc c0 c1
    shift 3
    TN=$((TN + 1))
    base=$TMPD/log/t$TN
    settle
    c0=$(cluster_ticks)
    run_bg /usr/bin/time -o "$base.time" -f '%e %M %U %S' timeout -k 10 "$CMD_TIMEOUT" "$@" \
        >"$base.out" 2>"$base.err"
    rc=$?
    c1=$(cluster_ticks)
    T_OUT=$base.out
    if [ $rc -ne 0 ]; then
        echo "$PROG: timed command failed (exit $rc): $*" >&2
        tail -n 20 "$base.err" | sed 's/^/    /' >&2
        say_if_full
        exit 1
    fi
    read -r T_EL T_RSS T_USR T_SYS < <(tail -n 1 "$base.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$row" "$rnd" "$T_EL" "$T_RSS" \
        "$(awk -v u="$T_USR" -v s="$T_SYS" 'BEGIN { printf "%.2f", u + s }')" \
        "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')" >>"$RESULTS"
    printf '  [%s r%s] %-16s %8.2f s   max RSS %5d MiB\n' "$scen" "$rnd" "$row" "$T_EL" $((T_RSS / 1024))
}

info() { printf '#info\t%s\t%s\n' "$1" "$2" >>"$RESULTS"; }

# osd_out_bytes: the bytes the source OSD has sent in replies to reads so far (its
# op_out_bytes counter), or nothing if its admin socket does not answer
osd_out_bytes() {
    timeout 30 ceph -c "$SRC_CEPH_CONF" daemon osd.0 perf dump 2>/dev/null |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["osd"]["op_out_bytes"])' 2>/dev/null
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

# ------------------------------------------------------------------ sandbox and binary
cp "$RBD2S3_SRC" "$TMPD/rbd2s3" || die "cannot copy $RBD2S3_SRC"
RB_BIN=$TMPD/rbd2s3

# watchdog: while a step runs, stop the run (its commands, then the sandbox, by the
# EXIT trap) if the machine is about to run out of memory.
watchdog() {
    local a
    while sleep 0.5; do
        a=$(mem_avail_mib)
        if [ "$a" -lt $((MIN_MEM_MIB / 3)) ]; then
            echo "$PROG: only $a MiB of memory available: stopping the run" >&2
            : >"$TMPD/memlow"
            kill -TERM "$MAIN_PID" 2>/dev/null
            for c in $(ps -o pid= --ppid "$MAIN_PID" 2>/dev/null); do
                [ "$c" != "$BASHPID" ] && kill_tree "$c"
            done
            exit 0
        fi
    done
}
watchdog &
WATCHDOG_PID=$!

# use_sandbox: source env.sh and set the command lines (the endpoint's port changes
# when the private sandbox is restarted)
use_sandbox() {
    # shellcheck disable=SC1091
    . "$SB/env.sh"
    export AWS_BIN=$AWS
    local tls=()
    if [ "$TLS" = 1 ]; then
        # both tools over https, each at its own default (both send UNSIGNED-PAYLOAD there)
        export S3_ENDPOINT=$S3_TLS_ENDPOINT AWS_CA_BUNDLE=$S3_TLS_CA
        tls=(--ca-file "$S3_TLS_CA")
    fi
    RB=("$RB_BIN" --ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_ENDPOINT" "${tls[@]}" --no-progress -q)
    # Trim removed snapshots without pausing, as on SSDs (memstore counts as an HDD, which
    # sleeps 5 s between trims), so that their RAM is freed while the run goes on.
    local conf
    for conf in "$SRC_CEPH_CONF" "$DST_CEPH_CONF"; do
        timeout 30 ceph -c "$conf" tell osd.0 config set osd_snap_trim_sleep_hdd 0 >/dev/null 2>&1 ||
            echo "$PROG: warning: could not set osd_snap_trim_sleep_hdd on $conf" >&2
    done
}

start_sandbox() {
    export SANDBOX_OSD_BYTES=$OSD_BYTES SANDBOX_OSD_STORE=$STORE
    run_bg timeout -k 10 300 "$REPO/tests/sandbox/sandbox.sh" start "$SB" \
        >"$TMPD/log/sandbox.log" 2>&1 ||
        { tail -n 20 "$TMPD/log/sandbox.log" >&2; die "could not start a sandbox"; }
    use_sandbox
}

# fresh_sandbox: before a group of scenarios, restart the private sandbox if an earlier
# group used it: memstore OSDs keep the memory of deleted data (a 2 GiB default run
# would otherwise need well over 20 GiB of RAM), and BlueStore ones start each group
# empty too. A given --sandbox is left alone.
fresh_sandbox() {
    if [ "$SB_USED" = 1 ] && [ -n "$OWN_SB" ]; then
        step "restarting the private sandbox (empty OSDs for the next group)"
        run_bg timeout -k 10 120 "$REPO/tests/sandbox/sandbox.sh" stop "$SB" >/dev/null 2>&1
        start_sandbox
    fi
    SB_USED=1
}

# mem_note: the sandbox's OSD memory and what is left, for the log
mem_note() {
    local p n out=""
    while read -r p n; do
        case $n in *osd*) out+="$n $(($(ps -o rss= -p "$p" 2>/dev/null || echo 0) >> 10)) MiB, " ;; esac
    done <"$SB/pids"
    [ "$STORE" = bluestore ] &&
        out+="BlueStore block files $(($(du -sk "$SB"/src/osd.0/block "$SB"/dst/osd.0/block |
            awk '{ s += $1 } END { print s }') >> 10)) MiB on disk, "
    step "memory: ${out}machine available $(mem_avail_mib) MiB"
}

if [ -n "$SB_GIVEN" ]; then
    SB=$(cd "$SB_GIVEN" 2>/dev/null && pwd) || die "no sandbox directory $SB_GIVEN"
    "$REPO/tests/sandbox/sandbox.sh" status "$SB" >/dev/null 2>&1 || die "the sandbox in $SB is not running"
    STORE=$(sed -n 's/^osd objectstore = //p' "$SB/src/ceph.conf")
    use_sandbox
else
    SB=$TMPD/sb
    OWN_SB=$SB
    log "starting a sandbox in $SB ($STORE OSDs of $((OSD_BYTES >> 30)) GiB each)"
    # BlueStore's block files are sparse and grow with what is written to them, never
    # shrinking (10-20 GiB together in default runs): refuse to start unless the disk
    # can hold both at their full size.
    free_mib=$(df -Pm "$TMPD" | awk 'NR == 2 { print $4 }')
    need_mib=$((2 * (OSD_BYTES >> 20) + 1024))
    [ "$STORE" = memstore ] || [ "$free_mib" -ge "$need_mib" ] ||
        die "BlueStore sandbox: $free_mib MiB free on the disk of $TMPD, $need_mib MiB needed (2 x --osd-bytes; --store memstore keeps it in RAM)"
    start_sandbox
fi
PIPE=("$BENCH_DIR/pipeline.sh")
SIZE_MIB=$((SIZE_B >> 20))
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
T_START=$SECONDS

# ------------------------------------------------------------------ header
git_rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
bin_sum=$(sha256sum "$RB_BIN" | cut -c1-12)
os_name=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
HEADER=$TMPD/header.txt
{
    echo "  date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "  machine:   nproc $(nproc), memory $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $os_name"
    echo "  versions:  rbd2s3 $git_rev (binary sha256 $bin_sum), $(rbd --version | awk '{ print "ceph", $3 }'), lz4 $(lz4 --version 2>&1 | grep -o 'v[0-9.]*' | head -1), $("$AWS" --version 2>&1 | awk '{ print $1 }'), $("$PY" --version 2>&1)"
    echo "  settings:  --rounds $ROUNDS --size $SIZE --rss-sizes $RSS_SIZES (groups: $ONLY); rbd2s3 defaults; sandbox: $STORE OSDs on loopback"
} >"$HEADER"
log "rbd2s3 benchmark $STAMP"
cat "$HEADER"
log ""

# ================================================================== scenarios 1-3
IMG=rbd/img-$TAG                # the source image of scenarios 1-4

scenarios_full() {
    local f=$TMPD/data/img.raw written r order tool b full_id inc_id sha_full sha_inc stored_inc
    local nchg=$(((SIZE_B / 65536 + 50) / 100))
    log "== scenarios 1-3: full backup, restore, 1% incremental ($SIZE image, $ROUNDS rounds) =="
    fresh_sandbox
    step "generating $SIZE of data (30% holes, 30% random, 40% text)"
    gen_image "$f" "$SIZE" 1
    written=$(written_bytes "$f")
    info size "$SIZE_B"
    info written "$written"
    info changed $((nchg * 65536))

    # Each round: import the image, the two full backups (1) and, after the 1% change,
    # the two incrementals (3); then the source image is deleted (its RAM is freed) and
    # the restores (2) run. So the sandbox never holds the source image and a restored
    # copy at once.
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="pipeline rbd2s3"; else order="rbd2s3 pipeline"; fi
        b=rbd2s3-bench-$TAG-r$r
        mem_guard "round $r"
        log "  -- round $r (first: ${order%% *})"
        import_image "$f" "$IMG"
        make_bucket "$b"

        # 1. full backup (the pipeline creates its snapshot pfull inside its timed run)
        for tool in $order; do
            if [ "$tool" = pipeline ]; then
                timed 1 pipeline "$r" "${PIPE[@]}" backup "$SRC_CEPH_CONF" "$IMG@pfull" "s3://$b/pipeline/full.lz4"
            else
                timed 1 rbd2s3 "$r" "${RB[@]}" --bucket "$b" --format json backup "$IMG" --full
                full_id=$(json_field "$T_OUT" id)
                [ -n "$full_id" ] && [ "$(json_field "$T_OUT" type)" = full ] ||
                    die "rbd2s3 backup --full printed no full backup: $(head -c 500 "$T_OUT")"
            fi
        done
        if [ "$r" = 1 ]; then
            info stored_full_pipeline "$(bucket_bytes "$b" pipeline/)"
            info stored_full_rbd2s3 "$(bucket_bytes "$b" rbd2s3/)"
            sha_full=$(img_sha "$SRC_CEPH_CONF" "$IMG@pfull") || die "rbd export of the source failed"
        fi

        # Steady state for rbd2s3's incremental: a backup with nothing changed, so that the
        # timed one, like every backup after the second, also removes the superseded
        # snapshot (snap cleanup = deferred; the pipeline removes pfull). It is timed as a
        # row of its own, with no target: the part of every incremental that moves no data
        # (start, connect, snapshot, commit), and the daemons' CPU behind that part.
        timed 3 rbd2s3-nochange "$r" "${RB[@]}" --bucket "$b" backup "$IMG"
        # 3. incremental after 1% changed: 64 KiB random writes at 64K-aligned offsets
        quiet bash -c 'set -o pipefail; "$1" "$2" diff "$3" --count "$4" --len 64K --seed "$5" | rbd -c "$6" import-diff --no-progress - "$7"' \
            _ "$PY" "$BENCH_DIR/gen_image.py" "$SIZE_B" "$nchg" $((1000 + r)) "$SRC_CEPH_CONF" "$IMG"
        # (the pipeline creates pinc and removes pfull inside its timed run)
        for tool in $order; do
            [ "$r" = 1 ] && out0=$(osd_out_bytes)
            if [ "$tool" = pipeline ]; then
                timed 3 pipeline-inc "$r" "${PIPE[@]}" backup "$SRC_CEPH_CONF" "$IMG@pinc" "s3://$b/pipeline/inc.lz4" pfull
            else
                timed 3 rbd2s3 "$r" "${RB[@]}" --bucket "$b" --format json backup "$IMG"
                inc_id=$(json_field "$T_OUT" id)
                [ "$(json_field "$T_OUT" type)" = incremental ] && [ -n "$(json_field "$T_OUT" parent)" ] ||
                    die "rbd2s3 backup made no incremental: $(head -c 500 "$T_OUT")"
            fi
            [ "$r" = 1 ] && out1=$(osd_out_bytes) && [ -n "$out0" ] && [ -n "$out1" ] &&
                info "osd_out_inc_$tool" $((out1 - out0))
        done
        if [ "$r" = 1 ]; then
            info stored_inc_pipeline "$(bucket_bytes "$b" pipeline/inc)"
            stored_inc=$(bucket_bytes "$b" "rbd2s3/${IMG}/$inc_id/")
            info stored_inc_rbd2s3 "$stored_inc"
            sha_inc=$(img_sha "$SRC_CEPH_CONF" "$IMG@pinc") || die "rbd export of the source failed"
        fi
        if [ "$r" = "$ROUNDS" ]; then
            # the fixed part of any incremental here: one snapshot create (monitor commit);
            # measured last, as the snapshots it makes must not touch the timed rounds
            info snap_commit_ms "$(timeout 120 "$PY" "$BENCH_DIR/snapcommit.py" "$SRC_CEPH_CONF" \
                "${IMG%%/*}" "${IMG#*/}" 5 2>/dev/null || echo n/a)"
            info ncpu "$(nproc)"
            info upload_alone_ms "$(upload_alone "$b" "$stored_inc")"
        fi
        rm_image_or_die "$SRC_CEPH_CONF" "$IMG"

        # 2. restore of the full, into the destination cluster
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = pipeline ]; then
                timed 2 pipeline-restore "$r" "${PIPE[@]}" restore "$DST_CEPH_CONF" \
                    "s3://$b/pipeline/full.lz4" "rbd/pdst-$TAG" "$SIZE_MIB"
                [ "$r" = 1 ] && verify "2: pipeline restore of the full" "$DST_CEPH_CONF" "rbd/pdst-$TAG" "$sha_full"
                rm_image_or_die "$DST_CEPH_CONF" "rbd/pdst-$TAG"
            else
                timed 2 rbd2s3 "$r" "${RB[@]}" --bucket "$b" restore "$IMG@$full_id" "rbd/rdst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
                [ "$r" = 1 ] && verify "2: rbd2s3 restore of the full" "$DST_CEPH_CONF" "rbd/rdst-$TAG" "$sha_full"
                rm_image_or_die "$DST_CEPH_CONF" "rbd/rdst-$TAG"
            fi
        done

        if [ "$r" = 1 ]; then
            step "checking the incrementals: restores of full + incremental, not timed"
            mem_guard "a restore"
            quiet "${RB[@]}" --bucket "$b" restore "$IMG@$inc_id" "rbd/rdst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
            verify "3: rbd2s3 restore of full + 1% incremental" "$DST_CEPH_CONF" "rbd/rdst-$TAG" "$sha_inc"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/rdst-$TAG"
            quiet rbd_dst create --size "$SIZE_MIB" "rbd/pdst-$TAG"
            quiet "${PIPE[@]}" restore "$DST_CEPH_CONF" "s3://$b/pipeline/full.lz4" "rbd/pdst-$TAG"
            quiet "${PIPE[@]}" restore "$DST_CEPH_CONF" "s3://$b/pipeline/inc.lz4" "rbd/pdst-$TAG"
            verify "3: pipeline restore of full + 1% incremental" "$DST_CEPH_CONF" "rbd/pdst-$TAG" "$sha_inc"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/pdst-$TAG"
        fi
        [ "$r" = 1 ] && mem_note
        remove_bucket "$b"
    done
    want chain || rm -f "$f"      # scenario 4 imports the same file
    log ""
    for s in 1 2 3; do "$PY" "$BENCH_DIR/report.py" table "$RESULTS" "$s"; log ""; done
}

# ================================================================== scenario 4
scenarios_chain() {
    local f=$TMPD/data/img.raw cdir=$TMPD/data/chain bc bp k r order tool sha0 sha5 full_id sum rss
    local q0=$((SIZE_B / 4)) ql=$((SIZE_B / 4))
    mkdir -p "$cdir"
    log "== scenario 4: restore of the end of a chain ($SIZE image, $ROUNDS rounds) =="
    fresh_sandbox
    mem_guard "creating the image"
    if [ ! -f "$f" ]; then
        step "generating $SIZE of data (30% holes, 30% random, 40% text)"
        gen_image "$f" "$SIZE" 1
    fi
    step "importing the image"
    import_image "$f" "$IMG"
    rm -f "$f"
    info chain_size "$SIZE_B"
    bc=rbd2s3-bench-$TAG-chain
    make_bucket "$bc"
    quiet rbd_src snap purge --no-progress "$IMG"

    # Scenario 4 restores into the source cluster (its images are gone by then): the
    # memstore OSD reuses the RAM of the deleted image, which a second OSD could not.
    # Build the chain (not timed). The pipeline's diffs go to local files for now, so that
    # the bucket never holds both tools' chains at once (the OSDs keep everything in RAM).
    step "building the chain: a full, then 5 x rewrite of [$((q0 >> 20)) MiB, $(((q0 + ql) >> 20)) MiB) with random data + incremental"
    quiet rbd_src snap create --no-progress "$IMG@c0"
    quiet bash -c 'set -o pipefail; rbd -c "$1" export-diff --no-progress "$2" - | lz4 -1 -q -c >"$3"' \
        _ "$SRC_CEPH_CONF" "$IMG@c0" "$cdir/c0.lz4"
    quiet "${RB[@]}" --bucket "$bc" --format json backup "$IMG" --full
    full_id=$(json_field "$TMPD/log/q$QN.log" id)
    [ -n "$full_id" ] || die "rbd2s3 backup --full printed no id"
    sha0=$(img_sha "$SRC_CEPH_CONF" "$IMG@c0") || die "rbd export of the source failed"
    for k in 1 2 3 4 5; do
        mem_guard "chain step $k"
        quiet bash -c 'set -o pipefail; "$1" "$2" fill "$3" "$4" --seed "$5" | rbd -c "$6" import-diff --no-progress - "$7"' \
            _ "$PY" "$BENCH_DIR/gen_image.py" "$q0" "$ql" $((2000 + k)) "$SRC_CEPH_CONF" "$IMG"
        quiet rbd_src snap create --no-progress "$IMG@c$k"
        quiet bash -c 'set -o pipefail; rbd -c "$1" export-diff --no-progress --from-snap "$2" "$3" - | lz4 -1 -q -c >"$4"' \
            _ "$SRC_CEPH_CONF" "c$((k - 1))" "$IMG@c$k" "$cdir/c$k.lz4"
        quiet "${RB[@]}" --bucket "$bc" --format json backup "$IMG"
        [ "$(json_field "$TMPD/log/q$QN.log" type)" = incremental ] || die "chain step $k: no incremental"
        quiet rbd_src snap rm --no-progress "$IMG@c$((k - 1))"
    done
    sha5=$(img_sha "$SRC_CEPH_CONF" "$IMG@c5") || die "rbd export of the source failed"
    rm_image_or_die "$SRC_CEPH_CONF" "$IMG"       # the restores read only the bucket

    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="newest full"; else order="full newest"; fi
        log "  -- round $r (first: ${order%% *})"
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = newest ]; then
                timed 4 rbd2s3-newest "$r" "${RB[@]}" --bucket "$bc" restore "$IMG" "rbd/cnew-$TAG"
                [ "$r" = 1 ] && verify "4: rbd2s3 restore of the chain end" "$SRC_CEPH_CONF" "rbd/cnew-$TAG" "$sha5"
                rm_image_or_die "$SRC_CEPH_CONF" "rbd/cnew-$TAG"
            else
                timed 4 rbd2s3-full "$r" "${RB[@]}" --bucket "$bc" restore "$IMG@$full_id" "rbd/cfull-$TAG"
                [ "$r" = 1 ] && verify "4: rbd2s3 restore of the chain's full" "$SRC_CEPH_CONF" "rbd/cfull-$TAG" "$sha0"
                rm_image_or_die "$SRC_CEPH_CONF" "rbd/cfull-$TAG"
            fi
        done
    done
    remove_bucket "$bc"
    mem_note

    # The pipeline: the same 6 diffs, applied in order. Each step is timed; the round's
    # time is their sum. Between steps, untimed: the snapshot the previous step left on the
    # target is removed (so the destination keeps one old version of the quarter, not
    # five), and each diff is uploaded just before its step and deleted after it (so the
    # bucket, kept in RAM, never holds the whole chain).
    fresh_sandbox
    bp=rbd2s3-bench-$TAG-chainp
    make_bucket "$bp"
    for r in $(seq 1 "$ROUNDS"); do
        mem_guard "a restore"
        quiet rbd_src create --size "$SIZE_MIB" "rbd/pchain-$TAG"
        sum=0 rss=0
        for k in 0 1 2 3 4 5; do
            quiet "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$cdir/c$k.lz4" "s3://$bp/c$k.lz4"
            run_bg /usr/bin/time -o "$TMPD/log/chain.time" -f '%e %M' timeout -k 10 "$CMD_TIMEOUT" \
                "${PIPE[@]}" restore "$SRC_CEPH_CONF" "s3://$bp/c$k.lz4" "rbd/pchain-$TAG" \
                >"$TMPD/log/chain.out" 2>&1 ||
                { tail -n 20 "$TMPD/log/chain.out" >&2; die "pipeline: applying c$k failed"; }
            read -r T_EL T_RSS < <(tail -n 1 "$TMPD/log/chain.time")
            sum=$(awk -v a="$sum" -v b="$T_EL" 'BEGIN { printf "%.2f", a + b }')
            [ "$T_RSS" -gt "$rss" ] && rss=$T_RSS
            [ "$k" -gt 0 ] && quiet rbd_src snap rm --no-progress "rbd/pchain-$TAG@c$((k - 1))"
            quiet "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rm --only-show-errors "s3://$bp/c$k.lz4"
            quiet radosgw-admin -c "$SRC_CEPH_CONF" gc process --include-all
        done
        printf '4\tpipeline-chain\t%s\t%s\t%s\n' "$r" "$sum" "$rss" >>"$RESULTS"
        printf '  [4 r%s] %-16s %8.2f s   max RSS %5d MiB\n' "$r" pipeline-chain "$sum" $((rss / 1024))
        [ "$r" = 1 ] && verify "4: pipeline restore of the chain end" "$SRC_CEPH_CONF" "rbd/pchain-$TAG" "$sha5"
        rm_image_or_die "$SRC_CEPH_CONF" "rbd/pchain-$TAG"
    done
    rm -rf "$cdir"
    remove_bucket "$bp"
    mem_note
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" 4
    log ""
}

# ================================================================== scenario 5
scenarios_rss() {
    local f=$TMPD/data/small.raw small=rbd/rss-small-$TAG large=rbd/rss-large-$TAG
    local r b order which sha_s sha_l
    log "== scenario 5: peak RSS, ${RSS_SIZES%%,*} and ${RSS_SIZES#*,} images with the same data ($ROUNDS rounds) =="
    fresh_sandbox
    mem_guard "creating the images"
    step "generating ${RSS_SIZES%%,*} of data; importing it as both images (the large one then resized)"
    gen_image "$f" "$SMALL_B" 5
    info rss_written "$(written_bytes "$f")"
    info small_size "$SMALL_B"
    info large_size "$LARGE_B"
    import_image "$f" "$small"
    import_image "$f" "$large"
    rm -f "$f"
    quiet rbd_src resize --no-progress --size $((LARGE_B >> 20)) "$large"
    sha_s=$(img_sha "$SRC_CEPH_CONF" "$small") || die "rbd export failed"
    sha_l=$(img_sha "$SRC_CEPH_CONF" "$large") || die "rbd export failed"

    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="small large"; else order="large small"; fi
        b=rbd2s3-bench-$TAG-rss$r
        make_bucket "$b"
        mem_guard "round $r"
        log "  -- round $r (first: ${order%% *})"
        for which in $order; do
            local spec=$small
            [ "$which" = large ] && spec=$large
            timed 5 "backup-$which" "$r" "${RB[@]}" --bucket "$b" --format json backup "$spec" --full
            [ -n "$(json_field "$T_OUT" id)" ] || die "rbd2s3 backup printed no id"
        done
        for which in $order; do
            local spec=$small sha=$sha_s
            [ "$which" = large ] && { spec=$large; sha=$sha_l; }
            mem_guard "a restore"
            timed 5 "restore-$which" "$r" "${RB[@]}" --bucket "$b" restore "$spec" "rbd/rss-$which-dst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
            [ "$r" = 1 ] && verify "5: rbd2s3 restore of the $which image" "$DST_CEPH_CONF" "rbd/rss-$which-dst-$TAG" "$sha"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/rss-$which-dst-$TAG"
        done
        remove_bucket "$b"
    done
    mem_note
    rm_image "$SRC_CEPH_CONF" "$small"
    rm_image "$SRC_CEPH_CONF" "$large"
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" 5
    log ""
}

# ================================================================== run
want full && scenarios_full
want chain && scenarios_chain
want rss && scenarios_rss

if [ "$CHECK_BAD" -eq 0 ]; then
    info checksums "$CHECK_OK restored images checked, all match the source"
else
    info checksums "$CHECK_OK match, $CHECK_BAD WRONG: $(IFS=';'; echo "${CHECK_LIST[*]}")"
fi
echo "  run time:  $(((SECONDS - T_START) / 60)) min $(((SECONDS - T_START) % 60)) s (first sandbox start not counted)" >>"$HEADER"

mkdir -p "$BENCH_DIR/out"
SUMMARY=$BENCH_DIR/out/summary-$STAMP.txt
"$PY" "$BENCH_DIR/report.py" summary "$RESULTS" "$HEADER" | tee "$SUMMARY"
cp "$RESULTS" "$BENCH_DIR/out/results-$STAMP.tsv"
log ""
log "summary written to ${SUMMARY#"$REPO"/}"
[ "$CHECK_BAD" -eq 0 ] || exit 1
exit 0
