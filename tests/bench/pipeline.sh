#!/usr/bin/env bash
# pipeline.sh - the shell pipelines users run today, which tests/bench/run.sh compares
# rbd2s3 with (see /work/shared/DESIGN.md, "Speed and memory"):
#
#   pipeline.sh backup  CEPH_CONF POOL/IMAGE@SNAP s3://BUCKET/KEY [FROM_SNAP]
#       rbd export-diff [--from-snap FROM_SNAP] POOL/IMAGE@SNAP - | lz4 -1 | aws s3 cp - s3://...
#   pipeline.sh restore CEPH_CONF s3://BUCKET/KEY POOL/IMAGE
#       aws s3 cp s3://... - | lz4 -d | rbd import-diff - POOL/IMAGE   (the image must exist)
#
# S3_ENDPOINT and the AWS_* variables come from the environment (the sandbox's env.sh).
# Exits non-zero if any command of the pipeline fails.
set -euo pipefail
AWS=${AWS_BIN:-/usr/bin/aws}
: "${S3_ENDPOINT:?S3_ENDPOINT is not set}"

case ${1:-} in
    backup)
        [ $# -ge 4 ] || { echo "usage: $0 backup CONF SPEC@SNAP s3://B/K [FROM_SNAP]" >&2; exit 2; }
        from=()
        [ -n "${5:-}" ] && from=(--from-snap "$5")
        rbd -c "$2" export-diff --no-progress "${from[@]}" "$3" - \
            | lz4 -1 -q -c \
            | "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors - "$4"
        ;;
    restore)
        [ $# -eq 4 ] || { echo "usage: $0 restore CONF s3://B/K POOL/IMAGE" >&2; exit 2; }
        "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$3" - \
            | lz4 -d -q -c \
            | rbd -c "$2" import-diff --no-progress - "$4"
        ;;
    *)
        echo "usage: $0 backup|restore ..." >&2
        exit 2
        ;;
esac
