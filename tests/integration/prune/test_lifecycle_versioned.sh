#!/usr/bin/env bash
# lifecycle apply on a versioned bucket: our rule also expires noncurrent versions
# (`object lock days` + a margin of 7, or --noncurrent-days), and keeps aborting
# unfinished uploads; on a bucket never versioned it has no noncurrent expiration.
. "$(dirname "$0")/../lib.sh"

ours() { s3api get-bucket-lifecycle-configuration --bucket "$BUCKET" --output json |
    jq -c '.Rules[] | select(.ID | startswith("rbd2s3-abort-uploads:")) |
        [.AbortIncompleteMultipartUpload.DaysAfterInitiation,
         .NoncurrentVersionExpiration.NoncurrentDays]'; }

rb lifecycle apply >/dev/null 2>"$TMPD/plain.err"
expect_eq "$?" 0 "lifecycle apply on a bucket never versioned"
expect_eq "$(ours)" "[2,null]" "... abort after 2 days, no noncurrent expiration"

locked_bucket
rb lifecycle apply >/dev/null 2>"$TMPD/locked.err"
expect_eq "$?" 0 "lifecycle apply on a bucket with Object Lock"
expect_eq "$(ours)" "[2,7]" "... noncurrent versions expire after 7 days (no lock days)"
rb --object-lock governance --object-lock-days 1 lifecycle apply >/dev/null 2>&1
expect_eq "$(ours)" "[2,8]" "with object lock days = 1: after 1 + 7 days"
rb lifecycle apply --abort-days 3 --noncurrent-days 30 >/dev/null 2>&1
expect_eq "$(ours)" "[3,30]" "--noncurrent-days 30 --abort-days 3"
rb --format json lifecycle show >"$TMPD/show.json"
expect_eq "$(jq -c '[.[] | select(.rbd2s3) | .noncurrent_days]' "$TMPD/show.json")" "[30]" \
    "lifecycle show --format json: noncurrent_days"
rb lifecycle show >"$TMPD/show.out"
check "lifecycle show (text) names the noncurrent expiration" \
    grep -q "noncurrent versions expire after 30 days" "$TMPD/show.out"
rb lifecycle apply --noncurrent-days 0 >/dev/null 2>&1
expect_eq "$?" 2 "--noncurrent-days 0 is a usage error"

done_testing
