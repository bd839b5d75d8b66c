#!/usr/bin/env bash
# run: every image the config's [pool:NAME] sections name, one failure does not stop the
# others, the backup window, --dry-run, the Prometheus metrics file; the progress line.
. "$(dirname "$0")/../lib.sh"

NS=run$TAG                                 # a namespace of our own: `images = *` sees only ours
require "create namespace rbd/$NS" rbd_src namespace create "rbd/$NS"
for n in a b c; do
    require "create image rbd/$NS/$n-$TAG" create_image "rbd/$NS/$n-$TAG" 8M
    require "write to $n" write_random "rbd/$NS/$n-$TAG" 0 1M
done
require "create image rbd/$(img run-listed)" create_image "rbd/$(img run-listed)" 8M
METRICS=$TMPD/rbd2s3.prom

cat >"$TMPD/all.conf" <<EOF
[global]
metrics file = $METRICS

[pool:rbd/$NS]
images = *
exclude = c-$TAG
EOF

# -- --dry-run: the plan, nothing made
rb -c "$TMPD/all.conf" run --dry-run >"$TMPD/dry.out" 2>"$TMPD/dry.err"
expect_eq "$?" 0 "run --dry-run"
expect_eq "$(grep -c 'planned' "$TMPD/dry.out")" 2 "dry run plans the two images not excluded"
expect_eq "$(rb --format json list | jq '.backups | length')" 0 "dry run made no backup"
check "dry run writes no metrics file" test ! -e "$METRICS"

# -- images = * backs up every image of the pool (namespace) but the excluded one
rb -c "$TMPD/all.conf" --format json run >"$TMPD/all.json" 2>"$TMPD/all.err"
expect_eq "$?" 0 "run with images = *"
expect_eq "$(jq -r '[.[] | "\(.image):\(.result)"] | sort | join(" ")' "$TMPD/all.json")" \
    "rbd/$NS/a-$TAG:ok rbd/$NS/b-$TAG:ok" "both images backed up, c excluded"
expect_eq "$(rb --format json list | jq -r '[.backups[].image] | sort | join(" ")')" \
    "rbd/$NS/a-$TAG rbd/$NS/b-$TAG" "list shows a backup of each"

# -- the metrics file parses as Prometheus text and says what happened
prom() { /usr/bin/python3 - "$METRICS" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
PY
}
if prom >"$TMPD/prom.txt" 2>"$TMPD/prom.err"; then
    ok "the metrics file parses as Prometheus text ($(wc -l <"$TMPD/prom.txt") samples)"
else
    not_ok "the metrics file parses as Prometheus text: $(tail -1 "$TMPD/prom.err")"
fi
expect_eq "$(grep -c "^rbd2s3_backup_success{image=rbd/$NS/.-$TAG} 1.0$" "$TMPD/prom.txt")" 2 \
    "rbd2s3_backup_success is 1 for both images"
expect_eq "$(grep -c "^rbd2s3_backup_last_success_timestamp_seconds{image=rbd/$NS/" \
    "$TMPD/prom.txt")" 2 "a last-success time for both"
check "rbd2s3_run_images{result=ok} is 2" grep -Eq '^rbd2s3_run_images{host=[^,]+,result=ok} 2.0$' "$TMPD/prom.txt"
check "no temp file left next to it" test -z "$(ls "$TMPD" | grep 'prom.tmp')"

# -- a list naming a missing image: the others are still backed up, exit non-zero
cat >"$TMPD/list.conf" <<EOF
[global]
metrics file = $METRICS

[pool:rbd]
images = $(img run-listed), no-such-image-$TAG

[pool:rbd/$NS]
images = a-$TAG
EOF
rb -c "$TMPD/list.conf" run >"$TMPD/list.out" 2>"$TMPD/list.err"
rc=$?
check "run with a missing image exits non-zero ($rc)" test "$rc" -ne 0
check "the missing image is reported FAILED" grep -Eq "^rbd/no-such-image-$TAG +FAILED" "$TMPD/list.out"
check "the listed image was backed up" grep -Eq "^rbd/$(img run-listed) +ok " "$TMPD/list.out"
check "the image of the other section too" grep -Eq "^rbd/$NS/a-$TAG +ok +incremental" "$TMPD/list.out"
check "one error line names the missing image" grep -q "rbd/no-such-image-$TAG" "$TMPD/list.err"
prom >"$TMPD/prom2.txt" 2>/dev/null
check "metrics: the failed image has success 0" \
    grep -q "^rbd2s3_backup_success{image=rbd/no-such-image-$TAG} 0.0$" "$TMPD/prom2.txt"
check "metrics: a last-success time for a" \
    grep -q "^rbd2s3_backup_last_success_timestamp_seconds{image=rbd/$NS/a-$TAG}" "$TMPD/prom2.txt"
check "rbd2s3_run_images{result=failed} is 1" grep -Eq '^rbd2s3_run_images{host=[^,]+,result=failed} 1.0$' "$TMPD/prom2.txt"

# -- outside the window nothing starts
now=$(date +%H:%M)
later=$(date -d '+2 hours' +%H:%M)
later2=$(date -d '+3 hours' +%H:%M)
cat >"$TMPD/win.conf" <<EOF
[pool:rbd/$NS]
images = *
window = $later-$later2
EOF
before=$(rb --format json list | jq '.backups | length')
rb -c "$TMPD/win.conf" run >"$TMPD/win.out" 2>"$TMPD/win.err"
expect_eq "$?" 0 "run outside the window ($later-$later2, now $now) exits 0"
expect_eq "$(grep -c 'skipped.*outside the window' "$TMPD/win.out")" 3 "every image skipped"
expect_eq "$(rb --format json list | jq '.backups | length')" "$before" "no backup was made"
printf '[pool:rbd]\nwindow = 25:00-26:00\n' >"$TMPD/badwin.conf"
rb -c "$TMPD/badwin.conf" run >/dev/null 2>"$TMPD/badwin.err"
expect_eq "$?" 2 "a malformed window exits 2"

# -- the progress line: on a terminal only
args=()
for a in "${RB_ARGS[@]}"; do [ "$a" = --no-progress ] || args+=("$a"); done
script -qec "$(printf '%q ' timeout 300 "$RBD2S3" "${args[@]}" backup "rbd/$NS/b-$TAG")" /dev/null \
    >"$TMPD/tty.out" 2>&1
check "on a terminal: 'Backing up ...: 100% complete...done.'" \
    grep -q "Backing up rbd/$NS/b-$TAG: 100% complete...done." "$TMPD/tty.out"
rb backup "rbd/$NS/b-$TAG" >/dev/null 2>"$TMPD/notty.err"
check "not a terminal: no progress line" bash -c "! grep -q 'complete' '$TMPD/notty.err'"

for n in a b c; do rbd_src snap purge --no-progress "rbd/$NS/$n-$TAG" >/dev/null 2>&1
    rbd_src rm --no-progress "rbd/$NS/$n-$TAG" >/dev/null 2>&1; done
rbd_src namespace remove "rbd/$NS" >/dev/null 2>&1

done_testing
