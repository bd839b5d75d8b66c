#!/usr/bin/env bash
# lifecycle apply|show: our AbortIncompleteMultipartUpload rule is installed next to the
# bucket's other rules (kept as they are), idempotently, and RGW really applies it: an
# unfinished upload under the prefix is aborted. The sandbox's RGW runs with
# `rgw lc debug interval = 10`, so a lifecycle "day" lasts 10 seconds there.
. "$(dirname "$0")/../lib.sh"

rules() { s3api get-bucket-lifecycle-configuration --bucket "$BUCKET" --output json 2>/dev/null; }

rb lifecycle show >"$TMPD/show0.out" 2>"$TMPD/show0.err"
expect_eq "$?" 0 "lifecycle show on a bucket without rules"
check "... says there are none" grep -q "no lifecycle rules" "$TMPD/show0.out"

cat >"$TMPD/other.json" <<'EOF'
{"Rules": [{"ID": "someone-elses", "Filter": {"Prefix": "other/"}, "Status": "Enabled",
            "Expiration": {"Days": 30}}]}
EOF
require "a rule of another tool on the bucket" s3api put-bucket-lifecycle-configuration \
    --bucket "$BUCKET" --lifecycle-configuration "file://$TMPD/other.json"

rb lifecycle apply --abort-days 1 >"$TMPD/apply.out" 2>"$TMPD/apply.err"
expect_eq "$?" 0 "lifecycle apply --abort-days 1"
rules >"$TMPD/rules1.json"
expect_eq "$(jq '.Rules | length' "$TMPD/rules1.json")" 2 "two rules on the bucket"
expect_eq "$(jq -c '.Rules[] | select(.ID == "someone-elses") | [.Filter.Prefix, .Expiration.Days, .Status]' \
    "$TMPD/rules1.json")" '["other/",30,"Enabled"]' "the other tool's rule is kept as it was"
expect_eq "$(jq -c --arg p "$PREFIX/" '.Rules[] | select(.ID != "someone-elses") |
    [(.Filter.Prefix // .Prefix), .AbortIncompleteMultipartUpload.DaysAfterInitiation, .Status]' \
    "$TMPD/rules1.json")" "[\"$PREFIX/\",1,\"Enabled\"]" \
    "our rule: prefix $PREFIX/, abort unfinished uploads after 1 day"

rb lifecycle apply --abort-days 1 >/dev/null 2>&1
expect_eq "$(rules | jq '.Rules | length')" 2 "apply again: still two rules (idempotent)"
rb --format json lifecycle show >"$TMPD/show.json"
expect_eq "$(jq -c '[.[] | .rbd2s3] | sort' "$TMPD/show.json")" '[false,true]' \
    "show --format json marks which rule is ours"
rb lifecycle apply --abort-days 0 >/dev/null 2>"$TMPD/bad.err"
expect_eq "$?" 2 "--abort-days 0 is a usage error"

# An upload left unfinished under the prefix (as a killed backup leaves it), and one
# outside the prefix that the rule must not touch.
OURS="$PREFIX/rbd/lc-$TAG/20200101T000000Z/data.0"
uid=$(s3api create-multipart-upload --bucket "$BUCKET" --key "$OURS" --output json | jq -r .UploadId)
head -c 1M /dev/urandom >"$TMPD/part"
s3api upload-part --bucket "$BUCKET" --key "$OURS" --upload-id "$uid" --part-number 1 \
    --body "$TMPD/part" >/dev/null
other_uid=$(s3api create-multipart-upload --bucket "$BUCKET" --key "elsewhere/file" --output json |
    jq -r .UploadId)
uploads() { s3api list-multipart-uploads --bucket "$BUCKET" ${1:+--prefix "$1"} --output json |
    jq -s '(.[0].Uploads // []) | length'; }
expect_eq "$(uploads "$PREFIX/")" 1 "one unfinished upload under the prefix"

# RGW's lifecycle thread runs on its own schedule; wait for the condition (bounded).
for _ in $(seq 1 60); do
    [ "$(uploads "$PREFIX/")" = 0 ] && break
    sleep 5
done
expect_eq "$(uploads "$PREFIX/")" 0 "RGW aborted the unfinished upload under the prefix"
expect_eq "$(uploads elsewhere/)" 1 "the upload outside the prefix is untouched"
s3api abort-multipart-upload --bucket "$BUCKET" --key elsewhere/file --upload-id "$other_uid"

# conf/lifecycle-example.xml is the same rule, installable with another client
if [ "$PREFIX" = rbd2s3 ]; then
    require "s3cmd setlifecycle conf/lifecycle-example.xml" \
        s3cmd_sb setlifecycle "$REPO/conf/lifecycle-example.xml" "s3://$BUCKET"
    expect_eq "$(rb --format json lifecycle show | jq -c '[.[] | [.rbd2s3, .abort_days, .prefix]]')" \
        '[[true,2,"rbd2s3/"]]' "the example document is exactly our rule (2 days)"
fi

done_testing
