#!/usr/bin/env bash
# run on several hosts: three `run --until-done --due 1h` with cephx users of the caps the
# README lists and host names a, b, c share one pool's images: each image backed up
# exactly once; one of them killed with SIGKILL midway: the others take its images once
# its locks expire, still once each, nothing of the killed backup visible.
# RUN_HOSTS_IMAGES images (default 200) of 16 MiB, 2 MiB written.
. "$(dirname "$0")/../lib.sh"

N=${RUN_HOSTS_IMAGES:-200}
NS=hosts$TAG                               # a namespace of our own: `images = *` sees only ours
HOSTS="a b c"
ceph_src() { timeout 120 ceph -c "$SRC_CEPH_CONF" "$@"; }

_hosts_exit() {
    local rc=$? h
    for h in $HOSTS; do ceph_src auth del "client.rbd2s3-$h-$TAG" >/dev/null 2>&1; done
    if [ "${KEEP:-0}" != 1 ]; then
        _purge_images "$SRC_CEPH_CONF" "rbd/$NS"
        rbd_src namespace remove "rbd/$NS" >/dev/null 2>&1
    fi
    (exit $rc)
    _lib_exit
}
trap _hosts_exit EXIT

require "create namespace rbd/$NS" rbd_src namespace create "rbd/$NS"
made=0
for i in $(seq 1 "$N"); do
    create_image "rbd/$NS/i$i" 16M && write_random "rbd/$NS/i$i" $(((i % 7) * 1048576)) 2M &&
        made=$((made + 1))
done
require "$N images of 16 MiB with 2 MiB written" test "$made" -eq "$N"

# -- the cephx users: exactly the caps of the README's "Several hosts"
caps=$(sed -n 's/^ceph auth get-or-create client\.rbd2s3-HOST \(.*\)$/\1/p' "$REPO/README.md")
require "the README lists the caps of a host's cephx user" test -n "$caps"
caps=${caps//POOL/rbd}
: >"$TMPD/keyring"
for h in $HOSTS; do
    eval "set -- $caps"
    require "cephx user client.rbd2s3-$h-$TAG ($caps)" \
        ceph_src auth get-or-create "client.rbd2s3-$h-$TAG" "$@" -o "$TMPD/keyring.$h"
    cat "$TMPD/keyring.$h" >>"$TMPD/keyring"
done

cat >"$TMPD/hosts.conf" <<EOF
[global]
lock duration = 10s
lock renewal = 2s

[pool:rbd/$NS]
images = *
EOF

# as_host H ARGS...: rb as host H, with its cephx user (and the config)
as_host() {
    local h=$1
    shift
    CEPH_ARGS="--keyring $TMPD/keyring" rb -c "$TMPD/hosts.conf" --id "rbd2s3-$h-$TAG" \
        --host "$h-$TAG" "$@"
}

# start_host H PREFIX [stopper]: `run --until-done --due 1h` as host H in the
# background, PID_H its very process (not a subshell's: it is stopped and killed); with
# stopper its stderr goes through stop_at_start
start_host() {
    (export CEPH_ARGS="--keyring $TMPD/keyring"
     me=$BASHPID
     err=$TMPD/$2.$1.err
     [ -z "${3:-}" ] || exec 2> >(stop_at_start "$me" "$err")
     [ -n "${3:-}" ] || exec 2>"$err"
     exec "$RBD2S3" "${RB_ARGS[@]}" -c "$TMPD/hosts.conf" --id "rbd2s3-$1-$TAG" \
        --host "$1-$TAG" --prefix "$2" --metrics-file "$TMPD/$2.$1.prom" \
        --format json run --until-done --due 1h >"$TMPD/$2.$1.json") &
    eval "PID_$1=$!"
}

# stop_at_start PID FILE: copy stdin to FILE; while $TMPD/arm exists, SIGSTOP PID at once
# on its next "backing up" line, which then goes into $TMPD/stopped (arm removed)
stop_at_start() {
    local l
    while IFS= read -r l; do
        printf '%s\n' "$l" >>"$2"
        case $l in
        "rbd2s3: backing up "*)
            if [ -e "$TMPD/arm" ]; then
                kill -STOP "$1"
                printf '%s\n' "$l" >"$TMPD/stopped"
                rm -f "$TMPD/arm"
            fi ;;
        esac
    done
}

# manifests PREFIX: "image count" per image with at least one manifest, sorted
manifests() {
    s3api list-objects-v2 --bucket "$BUCKET" --prefix "$1/rbd/$NS/" --output json \
        | jq -r '(.Contents // [])[].Key | select(endswith("/manifest.json"))' \
        | awk -F/ '{print $(NF-2)}' | sort | uniq -c | awk '{print $2, $1}'
}

# once PREFIX WHAT: every image exactly one manifest under PREFIX
once() {
    manifests "$1" >"$TMPD/$1.manifests"
    expect_eq "$(wc -l <"$TMPD/$1.manifests")" "$N" "$2: every image has a backup"
    expect_eq "$(awk '$2 != 1' "$TMPD/$1.manifests" | wc -l)" 0 \
        "$2: no image has more than one" ||
        awk '$2 != 1' "$TMPD/$1.manifests" | head | sed 's/^/#   /'
}

# -- round 1: three hosts started together
for h in $HOSTS; do start_host "$h" p1; done
for h in $HOSTS; do
    pid=PID_$h
    wait "${!pid}"
    expect_eq "$?" 0 "round 1: host $h exits 0" || tail -n 5 "$TMPD/p1.$h.err" | sed 's/^/#   /'
done
once p1 "round 1"
ok_all=$(cat "$TMPD"/p1.?.json | jq -s '[.[][] | select(.result == "ok")] | length')
expect_eq "$ok_all" "$N" "round 1: the hosts report $N backups made, together"
expect_eq "$(cat "$TMPD"/p1.?.json | jq -rs '[.[][] | select(.result != "ok" and
    .result != "skipped")] | length')" 0 "round 1: the rest not due, nothing failed or left"
for h in $HOSTS; do
    n=$(jq '[.[] | select(.result == "ok")] | length' "$TMPD/p1.$h.json")
    m=$(sed -n "s/^rbd2s3_run_images{host=\"$h-$TAG\",result=\"ok\"} //p" "$TMPD/p1.$h.prom")
    expect_eq "$m" "$n" "round 1: host $h's metrics count its $n backups under its host name"
done
diag "backups per host: $(for h in $HOSTS; do printf '%s=%s ' "$h" \
    "$(jq '[.[] | select(.result == "ok")] | length' "$TMPD/p1.$h.json")"; done)"
as_host a --prefix p1 run --due 1h >"$TMPD/again.out" 2>&1
expect_eq "$?" 0 "a run started again exits 0"
expect_eq "$(grep -c 'skipped .*not due: last backup' "$TMPD/again.out")" "$N" \
    "and makes nothing: every image not due"

# -- round 2, on a fresh prefix: host a killed with SIGKILL midway
start_host a p2 stopper
for h in b c; do start_host "$h" p2; done
# Host a is stopped as it starts a backup, once it has started about a sixth of the
# images; if that backup's manifest is there a second later (stopped too late) it goes
# on to its next one; then it is killed there.
k=$((N / 6 + 1))
victim=""
manifest_of() { # POOL/NS/IMAGE@rbd2s3-ID: its manifest's key under p2, if any
    s3api list-objects-v2 --bucket "$BUCKET" --output json \
        --prefix "p2/${1%@*}/${1#*@rbd2s3-}/manifest.json" | jq -r '(.Contents // [])[].Key'
}
for ((t = 0; t < 12000; t++)); do
    [ -z "$victim" ] || break
    kill -0 "$PID_a" 2>/dev/null || break
    if [ -e "$TMPD/stopped" ]; then
        sleep 1                                  # its requests in flight land
        last=$(awk '{print $4}' "$TMPD/stopped")
        rm -f "$TMPD/stopped"
        if [ -z "$(manifest_of "$last")" ]; then
            victim=$last
        else
            touch "$TMPD/arm"
            kill -CONT "$PID_a"
        fi
    elif [ ! -e "$TMPD/arm" ] &&
        [ "$(cat "$TMPD/p2.a.err" 2>/dev/null | grep -c '^rbd2s3: backing up ')" -ge "$k" ]; then
        touch "$TMPD/arm"
    fi
    sleep 0.05
done
kill -9 "$PID_a" 2>/dev/null
kill -CONT "$PID_a" 2>/dev/null
if [ -n "$victim" ]; then
    ok "host a killed while backing up $victim (its backup number $(grep -c \
        '^rbd2s3: backing up ' "$TMPD/p2.a.err"))"
else
    not_ok "host a caught in the middle of a backup"
fi
wait "$PID_a" 2>/dev/null
for h in b c; do
    pid=PID_$h
    wait "${!pid}"
    expect_eq "$?" 0 "round 2: host $h exits 0" || tail -n 5 "$TMPD/p2.$h.err" | sed 's/^/#   /'
done
once p2 "round 2"
vimg=${victim%@*}
vid=${victim#*@rbd2s3-}
check "the image being backed up when host a died was backed up once more" \
    grep -q "^${vimg##*/} 1$" "$TMPD/p2.manifests"
check "no manifest of the killed backup ($vid)" test -z "$(manifest_of "$victim")"
check "hosts b and c went over what host a held again (--until-done)" \
    grep -qh 'images backed up elsewhere; pass' "$TMPD/p2.b.err" "$TMPD/p2.c.err"
rb --prefix p2 verify >"$TMPD/verify.out" 2>"$TMPD/verify.err"
expect_eq "$?" 0 "every manifest of round 2 verifies" ||
    tail -n 5 "$TMPD/verify.err" | sed 's/^/#   /'

# -- an image locked by a live holder of another host: elsewhere, not a failure
I1=rbd/$NS/i1
hdr=rbd_header.$(img_field "$I1" id)
hold() { # SECS: the backup lock of i1 held by "otherhost" for SECS
    timeout 60 rados -c "$SRC_CEPH_CONF" -p rbd --namespace "$NS" lock get "$hdr" \
        rbd2s3-backup --lock-cookie "otherhost:1:1" --lock-duration "$1"
}
printf '[pool:rbd/%s]\nimages = i1\n' "$NS" >"$TMPD/one.conf"
require "i1's lock taken by another host for 120s" hold 120
rb -c "$TMPD/one.conf" --prefix p3 --metrics-file "$TMPD/p3.prom" --format json run \
    >"$TMPD/p3.json" 2>"$TMPD/p3.err"
expect_eq "$?" 0 "run over an image locked elsewhere exits 0"
expect_eq "$(jq -r '.[0].result' "$TMPD/p3.json")" elsewhere "its result is elsewhere"
check "the metrics count it" grep -Eq '^rbd2s3_run_images\{host="[^"]+",result="elsewhere"\} 1$' \
    "$TMPD/p3.prom"
(exec "$RBD2S3" "${RB_ARGS[@]}" -c "$TMPD/one.conf" --prefix p3 --format json run \
    --until-done >"$TMPD/p3u.json" 2>"$TMPD/p3u.err") &
pid=$!
if wait_line "$pid" "$TMPD/p3u.err" 'images backed up elsewhere; pass' 120 "wait"; then
    kill -TERM "$pid"
    wait "$pid"
    expect_eq "$?" 10 "run --until-done stopped by SIGTERM while waiting exits 10"
    expect_eq "$(jq -r '.[0].result' "$TMPD/p3u.json")" elsewhere "the image is still elsewhere"
else
    not_ok "run --until-done waits for an image locked elsewhere"
fi
timeout 60 rados -c "$SRC_CEPH_CONF" -p rbd --namespace "$NS" lock break "$hdr" \
    rbd2s3-backup "$(timeout 60 rados -c "$SRC_CEPH_CONF" -p rbd --namespace "$NS" lock info \
        "$hdr" rbd2s3-backup | jq -r '.lockers[0].name')" --lock-cookie "otherhost:1:1"
require "i1's lock taken by another host for 5s" hold 5
rb -c "$TMPD/one.conf" --prefix p3 --format json run --until-done \
    >"$TMPD/p3e.json" 2>"$TMPD/p3e.err"
expect_eq "$?" 0 "run --until-done over an image whose holder stops renewing exits 0"
expect_eq "$(jq -r '.[0].result' "$TMPD/p3e.json")" ok "and backs it up once the lock expired"

done_testing
