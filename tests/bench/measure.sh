# shellcheck shell=bash
# measure.sh - sourced by tests/bench/run.sh: the timed runs (elapsed time, max RSS, the
# CPU of the tool and of the sandbox's daemons, one row each in $RESULTS), the idle wait
# before each, and the reference figures recorded as #info rows.

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

# timed SCEN ROW ROUND CMD...: run CMD under /usr/bin/time (elapsed, max RSS of the
# largest process; for a pipeline that is its largest member) and record the result.
# Sets T_EL, T_RSS, T_OUT (stdout file). Stops the run if CMD fails.
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

