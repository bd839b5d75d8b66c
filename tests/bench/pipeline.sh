#!/usr/bin/env bash
# pipeline.sh - the shell pipelines users run today, which tests/bench/run.sh compares
# rbd2s3 with (the speed and memory targets of doc/design.md, listed in README.md here):
#
#   pipeline.sh backup  CEPH_CONF POOL/IMAGE@SNAP s3://BUCKET/KEY [FROM_SNAP]
#       rbd snap create POOL/IMAGE@SNAP
#       rbd export-diff [--from-snap FROM_SNAP] POOL/IMAGE@SNAP - | lz4 -1 | aws s3 cp - s3://...
#       rbd snap rm POOL/IMAGE@FROM_SNAP      (an incremental keeps only the newest snapshot)
#   pipeline.sh restore CEPH_CONF s3://BUCKET/KEY POOL/IMAGE [SIZE_MIB]
#       rbd create --size SIZE_MIB POOL/IMAGE  (when SIZE_MIB is given)
#       aws s3 cp s3://... - | lz4 -d | rbd import-diff - POOL/IMAGE
#
# These are the steps an operator's script runs, so the timed work matches rbd2s3's:
# it too creates its snapshot, removes the previous one, and creates the target image.
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
        rbd -c "$2" snap create --no-progress "$3"
        rbd -c "$2" export-diff --no-progress "${from[@]}" "$3" - \
            | lz4 -1 -q -c \
            | "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors - "$4"
        [ -z "${5:-}" ] || rbd -c "$2" snap rm --no-progress "${3%@*}@$5"
        ;;
    restore)
        [ $# -ge 4 ] || { echo "usage: $0 restore CONF s3://B/K POOL/IMAGE [SIZE_MIB]" >&2; exit 2; }
        [ -z "${5:-}" ] || rbd -c "$2" create --size "$5" "$4"
        "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$3" - \
            | lz4 -d -q -c \
            | rbd -c "$2" import-diff --no-progress - "$4"
        ;;
    *)
        echo "usage: $0 backup|restore ..." >&2
        exit 2
        ;;
esac
