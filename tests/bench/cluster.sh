# shellcheck shell=bash
# cluster.sh - sourced by tests/bench/run.sh: the sandbox the benchmark runs against (a
# given one or a private one, restarted empty between groups), its command lines, and the
# memory watchdog. Definitions only.

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

# open_sandbox: use the sandbox given by --sandbox, or start a private one in $TMPD/sb
# (refused when BlueStore's block files could fill the disk).
open_sandbox() {
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
}
