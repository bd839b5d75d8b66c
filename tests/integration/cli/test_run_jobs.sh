#!/usr/bin/env bash
# run --jobs: many images backed up at once by one process (RUN_JOBS_IMAGES, default 200,
# of 16 MiB with 3 MiB written): every one backed up, the results in the list's order, a
# sample restored equal to its snapshot, the peak RSS under the memory limit (from the
# metrics file and measured from outside), a missing image does not stop the others;
# SIGTERM while four backups are in flight: exit 10, nothing of them left in the bucket or
# the image, the images not started reported as interrupted; bad --jobs / memory limit.
. "$(dirname "$0")/../lib.sh"

N=${RUN_JOBS_IMAGES:-200}
[ "$N" -ge 5 ] || bail "RUN_JOBS_IMAGES must be at least 5"
JOBS=${RUN_JOBS:-4}
LIMIT_MIB=512                         # the default memory limit
NS=jobs$TAG
require "create namespace rbd/$NS" rbd_src namespace create "rbd/$NS"
names=()
for ((i = 1; i <= N; i++)); do names+=("$(printf 's-%04d-%s' "$i" "$TAG")"); done
mkimg() { # NAME: 16 MiB, 3 MiB of random 64K writes
    rbd -c "$SRC_CEPH_CONF" create --size 16M "rbd/$NS/$1" &&
        rbd -c "$SRC_CEPH_CONF" bench --io-type write --io-size 64K --io-total 3M \
            --io-pattern rand "rbd/$NS/$1" >/dev/null
}
export -f mkimg
export NS
require "create $N images of 16 MiB (3 MiB written each)" \
    bash -c 'printf "%s\n" "$@" | xargs -P 4 -I{} bash -c "mkimg {}"' _ "${names[@]}"
METRICS=$TMPD/rbd2s3.prom
cat >"$TMPD/all.conf" <<CONF
[global]
metrics file = $METRICS

[pool:rbd/$NS]
images = *

[pool:rbd]
images = no-such-image-$TAG
CONF

# Run under python: the peak RSS of the child as the kernel saw it (RUSAGE_CHILDREN).
measured() { # OUT ERR ARGS...: exit code of rbd2s3; the child's peak RSS in $TMPD/rss
    /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys
out, err = open(sys.argv[1], "w"), open(sys.argv[2], "w")
rc = subprocess.run(sys.argv[3:], stdout=out, stderr=err).returncode
kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[2] + ".rss", "w").write(str(kib * 1024))
sys.exit(rc)
PY
}

rb -c "$TMPD/all.conf" --format json run --dry-run --jobs "$JOBS" >"$TMPD/plan.json" 2>/dev/null
expect_eq "$(jq length "$TMPD/plan.json")" "$((N + 1))" "the plan lists the $N images and the missing one"

measured "$TMPD/run.json" "$TMPD/run.err" timeout 1800 "$RBD2S3" "${RB_ARGS[@]}" \
    -c "$TMPD/all.conf" --format json -v run --jobs "$JOBS"
rc=$?
expect_eq "$rc" 3 "run --jobs $JOBS with a missing image exits 3 (not found), as documented"
expect_eq "$(jq '[.[] | select(.result == "ok")] | length' "$TMPD/run.json")" "$N" \
    "every one of the $N images backed up"
expect_eq "$(jq -r '.[] | select(.result != "ok") | "\(.image) \(.result)"' "$TMPD/run.json")" \
    "rbd/no-such-image-$TAG failed" "the missing image alone failed"
expect_eq "$(jq -r '.[].image' "$TMPD/run.json" | md5sum)" \
    "$(jq -r '.[].image' "$TMPD/plan.json" | md5sum)" "results in the list's order"
manifests=$(bucket_keys "$PREFIX/rbd/$NS/" | grep -c '/manifest\.json$')
expect_eq "$manifests" "$N" "the bucket holds $N manifests"
check "the failure is one line naming the image" grep -q "no-such-image-$TAG" "$TMPD/run.err"
check "-v: the plan of the jobs is said" grep -q "memory limit 512.00 MiB, $JOBS jobs" "$TMPD/run.err"
check "-v: the peak RSS is said" grep -q "peak RSS" "$TMPD/run.err"
check "debug lines carry the image name" \
    grep -Eq "^rbd2s3: \[ *[0-9.]+\] rbd/$NS/s-[0-9]+-$TAG: image open" "$TMPD/run.err"

# -- peak RSS under the budget, seen from inside (metrics) and outside (the kernel)
rss_metric=$(awk '$1 == "rbd2s3_run_peak_rss_bytes" { print $2 }' "$METRICS")
rss_child=$(cat "$TMPD/run.err.rss")
diag "peak RSS: metrics $((${rss_metric:-0} / 1048576)) MiB, measured $((rss_child / 1048576)) MiB," \
    "limit $LIMIT_MIB MiB, $N images, $JOBS jobs"
check "metrics: rbd2s3_run_peak_rss_bytes is under the limit" \
    test "${rss_metric:-999999999999}" -gt 0 -a "${rss_metric:-999999999999}" -lt $((LIMIT_MIB << 20))
check "measured peak RSS of the process is under the limit" test "$rss_child" -lt $((LIMIT_MIB << 20))
check "metrics: a success sample per image" \
    test "$(grep -c "^rbd2s3_backup_success{image=\"rbd/$NS/.*} 1$" "$METRICS")" -eq "$N"

# -- a sample of 5 restores equal to its source snapshot
step=$(( N > 5 ? N / 5 : 1 ))
for ((i = 0; i < N && i < 5 * step; i += step)); do
    n=${names[$i]}
    id=$(jq -r --arg im "rbd/$NS/$n" '.[] | select(.image == $im) | .id' "$TMPD/run.json")
    rm -f "$TMPD/r.raw"
    rb restore "rbd/$NS/$n@$id" --to-file "$TMPD/r.raw" >/dev/null 2>"$TMPD/r.err"
    expect_eq "$(sha256sum <"$TMPD/r.raw" | cut -d' ' -f1)" \
        "$(img_sum "rbd/$NS/$n@rbd2s3-$id" | cut -d' ' -f1)" "restore of $n equals its snapshot"
done
rm -f "$TMPD/r.raw"

# -- SIGTERM with four backups in flight (each stalled after its first part)
big=()
for i in 1 2 3 4; do
    big+=("b-$i-$TAG")
    require "create image b-$i" rbd_src create --size 16M "rbd/$NS/b-$i-$TAG"
    require "write 12 MiB to b-$i" write_random "rbd/$NS/b-$i-$TAG" 0 12M
done
list="${names[0]}, ${names[1]}, ${big[0]}, ${big[1]}, ${big[2]}, ${big[3]}"
list+=", ${names[2]}, ${names[3]}, ${names[4]}"
printf '[pool:rbd/%s]\nimages = %s\n' "$NS" "$list" >"$TMPD/term.conf"
RBD2S3_DEBUG_STALL_AFTER_PARTS=1 "$RBD2S3" "${RB_ARGS[@]}" -c "$TMPD/term.conf" \
    --format json --part-size 5M run --jobs 4 >"$TMPD/term.json" 2>"$TMPD/term.err" &
pid=$!
stalled=0
for ((t = 0; t < 3000; t++)); do       # no time bound: each step waits on the process
    stalled=$(grep -c 'debug: stalled' "$TMPD/term.err")
    [ "$stalled" -ge 4 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
expect_eq "$stalled" 4 "four backups in flight at once"
kill -TERM "$pid"
wait "$pid"
expect_eq "$?" 10 "SIGTERM: exit 10"
expect_eq "$(jq -r '[.[] | .result] | join(" ")' "$TMPD/term.json")" \
    "ok ok failed failed failed failed skipped skipped skipped" \
    "the two before finished, the four in flight failed, the rest skipped"
expect_eq "$(jq -r '[.[] | select(.result == "skipped") | .message] | unique | join(",")' \
    "$TMPD/term.json")" "interrupted" "the ones not started are 'interrupted'"
for b in "${big[@]}"; do
    expect_eq "$(bucket_keys "$PREFIX/rbd/$NS/$b/" | wc -l)" 0 "nothing of $b left in the bucket"
    expect_eq "$(rbd_src snap ls "rbd/$NS/$b" | grep -c rbd2s3-)" 0 "no snapshot of $b left"
done
uploads=$(/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-multipart-uploads \
    --bucket "$BUCKET" --output json | jq -s '(.[0].Uploads // []) | length')
expect_eq "$uploads" 0 "no multipart upload left"

# -- bad input: one line, exit 2
for a in "--jobs 0" "--jobs -3" "--jobs 65" "--jobs four" "--jobs 8 --memory-limit 64M" \
         "--memory-limit 0"; do
    # shellcheck disable=SC2086
    rb -c "$TMPD/all.conf" run $a >/dev/null 2>"$TMPD/bad.err"
    rc=$?
    expect_eq "$rc:$(wc -l <"$TMPD/bad.err")" "2:1" "run $a: one line, exit 2"
done
rb -c "$TMPD/all.conf" run --jobs 8 --memory-limit 64M >/dev/null 2>"$TMPD/small.err"
check "memory limit 64M, 8 jobs: says what one job needs" \
    grep -q "memory limit 64.00 MiB is too small for 8 jobs: each needs at least" "$TMPD/small.err"
printf '[global]\njobs = 0\n[pool:rbd/%s]\nimages = *\n' "$NS" >"$TMPD/badjobs.conf"
rb -c "$TMPD/badjobs.conf" run >/dev/null 2>&1
expect_eq "$?" 2 "jobs = 0 in the config file: exit 2"

printf '%s\n' "${names[@]}" "${big[@]}" | xargs -P 4 -I{} bash -c \
    'rbd -c "$SRC_CEPH_CONF" snap purge --no-progress "rbd/$NS/{}" >/dev/null 2>&1;
     rbd -c "$SRC_CEPH_CONF" rm --no-progress "rbd/$NS/{}" >/dev/null 2>&1'
rbd_src namespace remove "rbd/$NS" >/dev/null 2>&1

done_testing
