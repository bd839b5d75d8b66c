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
#   --only LIST       run only these scenario groups: full (1-3), chain (4), rss (5),
#                     enc (6), onto, serve, instant, scale, ratelimit; comma-separated
#                     (default: all)
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
# at the start so that a rebuild during the run does not change what is measured);
# SCALE_IMAGES (images of the scale group, default 200), THIN_SIZE and THIN_DATA (its thin
# image and its data, default 4T and 1G); RL_SIZE and RL_RATE (the ratelimit group's image
# and limit, default 200M and 20M, i.e. 20 MiB/s).
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
#   6 cost of encryption   rbd2s3 backup --full and restore, plain vs encryption =
#                          aes-256-gcm (a key file), side by side
#   onto catch-up restore  rbd2s3 restore --onto of a standby from the full to the 1%
#                          incremental vs a full restore of that incremental
#   serve                  qemu-img convert of a backup from rbd2s3 serve vs restore --to-file
#   instant                restore --instant --detach (returns once usable) vs a full restore
#   scale                  SCALE_IMAGES images of 64 MiB, 1% changed: the script loop vs
#                          rbd2s3 run and run --jobs 8; a 4 TiB thin image vs a 1 GiB one
#                          with the same data: backup --full and with nothing changed
#   ratelimit              backup --limit-upload 20M and restore --limit-download 20M of
#                          200 MiB of random data: the achieved rate against the limit; the
#                          pipeline under aws's s3.max_bandwidth; rbd2s3 without a limit
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
ONLY=full,chain,rss,enc,onto,serve,instant,scale,ratelimit
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
    case $g in full|chain|rss|enc|onto|serve|instant|scale|ratelimit) ;;
        *) die "--only: unknown group '$g' (full, chain, rss, enc, onto, serve, instant, scale, ratelimit)" ;; esac
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
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'echo "$PROG: terminated" >&2; exit 143' TERM

# ------------------------------------------------------------------ the parts
# common.sh: cleanup, logging, images, buckets, checksums; measure.sh: the timed runs;
# cluster.sh: the sandbox and the memory watchdog; scenarios.sh: scenarios 1-6;
# scenario_onto.sh: restore --onto; scenario_recovery.sh: serve and restore --instant;
# scenario_scale.sh: many images (run, run --jobs) and a huge thin image;
# scenario_ratelimit.sh: backup and restore under a bandwidth limit.
# shellcheck source=common.sh
. "$BENCH_DIR/common.sh"
# shellcheck source=measure.sh
. "$BENCH_DIR/measure.sh"
# shellcheck source=cluster.sh
. "$BENCH_DIR/cluster.sh"
# shellcheck source=scenarios.sh
. "$BENCH_DIR/scenarios.sh"
# shellcheck source=scenario_onto.sh
. "$BENCH_DIR/scenario_onto.sh"
# shellcheck source=scenario_recovery.sh
. "$BENCH_DIR/scenario_recovery.sh"
# shellcheck source=scenario_scale.sh
. "$BENCH_DIR/scenario_scale.sh"
# shellcheck source=scenario_ratelimit.sh
. "$BENCH_DIR/scenario_ratelimit.sh"

# ------------------------------------------------------------------ sandbox and binary
cp "$RBD2S3_SRC" "$TMPD/rbd2s3" || die "cannot copy $RBD2S3_SRC"
RB_BIN=$TMPD/rbd2s3
watchdog &
WATCHDOG_PID=$!

open_sandbox
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

IMG=rbd/img-$TAG                # the source image of scenarios 1-4 and 6

# ================================================================== run
want full && scenarios_full
want chain && scenarios_chain
want rss && scenarios_rss
want enc && scenarios_enc
want onto && scenarios_onto
want serve && scenarios_serve
want instant && scenarios_instant
want scale && scenarios_scale
want ratelimit && scenarios_ratelimit

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
