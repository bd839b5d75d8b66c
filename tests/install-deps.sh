#!/usr/bin/env bash
# install-deps.sh - install whatever is missing of the Debian 12 packages that
# building rbd2s3 and running its tests need (node and npm for s3rver included). A fast
# no-op when all are present.
# Runs as root (CI) or through sudo.
set -euo pipefail

PKGS=(
    build-essential autoconf automake pkg-config
    librbd-dev librados-dev libcurl4-openssl-dev libssl-dev libxml2-dev
    liblz4-dev libxxhash-dev libjson-c-dev libinih-dev libcmocka-dev
    ceph-mon ceph-osd ceph-common radosgw
    awscli s3cmd lz4 xxhash python3 jq time curl python3-prometheus-client
    groff-base man-db systemd
    clang libclang-rt-14-dev
    libmicrohttpd-dev libfuse3-dev fuse3 fuse2fs qemu-utils qemu-block-extra
    debhelper dh-autoreconf dpkg-dev
)

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done

# s3rver, the second S3 server of the tests, needs node and npm (tests/sandbox/s3rver.sh
# then installs s3rver itself with npm into the tree). A node that comes with its own npm
# (NodeSource, nvm) is used as it is: Debian's nodejs npm only when a command is missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo -n)
fi

echo "install-deps: installing ${missing[*]}"
log=$(mktemp /tmp/rbd2s3-install-deps.XXXXXX)
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -qq -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
if ! { "${SUDO[@]}" apt-get update -qq \
        && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing[@]}"; } \
        >"$log" 2>&1 </dev/null; then
    echo "install-deps: apt-get failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
fi
rm -f "$log"
echo "install-deps: done"
