#!/usr/bin/env bash
# s3rver.sh: the second S3 server of the tests, s3rver (npm), on loopback beside the sandbox.
#
#   s3rver.sh install      npm ci of tests/sandbox/s3rver/ (s3rver 3.7.x, its lock file) into
#                          tests/sandbox/s3rver/node_modules (git-ignored); a no-op when there
#   s3rver.sh start DIR    install, then s3rver on a free 127.0.0.1 port with its data in
#                          DIR/data; writes DIR/env.sh (RBD2S3_S3RVER_*); an old one is stopped
#   s3rver.sh stop DIR     kill it (if its command line still names DIR), remove DIR
#   s3rver.sh status DIR   exit 0 if it runs and answers S3
#
# Any failure is one line "s3rver.sh: ..." on stderr and exit 1. Then: . DIR/env.sh, and
# tests/integration/lib.sh with RBD2S3_TEST_S3=s3rver uses it (see tests/sandbox/README.md).
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
PKG=$HERE/s3rver                       # package.json + package-lock.json (tracked)
BIN=$PKG/node_modules/.bin/s3rver
MARKER=.rbd2s3-s3rver                  # DIR is only ever removed if it holds this file
ACCESS_KEY=S3RVER                      # s3rver's fixed default account
SECRET_KEY=S3RVER
WAIT_SECS=${SANDBOX_WAIT_SECS:-60}

log()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
fail() { log "$*"; exit 1; }

# do_install: s3rver in $PKG/node_modules, with the machine's npm (never -g).
do_install() {
    if [ -x "$BIN" ] && node "$BIN" --version >/dev/null 2>&1; then
        return 0
    fi
    command -v node >/dev/null && command -v npm >/dev/null ||
        fail "node or npm missing (tests/install-deps.sh installs Debian's nodejs npm)"
    local out
    out=$(mktemp /tmp/rbd2s3-s3rver-npm.XXXXXX)
    if ! timeout 600 npm ci --prefix "$PKG" --no-audit --no-fund --ignore-scripts \
            --loglevel=error >"$out" 2>&1 </dev/null; then
        fail "npm ci of s3rver failed (offline?): $(grep -m1 -iE 'err' "$out" || tail -n 1 "$out")"
    fi
    rm -f "$out"
    node "$BIN" --version >/dev/null 2>&1 || fail "s3rver installed but does not run ($BIN)"
}

# free_port: a TCP port nobody uses, in the sandbox's range (20000-31999).
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        if ! grep -q -- "$(printf ':%04X ' "$port")" /proc/net/tcp /proc/net/tcp6 2>/dev/null
        then
            echo "$port"
            return 0
        fi
    done
    fail "no free loopback port found"
}

# Is the recorded s3rver alive and ours (its command line names DIR)?
ours_alive() {
    local pid
    pid=$(cat "$SB/pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$SB/data" || return 1
    [ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" != Z ]
}

# answers PORT: an unsigned GET of the service answers with S3 XML (AccessDenied is fine).
answers() {
    curl -s --max-time 5 "http://127.0.0.1:$1/" 2>/dev/null | grep -q '<Error>\|<ListAllMyBuckets'
}

do_stop() {
    [ -e "$SB" ] || return 0
    [ -e "$SB/$MARKER" ] || [ -z "$(ls -A "$SB")" ] ||
        fail "$SB is not an s3rver dir (no $MARKER); not removing it"
    if ours_alive; then
        local pid t
        pid=$(cat "$SB/pid")
        kill -KILL "$pid" 2>/dev/null || true
        for ((t = 0; t < 300; t++)); do ours_alive || break; sleep 0.1; done
        ours_alive && fail "pid $pid does not die"
    fi
    rm -rf -- "$SB"
}

do_start() {
    do_install
    do_stop
    mkdir -p "$SB/data"
    touch "$SB/$MARKER"
    local port t0=$SECONDS
    port=$(free_port)
    # s3rver 3.7 seals ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (node 17
    # and later) offers only in its legacy provider: without it every truncated page is a
    # 500 InternalError (ERR_OSSL_EVP_UNSUPPORTED).
    local legacy=()
    if node --openssl-legacy-provider -e 0 >/dev/null 2>&1; then
        legacy=(--openssl-legacy-provider)
    fi
    setsid node "${legacy[@]}" "$BIN" --directory "$SB/data" --address 127.0.0.1 --port "$port" \
        --no-vhost-buckets </dev/null >>"$SB/s3rver.log" 2>&1 &
    echo $! >"$SB/pid"
    until answers "$port"; do
        ours_alive || fail "s3rver died at start: $(tail -n 3 "$SB/s3rver.log" | tr '\n' ' ')"
        [ $((SECONDS - t0)) -lt "$WAIT_SECS" ] || fail "s3rver does not answer after ${WAIT_SECS}s"
        sleep 0.2
    done
    echo "$port" >"$SB/port"
    cat >"$SB/env.sh" <<EOF
# s3rver in $SB: source me (bash). The test scripts switch to it with RBD2S3_TEST_S3=s3rver.
export RBD2S3_S3RVER_DIR='$SB'
export RBD2S3_S3RVER_ENDPOINT='http://127.0.0.1:$port'
export RBD2S3_S3RVER_ACCESS_KEY='$ACCESS_KEY'
export RBD2S3_S3RVER_SECRET_KEY='$SECRET_KEY'
EOF
    echo "s3rver up: http://127.0.0.1:$port ($(node "$BIN" --version); . $SB/env.sh)"
}

do_status() {
    [ -f "$SB/$MARKER" ] && [ -f "$SB/env.sh" ] && ours_alive || return 1
    answers "$(cat "$SB/port")"
}

case ${1:-} in
    install) [ $# -eq 1 ] || fail "usage: $PROG install"; do_install ;;
    start|stop|status)
        [ $# -eq 2 ] && [ -n "$2" ] || fail "usage: $PROG start|stop|status DIR"
        SB=$(realpath -m -- "$2")
        [ "$SB" != / ] || fail "refusing DIR /"
        "do_$1"
        ;;
    *) fail "usage: $PROG install | start|stop|status DIR" ;;
esac
