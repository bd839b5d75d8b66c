#!/usr/bin/env bash
# https to the sandbox's RGW (S3_TLS_ENDPOINT, certificate signed by the sandbox's own CA,
# S3_TLS_CA; see tests/sandbox/README.md):
#  (a) without that CA the certificate is refused: exit code 1, exactly one stderr line
#      "rbd2s3: ...: TLS certificate verification failed: ...", one attempt (a failed
#      verification is final, not retried), and nothing changed (snapshots, bucket);
#      likewise with an unreadable CA file and with a CA bundle that does not hold the CA
#  (b) with --ca-file: a full and an incremental backup, and their restore into the
#      destination cluster equals `rbd export` of the source snapshot
#  (c) --insecure (no verification; documented as unsafe) lists the backups
#  (d) the config-file key `ca file = PATH` works as --ca-file (an incremental and list)
. "$(dirname "$0")/../lib.sh"

if [ -z "${S3_TLS_ENDPOINT:-}" ] || [ -z "${S3_TLS_CA:-}" ]; then
    bail "$SANDBOX_DIR/env.sh sets no S3_TLS_ENDPOINT/S3_TLS_CA (a sandbox started by an" \
        "older sandbox.sh?): restart it with tests/sandbox/sandbox.sh start"
fi
[ -r "$S3_TLS_CA" ] || bail "cannot read S3_TLS_CA=$S3_TLS_CA"

SRC=rbd/$(img tls)
DST=rbd/$(img tls-r)
CASE_TIMEOUT=${CASE_TIMEOUT:-120}
SYSTEM_CA=/etc/ssl/certs/ca-certificates.crt

# rbd2s3 over https with the sandbox's settings (no CA option), bounded by CASE_TIMEOUT:
#   rbt [GLOBAL OPTIONS] COMMAND ARGS...
rbt() {
    timeout -k 5 "$CASE_TIMEOUT" "$RBD2S3" --ceph-conf "$SRC_CEPH_CONF" \
        --endpoint "$S3_TLS_ENDPOINT" --bucket "$BUCKET" --no-progress \
        ${AWS_DEFAULT_REGION:+--region "$AWS_DEFAULT_REGION"} "$@"
}

state() {
    echo "== source snapshots"
    rbd_src snap ls --format json "$SRC" | jq -c '[.[] | {id, name}]'
    echo "== bucket (listed over http)"
    bucket_listing
    echo "== multipart uploads"
    s3api list-multipart-uploads --bucket "$BUCKET" --output json |
        jq -c '[(.Uploads // [])[] | .Key]'
}

# refused DESC CMD...: CMD must fail with exit code 1, one stderr line "rbd2s3: ..." that
# says the certificate could not be verified, and change nothing.
refused() {
    local desc=$1 rc lines before after
    shift
    before=$(state)
    "$@" >"$TMPD/case.out" 2>"$TMPD/case.err" </dev/null
    rc=$?
    after=$(state)
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        not_ok "$desc: finished within ${CASE_TIMEOUT}s"
    fi
    # a TLS failure has no exit code of its own: 1, "any other failure"
    expect_eq "$rc" 1 "$desc: exit code 1"
    lines=$(awk 'END { print NR }' "$TMPD/case.err")
    if [ "$lines" = 1 ] && grep -q '^rbd2s3: .*TLS certificate verification failed: ' \
            "$TMPD/case.err"; then
        ok "$desc: one error line: $(head -c 300 "$TMPD/case.err")"
    else
        not_ok "$desc: exactly one stderr line 'rbd2s3: ...TLS certificate verification" \
            "failed: ...' (got $lines lines)"
        head -n 15 "$TMPD/case.err" | sed 's/^/#   stderr: /'
    fi
    if [ -s "$TMPD/case.out" ]; then
        not_ok "$desc: nothing on stdout"
        head -n 5 "$TMPD/case.out" | sed 's/^/#   stdout: /'
    fi
    if [ "$before" = "$after" ]; then
        ok "$desc: nothing changed"
    else
        not_ok "$desc: nothing changed"
        diff <(echo "$before") <(echo "$after") | head -n 20 | sed 's/^/#   /'
    fi
}

require "create source image" create_image "$SRC" 24M
require "write data" write_random "$SRC" 0 6M
require "write more data" write_random "$SRC" 16M 2M

# ---------------------------------------------------------------- (a) no CA: refused
refused "backup without the CA" rbt backup "$SRC"
refused "list without the CA" rbt list
if grep -q 'unable to get local issuer certificate' "$TMPD/case.err"; then
    ok "the error line carries curl's reason"
else
    not_ok "the error line carries curl's reason"
    sed 's/^/#   /' "$TMPD/case.err"
fi
refused "backup with an unreadable CA file" rbt --ca-file "$TMPD/no-such-ca.pem" backup "$SRC"
if [ -r "$SYSTEM_CA" ]; then
    refused "backup with the system CA bundle (not the sandbox's CA)" \
        rbt --ca-file "$SYSTEM_CA" backup "$SRC"
fi

# A failed verification is final: one attempt, no retry (the trace prints each attempt).
RBD2S3_S3_TRACE=1 rbt list >/dev/null 2>"$TMPD/trace.err" </dev/null
n=$(grep -c '^s3: GET ' "$TMPD/trace.err")
expect_eq "$n" 1 "a failed verification is not retried (attempts)" ||
    sed 's/^/#   /' "$TMPD/trace.err"

# ---------------------------------------------------------------- (b) --ca-file
RB_ARGS=(--ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_TLS_ENDPOINT" --ca-file "$S3_TLS_CA"
         --bucket "$BUCKET" --no-progress ${AWS_DEFAULT_REGION:+--region "$AWS_DEFAULT_REGION"})

if do_backup "$SRC"; then ok "full backup over https with --ca-file ($BK_ID)"
else not_ok "full backup over https with --ca-file"; done_testing; fi
ID1=$BK_ID
expect_eq "$BK_TYPE" full "first backup is full"

require "change the source" write_random "$SRC" 4M 3M
if do_backup "$SRC"; then ok "incremental backup over https with --ca-file ($BK_ID)"
else not_ok "incremental backup over https with --ca-file"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_TYPE" incremental "second backup is incremental"
expect_eq "$BK_PARENT" "$ID1" "its parent is the full"

check "restore over https into the destination cluster" \
    rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"
want=$(img_sum "$SRC@rbd2s3-$ID2")
got=$(img_sum "$DST" "$DST_CEPH_CONF")
expect_eq "$got" "$want" "restored image equals the source snapshot rbd2s3-$ID2"

# ---------------------------------------------------------------- (c) --insecure
if rbt --insecure --format json list >"$TMPD/insecure.json" 2>"$TMPD/insecure.err" </dev/null
then
    ok "--insecure: list over https without a CA"
    ids=$(jq -r '.backups[].id' "$TMPD/insecure.json" | LC_ALL=C sort -u | xargs)
    expect_eq "$ids" "$ID1 $ID2" "--insecure: list shows both backups"
else
    not_ok "--insecure: list over https without a CA"
    sed 's/^/#   /' "$TMPD/insecure.err"
fi

# ---------------------------------------------------------------- (d) ca file = in config
cat >"$TMPD/tls.conf" <<EOF
# rbd2s3 config for test_tls: only the CA comes from here
[global]
ca file = $S3_TLS_CA
EOF
RB_ARGS=(-c "$TMPD/tls.conf" --ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_TLS_ENDPOINT"
         --bucket "$BUCKET" --no-progress ${AWS_DEFAULT_REGION:+--region "$AWS_DEFAULT_REGION"})
require "change the source again" write_random "$SRC" 20M 1M
if do_backup "$SRC"; then
    ok "'ca file' in the config file: incremental backup over https ($BK_ID)"
    ID3=$BK_ID
    expect_eq "$BK_PARENT" "$ID2" "'ca file': its parent is the previous backup"
else
    not_ok "'ca file' in the config file: incremental backup over https"
    ID3=none
fi
if rb --format json list >"$TMPD/cfg.json" 2>"$TMPD/cfg.err" </dev/null; then
    ids=$(jq -r '.backups[].id' "$TMPD/cfg.json" | LC_ALL=C sort -u | xargs)
    expect_eq "$ids" "$ID1 $ID2 $ID3" "'ca file': list over https shows the three backups"
else
    not_ok "'ca file': list over https"
    sed 's/^/#   /' "$TMPD/cfg.err"
fi

done_testing
