#!/usr/bin/env bash
# run, one image after the other, against the fake S3 server with a listing entry that
# cannot be decoded on every page: each image's warning line names the skipped entry, and
# the S3 client the first image opened never tells a warning to that image's context after
# it ended (ag_adopt). Run with the sanitizer build's binary when there is one, with
# stack-use-after-return detection: before the fix it reported the dead frame.
. "$(dirname "$0")/../lib.sh"

ASAN_BIN=${RBD2S3_ASAN:-$REPO/build-asan/src/rbd2s3}
BIN=$RBD2S3
if [ -x "$ASAN_BIN" ]; then
    BIN=$ASAN_BIN
else
    diag "no sanitizer build at $ASAN_BIN: the plain binary runs (the dead frame goes unseen)"
fi
NS=warn$TAG
FAKE_BUCKET=fake-$TAG
require "create namespace rbd/$NS" rbd_src namespace create "rbd/$NS"
for i in 1 2 3; do
    require "create image $i" create_image "rbd/$NS/w$i" 4M
    require "write image $i" write_random "rbd/$NS/w$i" 0 1M
done

python3 "$REPO/tests/fakes3/fakes3.py" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" --bucket "$FAKE_BUCKET" >"$TMPD/fake.port" &
FAKE_PID=$!
for ((t = 0; t < 100; t++)); do [ -s "$TMPD/fake.port" ] && break; sleep 0.1; done
FAKE=http://127.0.0.1:$(head -n 1 "$TMPD/fake.port")
for i in 1 2 3; do   # the bad entry comes before a listing's first entry: make some
    require "first backup of image $i" rb --endpoint "$FAKE" --bucket "$FAKE_BUCKET" \
        backup "rbd/$NS/w$i"
done
curl -s -X POST --data-binary "GET * list-type all badentry" "$FAKE/_ctl/rules" >/dev/null

cat >"$TMPD/run.conf" <<CONF
[pool:rbd/$NS]
images = *
CONF
ASAN_OPTIONS=detect_stack_use_after_return=1:detect_leaks=0:abort_on_error=0 \
    timeout --foreground -k 5 "$RB_TIMEOUT" "$BIN" --ceph-conf "$SRC_CEPH_CONF" \
    --endpoint "$FAKE" --bucket "$FAKE_BUCKET" --no-progress -c "$TMPD/run.conf" \
    --format json run >"$TMPD/run.json" 2>"$TMPD/run.err"
rc=$?
expect_eq "$rc" 0 "run over 3 images with a bad listing entry exits 0"
expect_eq "$(jq '[.[] | select(.result == "ok")] | length' "$TMPD/run.json" 2>/dev/null)" 3 \
    "all 3 images backed up"
if grep -q "AddressSanitizer" "$TMPD/run.err"; then
    not_ok "no sanitizer report"
    diag "$(grep -m 3 -A 3 "ERROR: AddressSanitizer" "$TMPD/run.err")"
else
    ok "no sanitizer report"
fi
expect_eq "$(grep -c "warning: .*bad%zz" "$TMPD/run.err")" \
    "$(grep -c "warning:" "$TMPD/run.err")" "every warning line names the skipped entry"
check "a warning was told" grep -q "warning: .*bad%zz" "$TMPD/run.err"
kill "$FAKE_PID" 2>/dev/null
wait "$FAKE_PID" 2>/dev/null
done_testing
