#!/usr/bin/env bash
# Virtual-hosted buckets against the sandbox's RGW (its rgw dns name is s3.localhost, and
# curl resolves BUCKET.s3.localhost to loopback itself: S3_VHOST_ENDPOINT):
#  (a) addressing = virtual: a full backup goes to BUCKET.s3.localhost (Host header, no
#      bucket in the path); the aws CLI (path-style) finds its objects in the bucket
#  (b) list and restore with virtual addressing; the restore equals the source snapshot
#  (c) https: list over S3_VHOST_TLS_ENDPOINT, the certificate checked against
#      BUCKET.s3.localhost (its SAN *.s3.localhost)
#  (d) auto with a host that is not AWS's is path-style; virtual with a bucket name that
#      cannot be a DNS label is exit 2 with one line
. "$(dirname "$0")/../lib.sh"

if [ -z "${S3_VHOST_ENDPOINT:-}" ]; then
    bail "$SANDBOX_DIR/env.sh sets no S3_VHOST_ENDPOINT (a sandbox started by an older" \
        "sandbox.sh, without rgw dns name?): restart it with tests/sandbox/sandbox.sh start"
fi
SRC=rbd/$(img vhost)
DST=rbd/$(img vhost-r)
VHOST=${S3_VHOST_ENDPOINT#http://}
RB_ARGS=(--ceph-conf "$SRC_CEPH_CONF" --endpoint "$S3_VHOST_ENDPOINT" --addressing virtual
         --bucket "$BUCKET" --no-progress ${AWS_DEFAULT_REGION:+--region "$AWS_DEFAULT_REGION"})

require "create source image" create_image "$SRC" 16M
require "write data" write_random "$SRC" 0 5M
require "write more data" write_random "$SRC" 9M 3M

# ---------------------------------------------------------------- (a) backup
export RBD2S3_S3_TRACE=2
if do_backup "$SRC"; then ok "full backup with addressing = virtual ($BK_ID)"
else not_ok "full backup with addressing = virtual"; done_testing; fi
unset RBD2S3_S3_TRACE
ID=$BK_ID
trace=$TMPD/backup.1.err
if grep -q "^s3: > Host: $BUCKET\.$VHOST\$" "$trace" &&
        ! grep -q "^s3: > Host: $VHOST\$" "$trace"; then
    ok "every request went to $BUCKET.$VHOST"
else
    not_ok "every request went to $BUCKET.$VHOST"
    grep '^s3: > Host:' "$trace" | sort | uniq -c | head -n 5 | sed 's/^/#   /'
fi
if grep -q "^s3: > [A-Z]* /$BUCKET[/?]" "$trace"; then
    not_ok "no request names the bucket in its path"
    grep "^s3: > [A-Z]* /$BUCKET" "$trace" | head -n 3 | sed 's/^/#   /'
else
    ok "no request names the bucket in its path"
fi
keys=$(bucket_keys "$PREFIX/rbd/$(img vhost)/")
n=$(printf '%s\n' "$keys" | grep -c .)
if [ "$n" -ge 2 ] && printf '%s\n' "$keys" | grep -q "/$ID/"; then
    ok "aws s3api (path-style) finds the backup's $n objects in $BUCKET"
else
    not_ok "aws s3api (path-style) finds the backup's objects in $BUCKET"
    diag "keys: $keys"
fi

# ---------------------------------------------------------------- (b) list, restore
if rb --format json list >"$TMPD/list.json" 2>"$TMPD/list.err"; then
    expect_eq "$(jq -r '.backups[].id' "$TMPD/list.json" | xargs)" "$ID" \
        "list with addressing = virtual shows the backup"
else
    not_ok "list with addressing = virtual"
    sed 's/^/#   /' "$TMPD/list.err"
fi
check "restore with addressing = virtual" rb restore "$SRC" "$DST" \
    --dest-ceph-conf "$DST_CEPH_CONF"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "$SRC@rbd2s3-$ID")" \
    "the restored image equals the source snapshot"

# ---------------------------------------------------------------- (c) https
if [ -n "${S3_VHOST_TLS_ENDPOINT:-}" ] && [ -r "${S3_TLS_CA:-}" ]; then
    if rb --endpoint "$S3_VHOST_TLS_ENDPOINT" --ca-file "$S3_TLS_CA" --format json list \
            >"$TMPD/tls.json" 2>"$TMPD/tls.err"; then
        expect_eq "$(jq -r '.backups[].id' "$TMPD/tls.json" | xargs)" "$ID" \
            "https, virtual: the certificate verified for $BUCKET.s3.localhost, list"
    else
        not_ok "https, virtual: list with the certificate verified"
        sed 's/^/#   /' "$TMPD/tls.err"
    fi
fi

# ---------------------------------------------------------------- (d) auto, bad names
RBD2S3_S3_TRACE=2 rb --addressing auto list >/dev/null 2>"$TMPD/auto.err"
if grep -q "^s3: > Host: $VHOST\$" "$TMPD/auto.err" &&
        grep -q "^s3: > GET /$BUCKET?" "$TMPD/auto.err"; then
    ok "auto: $VHOST is not AWS's, path-style"
else
    not_ok "auto: $VHOST is not AWS's, path-style"
    grep '^s3: > ' "$TMPD/auto.err" | head -n 4 | sed 's/^/#   /'
fi
expect_rc 2 "virtual with bucket Bad_Bucket" bad --bucket Bad_Bucket list
lines=$(awk 'END { print NR }' "$TMPD/bad.err")
if [ "$lines" = 1 ] && grep -q 'DNS label' "$TMPD/bad.err"; then
    ok "one line: $(cat "$TMPD/bad.err")"
else
    not_ok "one line that names the DNS label"
    sed 's/^/#   /' "$TMPD/bad.err"
fi

done_testing
