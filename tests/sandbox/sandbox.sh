#!/usr/bin/env bash
# sandbox.sh: start/stop throwaway Ceph clusters (src with RGW, dst) on loopback for rbd2s3's tests.
#
#   sandbox.sh start  DIR   fresh sandbox in DIR (an old one there is stopped first)
#   sandbox.sh stop   DIR   kill its daemons, remove DIR (idempotent; also after a failed start)
#   sandbox.sh status DIR   exit 0 if every daemon is alive, both clusters answer, and S3 answers
#                           (http, and https with the sandbox's CA)
#   sandbox.sh ensure DIR   status, else stop + start
#   sandbox.sh full   DIR   print the clusters (src, dst) whose OSD reports full, on one
#                           line; exit 0 if any does, 1 if none (Ceph 16's memstore can lose
#                           count of its bytes and call its OSD full: every write then hangs)
#
# Then: . DIR/env.sh   (see tests/sandbox/README.md)
set -euo pipefail

PROG=${0##*/}
MARKER=.rbd2s3-sandbox                 # DIR is only ever removed if it holds this file
OSD_BYTES=${SANDBOX_OSD_BYTES:-12884901888}
OSD_STORE=${SANDBOX_OSD_STORE:-memstore}  # or bluestore: on a sparse file DIR/C/osd.0/block
LC_INTERVAL=${SANDBOX_LC_INTERVAL:-10}
WITH_MGR=${SANDBOX_MGR:-0}             # 1: also a ceph-mgr on src (~300 MB, +5 s), see README
WAIT_SECS=${SANDBOX_WAIT_SECS:-60}     # bound on every wait
ACCESS_KEY=RBD2S3TESTACCESSKEY
SECRET_KEY=rbd2s3testsecretkey0123456789
RGW_NAME=client.rgw.sb
AWS_BIN=/usr/bin/aws                   # not a pyenv shim that may come first on PATH

# The ceph CLI is python; keep it off any pyenv shim and out of the user's config.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
unset CEPH_CONF CEPH_ARGS

log()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
fail() { log "$*"; exit 1; }

case $OSD_STORE in
memstore|bluestore) ;;
*) fail "SANDBOX_OSD_STORE=$OSD_STORE: expected memstore or bluestore" ;;
esac

# ---------------------------------------------------------------- helpers

# Serialise start/stop/ensure on one DIR (parallel test scripts may all call ensure).
# The lock file sits in /tmp because DIR itself comes and goes.
lock_dir() {
    local lock
    lock=/tmp/.rbd2s3-sandbox.$(printf '%s' "$SB" | cksum | cut -d' ' -f1).lock
    exec 9>>"$lock"
    flock -w 300 9 || fail "$SB is locked by another $PROG for 300s ($lock)"
}

# Print the last lines of each named log that exists, for a failure message.
show_logs() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        printf '%s: ---- last lines of %s ----\n' "$PROG" "$f" >&2
        tail -n 25 "$f" >&2
    done
}

# free_port [TAKEN...]: a TCP port nobody uses, outside 6789, the OSD range
# 6800-7300 and the ephemeral range, and not one of TAKEN.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        case " $* " in *" $port "*) continue ;; esac
        if ! grep -q -- "$(printf ':%04X ' "$port")" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    fail "no free loopback port found"
}

# Start a daemon in its own session, stdio detached, and record its pid at once so
# that stop can kill it even if everything after this fails.
#   spawn NAME LOGFILE CMD...
spawn() {
    local name=$1 out=$2
    shift 2
    setsid "$@" </dev/null >>"$out" 2>&1 9>&- &
    echo "$! $name" >>"$SB/pids"
}

# pid_of NAME -> pid recorded for that daemon (empty if none)
pid_of() {
    [ -f "$SB/pids" ] || return 0
    awk -v n="$1" '$2 == n { p = $1 } END { if (p) print p }' "$SB/pids"
}

# Is PID alive and one of ours (its command line names this sandbox's dir)?
ours_alive() {
    local pid=$1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$SB/" || return 1
    # a zombie is not alive
    [ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" != Z ]
}

# wait_until WHAT DAEMON LOG CMD...: run CMD until it succeeds; give up after WAIT_SECS
# or as soon as DAEMON (a name in the pids file) has died.
wait_until() {
    local what=$1 daemon=$2 logf=$3
    shift 3
    local deadline=$((SECONDS + WAIT_SECS))
    until "$@" >/dev/null 2>&1; do
        if [ -n "$daemon" ] && ! ours_alive "$(pid_of "$daemon")"; then
            show_logs "$logf" "$SB/log/$daemon.out"
            fail "$what: $daemon died"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_logs "$logf" "$SB/log/$daemon.out"
            fail "$what: not after ${WAIT_SECS}s"
        fi
        sleep 0.2
    done
}

# ceph CLI against cluster C, bounded so that a dead monitor cannot hang us.
cephc() {
    local c=$1
    shift
    timeout 30 ceph -c "$SB/$c/ceph.conf" --connect-timeout 10 "$@"
}

# step C WHAT CMD...: a bounded setup command; its output goes to DIR/log/C-setup.out.
step() {
    local c=$1 what=$2 rc=0
    shift 2
    timeout "$WAIT_SECS" "$@" >>"$SB/log/$c-setup.out" 2>&1 || rc=$?
    [ "$rc" = 0 ] && return 0
    show_logs "$SB/log/$c-setup.out" "$SB/log/$c-osd.0.log"
    [ "$rc" != 124 ] || fail "$c: $what: timed out after ${WAIT_SECS}s"
    fail "$c: $what failed (exit $rc)"
}

# ---------------------------------------------------------------- start steps

# Directory layout. Unix sockets live in a short run dir: DIR/C/run if DIR is short,
# else a mktemp dir under /tmp whose path is recorded in DIR/sockdir.
make_layout() {
    local longest="$SB/src/run/ceph-$RGW_NAME.asok"
    mkdir -p "$SB/log"
    : >"$SB/$MARKER"
    if [ ${#longest} -le 100 ]; then
        SOCK=$SB
    else
        SOCK=$(mktemp -d /tmp/rbd2s3sb.XXXXXX)
        echo "$SOCK" >"$SB/sockdir"
    fi
    local c
    for c in src dst; do
        mkdir -p "$SB/$c/mon" "$SB/$c/osd.0" "$SOCK/$c/run"
    done
    mkdir -p "$SB/src/rgw"
}

# make_tls: a throwaway CA and a server certificate for 127.0.0.1 and localhost, in
# DIR/tls/ (EC P-256 keys: generating them takes milliseconds, unlike RSA).
#   ca.pem      the CA certificate (what clients trust: S3_TLS_CA)
#   ca.key      its key (kept so that a test could sign another certificate)
#   server.pem  the RGW certificate, signed by the CA, SAN IP:127.0.0.1, DNS:localhost and
#               DNS:*.s3.localhost (virtual-hosted buckets: RGW's dns name s3.localhost)
#   server.key  its key
make_tls() {
    local t=$SB/tls
    mkdir -p "$t"
    cat >"$t/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = rbd2s3 sandbox
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:s3.localhost, DNS:*.s3.localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    # each sandbox's CA gets a distinct name, so that two of them are never confused
    step tls "create the CA" openssl req -config "$t/openssl.cnf" -x509 -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -extensions v3_ca \
        -subj "/O=rbd2s3 sandbox/CN=rbd2s3 sandbox CA $(basename "$SB") $(date +%s)" \
        -keyout "$t/ca.key" -out "$t/ca.pem"
    step tls "create the server key" openssl req -config "$t/openssl.cnf" -new -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=rbd2s3 sandbox/CN=127.0.0.1" \
        -keyout "$t/server.key" -out "$t/server.csr"
    step tls "sign the server certificate" openssl x509 -req -in "$t/server.csr" \
        -CA "$t/ca.pem" -CAkey "$t/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 365 -extfile "$t/openssl.cnf" -extensions v3_server -out "$t/server.pem"
    chmod 600 "$t/ca.key" "$t/server.key"
    rm -f "$t/server.csr"
}

# write_conf C MONPORT [RGWPORT RGWTLSPORT]
write_conf() {
    local c=$1 mport=$2 rport=${3:-} sport=${4:-} d=$SB/$1 run=$SOCK/$1/run
    cat >"$d/ceph.conf" <<EOF
# throwaway cluster "$c" of the rbd2s3 sandbox in $SB
[global]
fsid = $(cat "$d/fsid")
mon host = v1:127.0.0.1:$mport
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $d/keyring
run dir = $run
crash dir = $d/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on msgr2 not enabled = false

[client]
client mount timeout = 30

[mon]
mon data = $d/mon
mon initial members = a
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.1
mon warn on insecure global id reclaim allowed = false
mon mgr mkfs grace = 31536000
mon cluster log file = $SB/log/$c-mon.\$channel.log
admin socket = $run/\$name.asok
log file = $SB/log/$c-\$name.log
pid file = $run/\$name.pid

[mon.a]
mon addr = v1:127.0.0.1:$mport

[osd]
$(store_conf)
osd data = $d/osd.\$id
keyring = $d/osd.\$id/keyring
osd crush initial weight = 1
osd check max object name len on startup = false
# One PG trims removed snapshots at a time: memstore's omap iterator is not safe against
# a concurrent change of the OSD's shared snapmapper object (seen: ceph-osd 16.2.15
# segfaulting in MemStore::OmapIteratorImpl::value under SnapMapper::get_next_objects_to_trim).
# memstore does not say it is solid state, so the OSD sleeps osd_snap_trim_sleep_hdd (5 s)
# between trim batches: removed snapshots' clones stay in RAM for hours, and a sandbox that
# takes a few dozen snapshots of a 2 GiB image fills its OSD. Tests and the benchmark take
# far fewer; nothing in the agent waits for trimming.
osd max trimming pgs = 1
admin socket = $run/\$name.asok
log file = $SB/log/$c-\$name.log
pid file = $run/\$name.pid

[mgr]
mgr data = $d/\$name
admin socket = $run/\$name.asok
log file = $SB/log/$c-\$name.log
pid file = $run/\$name.pid
EOF
    [ -n "$rport" ] || return 0
    cat >>"$d/ceph.conf" <<EOF

[$RGW_NAME]
rgw frontends = beast endpoint=127.0.0.1:$rport ssl_endpoint=127.0.0.1:$sport ssl_certificate=$SB/tls/server.pem ssl_private_key=$SB/tls/server.key tcp_nodelay=1
rgw data = $d/rgw
rgw thread pool size = 64
rgw lc debug interval = $LC_INTERVAL
rgw lifecycle work time = 00:00-23:59
rgw gc obj min wait = 10
rgw gc processor period = 10
rgw gc processor max time = 10
rgw dynamic resharding = false
rgw enable usage log = false
rgw dns name = s3.localhost
admin socket = $run/\$name.asok
log file = $SB/log/$c-\$name.log
pid file = $run/\$name.pid
EOF
}

# The [osd] lines of the chosen object store.
store_conf() {
    case $OSD_STORE in
    memstore)
        printf '%s\n' 'osd objectstore = memstore' "memstore device bytes = $OSD_BYTES" ;;
    bluestore)
        printf '%s\n' 'osd objectstore = bluestore' 'bluestore block create = true' \
            "bluestore block size = $OSD_BYTES" 'bluestore fsck on mount = false' \
            'osd memory target = 1073741824' ;;
    esac
}

authtool() { ceph-authtool "$@" >/dev/null; }

# Keys: mon. in the monitor's keyring only; admin and rgw in DIR/C/keyring, osd.0 in
# its own keyring. All are loaded into the monitor at mkfs, so no `ceph auth` later.
make_keys() {
    local d=$SB/$1
    uuidgen >"$d/fsid"
    uuidgen >"$d/osd.0/fsid"
    authtool --create-keyring "$d/keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
    authtool "$d/keyring" --gen-key -n "$RGW_NAME" \
        --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw'
    authtool --create-keyring "$d/osd.0/keyring" --gen-key -n osd.0 \
        --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
    if [ "$1" = src ] && [ "$WITH_MGR" = 1 ]; then
        authtool "$d/keyring" --gen-key -n mgr.x \
            --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *'
    fi
    authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
    authtool "$d/mon.keyring" --import-keyring "$d/keyring"
    authtool "$d/mon.keyring" --import-keyring "$d/osd.0/keyring"
}

mkfs_mon() {
    local c=$1 d=$SB/$1 mport=$2
    monmaptool --create --clobber --fsid "$(cat "$d/fsid")" \
        --addv a "[v1:127.0.0.1:$mport]" "$d/monmap" >/dev/null
    ceph-mon -c "$d/ceph.conf" --mkfs -i a --monmap "$d/monmap" --keyring "$d/mon.keyring" \
        >>"$SB/log/$c-mon.a.out" 2>&1 ||
        { show_logs "$SB/log/$c-mon.a.out"; fail "$c: mon mkfs failed"; }
}

mkfs_osd() {
    local c=$1 d=$SB/$1
    ceph-osd -c "$d/ceph.conf" --no-mon-config --mkfs -i 0 --osd-uuid "$(cat "$d/osd.0/fsid")" \
        >>"$SB/log/$c-osd.0.out" 2>&1 ||
        { show_logs "$SB/log/$c-osd.0.out" "$SB/log/$c-osd.0.log"; fail "$c: osd mkfs failed"; }
}

osd_is_up() {
    cephc "$1" osd stat -f json | grep -q '"num_up_osds":1'
}

mgr_is_active() {
    cephc "$1" mgr stat | grep -q '"available": true'
}

# One cluster: mon, osd, pools. Runs in the background for src and dst at once.
start_cluster() {
    local c=$1 mport=$2 rport=${3:-} sport=${4:-} d=$SB/$1
    make_keys "$c"
    write_conf "$c" "$mport" "$rport" "$sport"
    mkfs_mon "$c" "$mport"
    mkfs_osd "$c"

    spawn "$c-mon.a" "$SB/log/$c-mon.a.out" ceph-mon -f -c "$d/ceph.conf" -i a
    wait_until "$c: monitor quorum" "$c-mon.a" "$SB/log/$c-mon.a.log" cephc "$c" mon stat

    # Register osd.0 and create the pools in one CLI run (each ceph run costs ~0.5 s).
    {
        echo "osd new $(cat "$d/osd.0/fsid") 0"
        echo "osd pool create rbd 8 8"
        if [ "$c" = src ]; then echo "osd pool create rbd2 8 8"; fi
    } | step "$c" "osd/pool setup" ceph -c "$d/ceph.conf" --connect-timeout 10

    spawn "$c-osd.0" "$SB/log/$c-osd.0.out" ceph-osd -f -c "$d/ceph.conf" -i 0
    wait_until "$c: osd.0 up" "$c-osd.0" "$SB/log/$c-osd.0.log" osd_is_up "$c"

    if [ "$c" = src ] && [ "$WITH_MGR" = 1 ]; then
        mkdir -p "$d/mgr.x"
        spawn "$c-mgr.x" "$SB/log/$c-mgr.x.out" ceph-mgr -f -c "$d/ceph.conf" -i x
    fi

    local pool
    for pool in rbd $([ "$c" = src ] && echo rbd2); do
        step "$c" "rbd pool init $pool" rbd -c "$d/ceph.conf" pool init "$pool"
    done
    if [ "$c" = src ] && [ "$WITH_MGR" = 1 ]; then
        wait_until "$c: mgr active" "$c-mgr.x" "$SB/log/$c-mgr.x.log" mgr_is_active "$c"
    fi
    if [ "$c" = src ]; then
        step "$c" "rbd namespace create rbd/ns1" rbd -c "$d/ceph.conf" namespace create rbd/ns1
    fi
}

s3_answers() {
    curl -sf --max-time 5 "http://127.0.0.1:$1/" | grep -q ListAllMyBucketsResult
}

# https, verified against the sandbox's CA
s3_tls_answers() {
    curl -sf --max-time 5 --cacert "$SB/tls/ca.pem" "https://127.0.0.1:$1/" |
        grep -q ListAllMyBucketsResult
}

# A storage class besides STANDARD in the default placement (RGW 16 refuses a class its
# placement does not define with InvalidStorageClass), for `storage class` tests. The
# zonegroup exists once RGW ran: added then, and RGW started again to read it.
RGW_EXTRA_CLASS=STANDARD_IA

spawn_rgw() {
    local rport=$1 sport=$2 d=$SB/src
    spawn "src-rgw" "$SB/log/src-rgw.out" radosgw -f -c "$d/ceph.conf" -n "$RGW_NAME"
    wait_until "src: rgw answers S3 on port $rport" src-rgw "$SB/log/src-$RGW_NAME.log" \
        s3_answers "$rport"
    wait_until "src: rgw answers S3 over https on port $sport" src-rgw \
        "$SB/log/src-$RGW_NAME.log" s3_tls_answers "$sport"
}

start_rgw() {
    local rport=$1 sport=$2 d=$SB/src pid t
    spawn_rgw "$rport" "$sport"
    step src "radosgw-admin user create" radosgw-admin -c "$d/ceph.conf" user create \
        --uid=rbd2s3 --display-name="rbd2s3 sandbox" \
        --access-key="$ACCESS_KEY" --secret="$SECRET_KEY"
    step src "radosgw-admin zonegroup placement add $RGW_EXTRA_CLASS" radosgw-admin \
        -c "$d/ceph.conf" zonegroup placement add --rgw-zonegroup default \
        --placement-id default-placement --storage-class "$RGW_EXTRA_CLASS"
    step src "radosgw-admin zone placement add $RGW_EXTRA_CLASS" radosgw-admin \
        -c "$d/ceph.conf" zone placement add --rgw-zone default \
        --placement-id default-placement --storage-class "$RGW_EXTRA_CLASS" \
        --data-pool default.rgw.buckets.data
    pid=$(pid_of src-rgw)
    kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < WAIT_SECS * 10; t++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    spawn_rgw "$rport" "$sport"
}

# Client configuration: env.sh, awscli files, s3cmd file.
write_client_files() {
    local rport=$1 sport=$2 ep=http://127.0.0.1:$1
    mkdir -p "$SB/aws"
    cat >"$SB/aws/config" <<EOF
[default]
region = us-east-1
output = json
request_checksum_calculation = when_required
response_checksum_validation = when_required
s3 =
    addressing_style = path
    signature_version = s3v4
EOF
    cat >"$SB/aws/credentials" <<EOF
[default]
aws_access_key_id = $ACCESS_KEY
aws_secret_access_key = $SECRET_KEY
EOF
    cat >"$SB/s3cfg" <<EOF
[default]
access_key = $ACCESS_KEY
secret_key = $SECRET_KEY
host_base = 127.0.0.1:$rport
host_bucket = 127.0.0.1:$rport
bucket_location = us-east-1
use_https = False
signature_v2 = False
check_ssl_certificate = False
guess_mime_type = False
EOF
    cat >"$SB/env.sh" <<EOF
# rbd2s3 sandbox in $SB: source me (bash).
export SANDBOX_DIR='$SB'
export SRC_CEPH_CONF='$SB/src/ceph.conf'
export DST_CEPH_CONF='$SB/dst/ceph.conf'
export S3_ENDPOINT='$ep'
export S3_TLS_ENDPOINT='https://127.0.0.1:$sport'
export S3_TLS_CA='$SB/tls/ca.pem'
export S3_VHOST_ENDPOINT='http://s3.localhost:$rport'
export S3_VHOST_TLS_ENDPOINT='https://s3.localhost:$sport'
export AWS_ACCESS_KEY_ID='$ACCESS_KEY'
export AWS_SECRET_ACCESS_KEY='$SECRET_KEY'
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE='$SB/aws/config'
export AWS_SHARED_CREDENTIALS_FILE='$SB/aws/credentials'
export AWS_PAGER=
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
s3api()    { $AWS_BIN --endpoint-url "\$S3_ENDPOINT" s3api "\$@"; }
s3cli()    { $AWS_BIN --endpoint-url "\$S3_ENDPOINT" s3 "\$@"; }
s3cmd_sb() { s3cmd -c "\$SANDBOX_DIR/s3cfg" "\$@"; }
if [ -n "\${BASH_VERSION:-}" ]; then export -f s3api s3cli s3cmd_sb; fi
EOF
}

# On a failed start: kill what was started (the logs stay in DIR) unless asked not to.
on_start_exit() {
    local rc=$?
    [ "$rc" -ne 0 ] && [ "$BASHPID" = "$MAIN_PID" ] || return 0
    if [ "${SANDBOX_KEEP_ON_FAILURE:-0}" = 1 ]; then
        log "start failed; daemons left running; logs in $SB/log; '$PROG stop $SB' cleans up"
    else
        kill_daemons
        log "start failed; logs kept in $SB/log; '$PROG stop $SB' removes it"
    fi
    exit "$rc"
}

do_start() {
    if [ -e "$SB" ]; then
        if [ -e "$SB/$MARKER" ]; then
            do_stop
        elif [ -n "$(ls -A "$SB")" ]; then
            fail "$SB exists, is not empty and is not a sandbox; refusing to use it"
        fi
    fi
    local t0=$SECONDS
    MAIN_PID=$BASHPID
    trap on_start_exit EXIT
    make_layout

    local src_mon dst_mon rgw rgw_tls
    src_mon=$(free_port)
    dst_mon=$(free_port "$src_mon")
    rgw=$(free_port "$src_mon" "$dst_mon")
    rgw_tls=$(free_port "$src_mon" "$dst_mon" "$rgw")
    echo "src_mon=$src_mon dst_mon=$dst_mon rgw=$rgw tls=$rgw_tls" >"$SB/ports"
    make_tls

    local psrc pdst rc=0
    start_cluster src "$src_mon" "$rgw" "$rgw_tls" & psrc=$!
    start_cluster dst "$dst_mon" & pdst=$!
    wait "$psrc" || rc=1
    wait "$pdst" || rc=1
    [ "$rc" = 0 ] || fail "a cluster failed to start"

    start_rgw "$rgw" "$rgw_tls"
    write_client_files "$rgw" "$rgw_tls"
    trap - EXIT
    echo "sandbox up: src=$SB/src/ceph.conf dst=$SB/dst/ceph.conf" \
        "s3=http://127.0.0.1:$rgw s3tls=https://127.0.0.1:$rgw_tls" \
        "($((SECONDS - t0))s; . $SB/env.sh)"
}

# ---------------------------------------------------------------- stop / status

# SIGKILL every recorded daemon that is still ours, then wait for them to go.
# (SIGKILL on purpose: a memstore OSD writes its whole store to disk on a clean stop.)
kill_daemons() {
    [ -f "$SB/pids" ] || return 0
    local pid name pids=()
    while read -r pid name; do
        if ours_alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done <"$SB/pids"
    local deadline=$((SECONDS + 30)) p
    for p in "${pids[@]}"; do
        while ours_alive "$p"; do
            [ "$SECONDS" -lt "$deadline" ] || fail "pid $p does not die"
            sleep 0.1
        done
    done
}

do_stop() {
    [ -e "$SB" ] || return 0
    [ -e "$SB/$MARKER" ] || [ -z "$(ls -A "$SB")" ] ||
        fail "$SB is not a sandbox (no $MARKER); not removing it"
    kill_daemons
    if [ -f "$SB/sockdir" ]; then
        local s
        s=$(cat "$SB/sockdir")
        case $s in /tmp/rbd2s3sb.*) rm -rf -- "$s" ;; esac
    fi
    rm -rf -- "$SB"
}

do_status() {
    [ -f "$SB/$MARKER" ] && [ -f "$SB/pids" ] && [ -f "$SB/env.sh" ] || return 1
    local name names="src-mon.a src-osd.0 dst-mon.a dst-osd.0 src-rgw"
    [ -z "$(pid_of src-mgr.x)" ] || names="$names src-mgr.x"
    for name in $names; do
        ours_alive "$(pid_of "$name")" || { log "$name is not running"; return 1; }
    done
    local rgw
    rgw=$(sed -n 's/.*rgw=\([0-9]*\).*/\1/p' "$SB/ports")
    s3_answers "$rgw" || { log "S3 does not answer on port $rgw"; return 1; }
    # a sandbox started before https support has no tls= port; it is still usable
    local tls
    tls=$(sed -n 's/.* tls=\([0-9]*\).*/\1/p' "$SB/ports")
    if [ -n "$tls" ]; then
        s3_tls_answers "$tls" || { log "S3 does not answer https on port $tls"; return 1; }
    fi
    local c
    for c in src dst; do
        osd_is_up "$c" || { log "$c: cluster does not answer or osd.0 is down"; return 1; }
    done
}

do_full() {
    local c full=()
    for c in src dst; do
        cephc "$c" health detail 2>/dev/null | grep -q OSD_FULL && full+=("$c")
    done
    [ ${#full[@]} -gt 0 ] && echo "${full[*]}"
}

# ---------------------------------------------------------------- main

usage() {
    echo "usage: $PROG start|stop|status|ensure|full DIR" >&2
    exit 2
}

if [ $# -ne 2 ] || [ -z "$2" ]; then usage; fi
SB=$(realpath -m -- "$2")
[ "$SB" != / ] || usage
SOCK=$SB

case $1 in
    start)  lock_dir; do_start ;;
    stop)   lock_dir; do_stop ;;
    status) do_status ;;
    full)   do_full ;;
    ensure)
        lock_dir
        if do_status 2>/dev/null; then
            echo "sandbox up: $SB (already running; . $SB/env.sh)"
        else
            do_start
        fi
        ;;
    *) usage ;;
esac
