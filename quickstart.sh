#!/usr/bin/env bash
# quickstart.sh - see rbd2s3 work end to end on this machine, in a few minutes:
# install the packages, build, start two throwaway Ceph clusters and an S3 endpoint
# (RGW) on loopback, back up an image (full, then incremental), restore it into the
# other cluster and check that the bytes are identical.
#
# usage: ./quickstart.sh [--keep]
#   --keep   leave the sandbox running at the end and print how to use and stop it
set -euo pipefail

cd "$(dirname "$0")"
TOP=$(pwd)
KEEP=no
case ${1:-} in
    --keep) KEEP=yes ;;
    "") ;;
    *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

BUCKET=rbd2s3-quickstart
SB=""
WORK=$(mktemp -d /tmp/rbd2s3-quickstart.XXXXXX)
N=0
step() { N=$((N + 1)); printf '\n[%d] %s\n' "$N" "$*"; }
exec 3>&1
run()  { printf '    $ %s\n' "$*" >&3; "$@"; }
die()  { echo "quickstart: FAILED: $*" >&2; exit 1; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SB" ]; then
        if [ "$KEEP" = yes ] && [ $rc -eq 0 ]; then
            cat <<EOF

The sandbox is still running. To use it:
    . $SB/env.sh
    $TOP/rbd2s3 --ceph-conf "\$SRC_CEPH_CONF" --endpoint "\$S3_ENDPOINT" --bucket $BUCKET list
    rbd -c "\$DST_CEPH_CONF" ls rbd
To stop it:
    $TOP/tests/sandbox/sandbox.sh stop $SB
EOF
        else
            echo
            echo "Stopping the sandbox in $SB"
            timeout -k 10 120 tests/sandbox/sandbox.sh stop "$SB" >/dev/null 2>&1 </dev/null || true
        fi
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------
step "Installing missing packages (Debian 12: Ceph 16 client and daemons, build tools)"
tests/install-deps.sh || die "package installation"

step "Building rbd2s3"
if [ ! -x configure ]; then
    ./autogen.sh >"$WORK/autogen.log" 2>&1 || { tail -n 30 "$WORK/autogen.log"; die "./autogen.sh"; }
fi
if [ ! -f Makefile ]; then
    ./configure >"$WORK/configure.log" 2>&1 || { tail -n 30 "$WORK/configure.log"; die "./configure"; }
fi
make -j2 >"$WORK/make.log" 2>&1 || { tail -n 40 "$WORK/make.log"; die "make"; }
[ -x ./rbd2s3 ] || die "make produced no ./rbd2s3"
echo "    ./rbd2s3 built ($(./rbd2s3 --version 2>/dev/null || echo 'version unknown'))"

step "Starting a sandbox: a source cluster with RGW (S3) and a destination cluster"
SB=$(mktemp -d /tmp/rbd2s3-sb.XXXX)
timeout -k 10 300 tests/sandbox/sandbox.sh start "$SB" >"$WORK/sandbox.log" 2>&1 </dev/null \
    || { tail -n 30 "$WORK/sandbox.log"; die "sandbox start"; }
sed 's/^/    /' "$WORK/sandbox.log"
# shellcheck disable=SC1091
. "$SB/env.sh"
echo "    source cluster:      $SRC_CEPH_CONF"
echo "    destination cluster: $DST_CEPH_CONF"
echo "    S3 endpoint:         $S3_ENDPOINT"

rbd2s3() {
    printf '    $ rbd2s3 %s\n' "$*" >&3
    ./rbd2s3 --ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_ENDPOINT" --bucket "$BUCKET" "$@"
}
rbd_src() { rbd -c "$SRC_CEPH_CONF" "$@"; }
rbd_dst() { rbd -c "$DST_CEPH_CONF" "$@"; }

step "Creating bucket $BUCKET"
run s3api create-bucket --bucket "$BUCKET" >/dev/null

step "Creating a 256 MiB image rbd/sample on the source cluster and writing 64 MiB into it"
echo "    (rbd bench writes 64 KiB blocks at random offsets; its data compresses very well)"
run rbd -c "$SRC_CEPH_CONF" create --size 256 rbd/sample
run rbd -c "$SRC_CEPH_CONF" bench --io-type write --io-pattern rand --io-size 64K \
    --io-total 64M rbd/sample >"$WORK/bench1.log" 2>&1 || { cat "$WORK/bench1.log"; die "rbd bench"; }

step "First backup (full): snapshot rbd2s3-<id>, chunks compressed and uploaded"
rbd2s3 backup rbd/sample || die "first backup"

step "Changing the image: 16 MiB of new random writes"
run rbd -c "$SRC_CEPH_CONF" bench --io-type write --io-pattern rand --io-size 16K \
    --io-total 16M rbd/sample >"$WORK/bench2.log" 2>&1 || { cat "$WORK/bench2.log"; die "rbd bench"; }

step "Second backup (incremental): only what changed since the first snapshot"
rbd2s3 backup rbd/sample || die "second backup"

step "Backups in the bucket"
rbd2s3 list rbd/sample || die "list"
NEWEST=$(./rbd2s3 --ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_ENDPOINT" --bucket "$BUCKET" \
         --format json list rbd/sample | jq -r '.backups[-1].id') || die "list --format json"
[ -n "$NEWEST" ] && [ "$NEWEST" != null ] || die "no backup listed"
echo "    newest backup: $NEWEST"
echo "    objects:"
s3api list-objects-v2 --bucket "$BUCKET" --output json \
    | jq -r '(.Contents // [])[] | "      \(.Key)  \(.Size) bytes"'

step "Restoring the newest backup into the destination cluster as rbd/sample-restored"
rbd2s3 restore rbd/sample rbd/sample-restored --dest-ceph-conf "$DST_CEPH_CONF" || die "restore"
rbd_dst info rbd/sample-restored | grep -E "rbd image|size|order|^[[:space:]]*features:" | sed 's/^[[:space:]]*/    /'
rbd_dst snap ls rbd/sample-restored | sed 's/^/    /'

step "Comparing: sha256 of the source snapshot and of the restored image"
SRC_SUM=$(rbd_src export --no-progress "rbd/sample@rbd2s3-$NEWEST" - | sha256sum | cut -d' ' -f1)
DST_SUM=$(rbd_dst export --no-progress rbd/sample-restored - | sha256sum | cut -d' ' -f1)
echo "    source      rbd/sample@rbd2s3-$NEWEST  $SRC_SUM"
echo "    destination rbd/sample-restored              $DST_SUM"
[ "$SRC_SUM" = "$DST_SUM" ] || die "the restored image differs from the source snapshot"
echo
echo "quickstart: OK, restored image is identical"
