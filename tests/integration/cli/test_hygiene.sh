#!/usr/bin/env bash
# Option, file and output hygiene (security review F3, F6, F9, F12, F13, F15; reliability
# review F10):
#  (a) booleans are strict: `insecure = no` keeps TLS verification on, `insecure = maybe`
#      is a usage error naming key and value; verification off (config or --insecure) and a
#      plain http:// endpoint that is not loopback each give a warning line on every run
#  (b) a config file holding `secret key` must be owner-only and belong to root or the
#      caller; a config line longer than the parser's buffer is refused, not split
#  (c) sizes refuse signs and blanks; one chunk-size bound (64M) for options and import-diff
#  (d) `run --metrics-file`: a symlink planted at the temp name or at the file itself is
#      never followed
#  (e) names, ids and lifecycle rules from the bucket are escaped in human output (list,
#      verify, prune, lifecycle show), exact in JSON
#  (f) an image name whose keys would pass S3's 1024-byte limit: exit 2 saying so, before
#      anything is created; `list` of a name whose escaped prefix does not fit: exit 2
#  (g) core dumps are off (RLIMIT_CORE 0) in a running rbd2s3
. "$(dirname "$0")/../lib.sh"

# Lines of FILE holding a byte a terminal could act on: C0 controls but \n, DEL, and the
# UTF-8 forms of C1 controls and of the bidi overrides used below.
raw_controls() {
    LC_ALL=C grep -caP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]' "$1"
}

# err_lines FILE: the number of lines in FILE
err_lines() { awk 'END { print NR }' "$1"; }

# ---------------------------------------------------------------- (a) booleans, warnings
if [ -n "${S3_TLS_ENDPOINT:-}" ]; then
    rbt() { # CONF ARGS...: over https without the sandbox's CA
        local conf=$1
        shift
        timeout -k 5 120 "$RBD2S3" -c "$conf" --endpoint "$S3_TLS_ENDPOINT" --bucket "$BUCKET" \
            --no-progress ${AWS_DEFAULT_REGION:+--region "$AWS_DEFAULT_REGION"} "$@"
    }
    for v in no 0 off False NO; do
        printf '[global]\ninsecure = %s\n' "$v" >"$TMPD/ins-$v.conf"
        rbt "$TMPD/ins-$v.conf" list >"$TMPD/ins.out" 2>"$TMPD/ins.err" </dev/null
        rc=$?
        if [ $rc = 1 ] && grep -q 'TLS certificate verification failed' "$TMPD/ins.err"; then
            ok "insecure = $v keeps TLS verification on (refused: exit 1)"
        else
            not_ok "insecure = $v keeps TLS verification on (got exit $rc)"
            head -n 3 "$TMPD/ins.err" "$TMPD/ins.out" | sed 's/^/#   /'
        fi
    done
    printf '[global]\ninsecure = Yes\n' >"$TMPD/ins-yes.conf"
    rbt "$TMPD/ins-yes.conf" -q list >/dev/null 2>"$TMPD/ins.err" </dev/null
    expect_eq "$?" 0 "insecure = Yes: list over https without the CA"
    check "insecure = Yes: a warning that verification is off (also with -q)" \
        grep -q '^rbd2s3: warning: TLS certificate verification is off' "$TMPD/ins.err"
    rbt /dev/null --insecure list >/dev/null 2>"$TMPD/ins.err" </dev/null
    expect_eq "$(grep -c '^rbd2s3: warning: TLS certificate verification is off' \
        "$TMPD/ins.err")" 1 "--insecure: one warning line"
    expect_eq "$(err_lines "$TMPD/ins.err")" 1 "--insecure: nothing else on stderr"
else
    diag "no S3_TLS_ENDPOINT in the sandbox: TLS cases skipped"
fi

for v in maybe 2 "" enabled; do
    printf '[global]\ninsecure = %s\n' "$v" >"$TMPD/insbad.conf"
    rb -c "$TMPD/insbad.conf" list >"$TMPD/ib.out" 2>"$TMPD/ib.err" </dev/null
    rc=$?
    if [ $rc = 2 ] && [ "$(err_lines "$TMPD/ib.err")" = 1 ] &&
        grep -q "insecure: .*'$v'" "$TMPD/ib.err"; then
        ok "insecure = '$v': exit 2, one line naming key and value"
    else
        not_ok "insecure = '$v': exit 2, one line naming key and value (got exit $rc)"
        sed 's/^/#   /' "$TMPD/ib.err"
    fi
done
rb --insecure=perhaps list >/dev/null 2>"$TMPD/ib.err" </dev/null
expect_eq "$?" 2 "--insecure=perhaps: exit 2"

rb list >/dev/null 2>"$TMPD/lo.err" </dev/null
expect_eq "$(grep -c warning "$TMPD/lo.err")" 0 "http to a loopback address: no warning"
timeout -k 5 120 "$RBD2S3" --endpoint http://rgw.invalid:8080 --bucket "$BUCKET" list \
    >/dev/null 2>"$TMPD/far.err" </dev/null
check "http to another host: a warning line" \
    grep -q '^rbd2s3: warning: http://rgw.invalid:8080 is plain http' "$TMPD/far.err"

# ---------------------------------------------------------------- (b) config file
cat >"$TMPD/secret.conf" <<EOF
[global]
access key = $AWS_ACCESS_KEY_ID
secret key = $AWS_SECRET_ACCESS_KEY
EOF
rbc() { # rb with the credentials only in the config file
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
        timeout -k 5 120 "$RBD2S3" "${RB_ARGS[@]}" -c "$TMPD/secret.conf" "$@" </dev/null
}
for mode in 0644 0640 0604 0660; do
    chmod "$mode" "$TMPD/secret.conf"
    rbc list >"$TMPD/cf.out" 2>"$TMPD/cf.err"
    rc=$?
    if [ $rc = 2 ] && [ "$(err_lines "$TMPD/cf.err")" = 1 ] &&
        grep -q "holds the secret key but has mode $mode" "$TMPD/cf.err" &&
        [ ! -s "$TMPD/cf.out" ]; then
        ok "a config file with the secret key and mode $mode is refused (exit 2, one line)"
    else
        not_ok "a config file with the secret key and mode $mode is refused (got exit $rc)"
        sed 's/^/#   /' "$TMPD/cf.err"
    fi
done
chmod 0600 "$TMPD/secret.conf"
rbc list >/dev/null 2>"$TMPD/cf.err"
expect_eq "$?" 0 "mode 0600: the config file's credentials work"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    chown nobody "$TMPD/secret.conf"
    rbc list >/dev/null 2>"$TMPD/cf.err"
    rc=$?
    if [ $rc = 2 ] && grep -q 'holds the secret key but belongs to uid' "$TMPD/cf.err"; then
        ok "a config file with the secret key owned by another user is refused"
    else
        not_ok "a config file with the secret key owned by another user is refused (exit $rc)"
        sed 's/^/#   /' "$TMPD/cf.err"
    fi
    chown 0 "$TMPD/secret.conf"
fi
chmod 0644 "$TMPD/secret.conf"
sed -i '/secret key/d' "$TMPD/secret.conf"
rb -c "$TMPD/secret.conf" list >/dev/null 2>"$TMPD/cf.err" </dev/null
expect_eq "$?" 0 "a readable config file without the secret key is fine"

# inih reads 199 bytes of a line and parses the rest as another line: here a comment, so
# an unchecked parser silently takes the truncated value.
{
    echo "[global]"
    printf 'prefix = %s\n' "$(head -c 195 /dev/zero | tr '\0' p)"
    echo "region = us-east-1"
} >"$TMPD/long.conf"
rb -c "$TMPD/long.conf" list >/dev/null 2>"$TMPD/long.err" </dev/null
rc=$?
if [ $rc = 2 ] && grep -q 'line 2: longer than 198 bytes' "$TMPD/long.err"; then
    ok "a config line longer than the parser's buffer: exit 2, names the line"
else
    not_ok "a config line longer than the parser's buffer: exit 2, names the line (exit $rc)"
    sed 's/^/#   /' "$TMPD/long.err"
fi

# ---------------------------------------------------------------- (c) sizes
for a in "--chunk-size=-1" "--fetch-size=-1" "--pack-size= 1G" "--part-size=+5M" \
         "--chunk-size=65M" "--chunk-size=1G"; do
    rb "$a" list >/dev/null 2>"$TMPD/sz.err" </dev/null
    rc=$?
    if [ $rc = 2 ] && [ "$(err_lines "$TMPD/sz.err")" = 1 ]; then
        ok "'$a' is refused (exit 2)"
    else
        not_ok "'$a' is refused (got exit $rc)"
        sed 's/^/#   /' "$TMPD/sz.err"
    fi
done
printf '[global]\npack size = -1\n' >"$TMPD/neg.conf"
rb -c "$TMPD/neg.conf" list >/dev/null 2>&1 </dev/null
expect_eq "$?" 2 "'pack size = -1' in the config is refused"

IMP=rbd/$(img imp)
require "create image $IMP" create_image "$IMP" 8M
require "write to $IMP" write_random "$IMP" 0 2M
require "export-diff of $IMP" rbd_src export-diff --no-progress "$IMP" "$TMPD/imp.diff"
# An old binary bounded --chunk-size only in backup; import-diff took any size.
RB_TIMEOUT=120 rb --chunk-size 128M import-diff "$TMPD/imp.diff" "$IMP" >/dev/null \
    2>"$TMPD/imp.err" </dev/null
expect_eq "$?" 2 "import-diff --chunk-size 128M is refused"
expect_eq "$(bucket_keys | wc -l)" 0 "... and stores nothing"

# ---------------------------------------------------------------- (d) metrics file
MIMG=$(img metrics)
require "create image rbd/$MIMG" create_image "rbd/$MIMG" 8M
mkdir -p "$TMPD/prom"
printf '[pool:rbd]\nimages = %s\n' "$MIMG" >"$TMPD/run.conf"
METRICS=$TMPD/prom/rbd2s3.prom
echo "victim: keep me" >"$TMPD/victim"
echo "victim2: keep me too" >"$TMPD/victim2"
ln -s "$TMPD/victim2" "$METRICS"
# The pid of `bash -c` is the pid of the rbd2s3 it execs: plant the old temp name first.
timeout -k 5 300 bash -c 'ln -s "$1" "$2.tmp.$$" && shift 2 && exec "$@"' _ \
    "$TMPD/victim" "$METRICS" "$RBD2S3" "${RB_ARGS[@]}" -c "$TMPD/run.conf" \
    --metrics-file "$METRICS" run >"$TMPD/run.out" 2>"$TMPD/run.err" </dev/null
expect_eq "$?" 0 "run --metrics-file with planted symlinks"
expect_eq "$(cat "$TMPD/victim")" "victim: keep me" "the symlink at the temp name is not followed"
expect_eq "$(cat "$TMPD/victim2")" "victim2: keep me too" \
    "the symlink at the metrics file is replaced, its target untouched"
if [ -f "$METRICS" ] && [ ! -L "$METRICS" ] &&
    grep -q "^rbd2s3_backup_success{image=\"rbd/$MIMG\"} 1$" "$METRICS"; then
    ok "the metrics file is a regular file with the run's result"
else
    not_ok "the metrics file is a regular file with the run's result"
    ls -l "$TMPD/prom" | sed 's/^/#   /'
fi
expect_eq "$(stat -c %a "$METRICS" 2>/dev/null)" 644 "the metrics file is readable (0644)"
expect_eq "$(find "$TMPD/prom" -name '*.tmp.*' ! -type l | wc -l)" 0 "no temp file left"

# ---------------------------------------------------------------- (e) escaped output
EVIL=$(printf 'esc\033]0;pwned\007\342\200\256x')-$TAG
require "create an image whose name holds escapes" create_image "rbd/$EVIL" 4M
require "write to it" write_random "rbd/$EVIL" 0 1M
rb backup "rbd/$EVIL" >/dev/null 2>"$TMPD/evil-bk.err" </dev/null
require "back it up" test $? = 0
rb list >"$TMPD/list.txt" 2>&1 </dev/null
expect_eq "$(raw_controls "$TMPD/list.txt")" 0 "list: no raw control bytes"
check "list: the name is shown escaped" \
    grep -qF 'rbd/esc\x1b]0;pwned\x07\xe2\x80\xaex' "$TMPD/list.txt"
rb verify "rbd/$EVIL" >"$TMPD/verify.txt" 2>&1 </dev/null
expect_eq "$(raw_controls "$TMPD/verify.txt")" 0 "verify: no raw control bytes"
rb prune "rbd/$EVIL" --keep-last 1 --dry-run >"$TMPD/prune.txt" 2>&1 </dev/null
expect_eq "$(raw_controls "$TMPD/prune.txt")" 0 "prune: no raw control bytes"
rb show "rbd/$EVIL@nosuchbackup" >"$TMPD/show.txt" 2>&1 </dev/null
expect_eq "$(raw_controls "$TMPD/show.txt")" 0 "an error line about it: no raw control bytes"
expect_eq "$(rb --format json list | jq -r '.backups[].name | select(startswith("esc"))')" "$EVIL" \
    "list --format json: the exact name"

python3 - >"$TMPD/lc.json" <<'PY'
import json
print(json.dumps({"Rules": [{"ID": "evil\u009b31m\u202egpj\u007f", "Status": "Enabled",
                             "Filter": {"Prefix": "x\u009b/"}, "Expiration": {"Days": 30}}]}))
PY
require "a lifecycle rule whose ID holds a C1 CSI, a bidi override and DEL" \
    s3api put-bucket-lifecycle-configuration --bucket "$BUCKET" \
    --lifecycle-configuration "file://$TMPD/lc.json"
rb lifecycle show >"$TMPD/lc.txt" 2>&1 </dev/null
expect_eq "$(raw_controls "$TMPD/lc.txt")" 0 "lifecycle show: no raw control bytes"
check "lifecycle show: the ID is shown escaped" \
    grep -qF 'evil\xc2\x9b31m\xe2\x80\xaegpj\x7f' "$TMPD/lc.txt"
expect_eq "$(rb --format json lifecycle show | jq -r '.[0].id')" \
    "$(printf 'evil\302\23331m\342\200\256gpj\177')" "lifecycle show --format json: the exact ID"

# ---------------------------------------------------------------- (f) long image name
LONG=rel-$(for _ in $(seq 196); do printf '\303\274'; done)-$TAG
require "create an image with a 200-character non-ASCII name" create_image "rbd/$LONG" 4M
before=$(bucket_listing)
rb backup "rbd/$LONG" >/dev/null 2>"$TMPD/long-bk.err" </dev/null
rc=$?
if [ $rc = 2 ] && [ "$(err_lines "$TMPD/long-bk.err")" = 1 ] &&
    grep -q 'too long: its keys would exceed the S3 limit of 1024 bytes' "$TMPD/long-bk.err"
then
    ok "backup of a name too long for a key: exit 2, says why"
else
    not_ok "backup of a name too long for a key: exit 2, says why (got exit $rc)"
    head -c 600 "$TMPD/long-bk.err" | sed 's/^/#   /'
fi
expect_eq "$(snap_names "rbd/$LONG" | wc -l)" 0 "... no snapshot was taken"
expect_eq "$(bucket_listing)" "$before" "... nothing was stored"
expect_eq "$(s3api list-multipart-uploads --bucket "$BUCKET" --output json |
    jq -s '(.[0].Uploads // []) | length')" 0 "... no upload was started"
# a name whose escaped image prefix does not fit the listing's 4 KiB buffer: refused,
# never listed under an unset prefix
PCT=$(printf '%%%.0s' $(seq 500))
expect_rc 2 "list of a name whose escaped prefix is too long" longls list "$PCT/$PCT/$PCT"
check "... says so" grep -q "image name too long" "$TMPD/longls.err"

# ---------------------------------------------------------------- (g) no core dumps
# import-diff from a FIFO waits for the stream's header: long enough to look at it.
mkfifo "$TMPD/hold"
"$RBD2S3" "${RB_ARGS[@]}" import-diff - "rbd/$(img core)" <"$TMPD/hold" >/dev/null 2>&1 &
pid=$!
exec 9>"$TMPD/hold"
core=""
for _ in $(seq 1 100); do        # the wait for exec and option parsing, at most 10 s
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$RBD2S3")" ]; then
        core=$(awk '/^Max core file size/ { print $5 " " $6 }' "/proc/$pid/limits")
        [ "$core" = "0 0" ] && break
    fi
    sleep 0.1
done
exec 9>&-
wait "$pid"
expect_eq "$core" "0 0" "a running rbd2s3 has core dumps off (RLIMIT_CORE soft and hard 0)"

done_testing
