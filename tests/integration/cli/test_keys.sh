#!/usr/bin/env bash
# Master keys (issue 20, "secrets stay secret"; agent/config/keyring.c, `key create`):
#  (a) `key create FILE`: mode 0600, 32 bytes, its key id printed; an existing file is
#      never overwritten (exit 7)
#  (b) bad key input is exit 2 with one line naming the rule, and nothing is written in
#      the bucket: key file 0644, of 16 bytes, a symbolic link; a passphrase of 5
#      characters; `encryption = aes-256-gcm` without any key; two master keys
#  (c) no option of the command line carries a secret (only paths), and options that
#      would are unknown
#  (d) the key file's bytes and the passphrase appear nowhere: not in the output of a
#      failing or a succeeding run (-v, text and JSON), not in any object of the bucket
#  (e) a running rbd2s3 with a key loaded is not dumpable (/proc/PID/status belongs to
#      root although the process runs as another user) and RBD2S3_PASSPHRASE is wiped
#      from its environment
. "$(dirname "$0")/../lib.sh"

IMG=rbd/$(img keys)
IMG2=rbd/$(img pass)
require "create a 4 MiB image" create_image "$IMG" 4M
require "and another" create_image "$IMG2" 4M
write_ops "$IMG" t:0:1M >/dev/null 2>&1
write_ops "$IMG2" t:0:1M >/dev/null 2>&1
PASS="correct-horse-battery-$TAG"

# ---------------------------------------------------------------- (a) key create
KEY=$TMPD/master.key
"$RBD2S3" key create "$KEY" >"$TMPD/kc.out" 2>"$TMPD/kc.err"
expect_eq "$?" 0 "key create: exit 0"
expect_eq "$(stat -c %a "$KEY")" 600 "... mode 0600"
expect_eq "$(stat -c %s "$KEY")" 32 "... 32 bytes"
check "... prints its key id (16 hex digits)" grep -qE "^.*: key id [0-9a-f]{16}$" "$TMPD/kc.out"
before=$(sha256sum <"$KEY")
"$RBD2S3" key create "$KEY" >"$TMPD/kc.out" 2>"$TMPD/kc.err"
expect_eq "$?" 7 "key create over an existing file: exit 7"
expect_eq "$(sha256sum <"$KEY")" "$before" "... the file is unchanged"
"$RBD2S3" key create "$TMPD/two.key" >/dev/null 2>&1
check "two key files differ" test "$(sha256sum <"$KEY")" != "$(sha256sum <"$TMPD/two.key")"
"$RBD2S3" key frobnicate >/dev/null 2>"$TMPD/kc.err"
expect_eq "$?" 2 "key frobnicate: usage error"

# ---------------------------------------------------------------- (b) bad input
bucket_empty() {
    [ "$(s3api list-objects-v2 --bucket "$BUCKET" --output json \
        | jq -s 'map(.KeyCount // 0) | add // 0')" = 0 ]
}

# bad DESC RULE [--env VAR=VALUE] ARGS...: rbd2s3 ARGS backup IMG exits 2 with one line
# matching RULE, and the bucket stays empty.
bad() {
    local desc=$1 rule=$2 rc
    local -a envs=()
    shift 2
    if [ "$1" = --env ]; then envs+=("$2"); shift 2; fi
    env "${envs[@]}" timeout -k 5 120 "$RBD2S3" "${RB_ARGS[@]}" "$@" backup "$IMG" \
        >"$TMPD/bad.out" 2>"$TMPD/bad.err"
    rc=$?
    expect_eq "$rc" 2 "$desc: exit 2"
    expect_eq "$(awk 'END { print NR }' "$TMPD/bad.err")" 1 "... one line on stderr"
    check "... saying '$rule'" grep -q -- "$rule" "$TMPD/bad.err"
    check "... nothing written in the bucket" bucket_empty
}

cp "$KEY" "$TMPD/open.key"
chmod 644 "$TMPD/open.key"
head -c 16 /dev/urandom >"$TMPD/short.key"
chmod 600 "$TMPD/short.key"
ln -s "$KEY" "$TMPD/link.key"
printf '%s\n' "$PASS" >"$TMPD/pass"
chmod 600 "$TMPD/pass"
bad "key file of mode 0644" "open to group or others" --key-file "$TMPD/open.key"
bad "key file of 16 bytes" "not 32 bytes" --key-file "$TMPD/short.key"
bad "key file that is a symbolic link" "a symbolic link" --key-file "$TMPD/link.key"
bad "passphrase of 5 characters (environment)" "fewer than 12 bytes" \
    --env RBD2S3_PASSPHRASE=abcde --encryption aes-256-gcm
bad "encryption = aes-256-gcm without a key" "no key" --encryption aes-256-gcm
printf '[global]\nencryption = aes-256-gcm\n' >"$TMPD/enc.conf"
bad "... the same from the config file" "no key" -c "$TMPD/enc.conf"
bad "a key file and a passphrase" "several master keys" --env "RBD2S3_PASSPHRASE=$PASS" \
    --key-file "$KEY"
bad "encryption = maybe" "none or aes-256-gcm" --encryption maybe
# the same options after the command are read too (global options go anywhere)
"$RBD2S3" "${RB_ARGS[@]}" backup "$IMG" --key-file "$TMPD/open.key" >/dev/null 2>"$TMPD/bad.err"
expect_eq "$?" 2 "key file of mode 0644 after the command: exit 2"
check "... one line naming the command and the rule" \
    grep -q "^rbd2s3: backup: key file .*: open to group or others" "$TMPD/bad.err"
check "... nothing written in the bucket" bucket_empty

# ---------------------------------------------------------------- (c) the grammar
"$RBD2S3" --help >"$TMPD/help.txt" 2>&1
expect_eq "$(grep -oE -- '--[a-z-]*(key|pass|secret)[a-z-]*' "$TMPD/help.txt" | sort -u \
    | paste -sd' ')" \
    "--key-file --new-key-file --new-passphrase-file --old-key-files --passphrase-file --tls-key" \
    "--help: the only options about keys take file names (serve's --tls-key FILE too)"
for o in --passphrase --key --master-key --secret-key --secret --password; do
    "$RBD2S3" "$o" x list >/dev/null 2>&1
    expect_eq "$?" 2 "$o is not an option (exit 2)"
done

# ---------------------------------------------------------------- (d) secrets nowhere
# no_secret DESC FILE...: neither the key (hex, either case, or raw) nor the passphrase
no_secret() {
    local desc=$1 f hits=""
    shift
    for f in "$@"; do
        python3 - "$f" "$KEY" "$PASS" <<'EOF' || hits+="$f "
import sys
data = open(sys.argv[1], "rb").read()
key = open(sys.argv[2], "rb").read()
pw = sys.argv[3].encode()
bad = [key, key.hex().encode(), key.hex().upper().encode(), pw]
sys.exit(1 if any(b in data for b in bad) else 0)
EOF
    done
    expect_eq "$hits" "" "$desc"
}

rb -v --key-file "$KEY" --encryption aes-256-gcm list >"$TMPD/ok1.out" 2>"$TMPD/ok1.err"
expect_eq "$?" 0 "list -v with the key file: exit 0"
rb -v --key-file "$KEY" --encryption aes-256-gcm backup "rbd/$(img nosuch)" \
    >"$TMPD/fail1.out" 2>"$TMPD/fail1.err"
check "backup -v of a missing image with the key file fails" test $? -ne 0
RBD2S3_PASSPHRASE=$PASS rb -v --encryption aes-256-gcm backup "rbd/$(img nosuch)" \
    >"$TMPD/fail2.out" 2>"$TMPD/fail2.err"
check "backup -v of a missing image with the passphrase fails" test $? -ne 0
RBD2S3_PASSPHRASE=${PASS:0:8} rb -v --encryption aes-256-gcm list \
    >"$TMPD/fail3.out" 2>"$TMPD/fail3.err"
expect_eq "$?" 2 "a short passphrase: exit 2"
check "... its line does not quote it" test -z "$(grep -F -- "${PASS:0:8}" "$TMPD/fail3.err")"
do_backup "$IMG" -v --key-file "$KEY" --encryption aes-256-gcm 2>/dev/null
expect_eq "$?" 0 "backup -v with the key file and encryption: exit 0"
cp "$TMPD/backup.$_BK_N.err" "$TMPD/ok2.err"
cp "$BK_JSON" "$TMPD/ok2.json"
KF_ID=$BK_ID
manifest() { # SPEC ID: the manifest, via the aws CLI
    s3api get-object --bucket "$BUCKET" --key "$PREFIX/$1/$2/manifest.json" "$TMPD/m.json" \
        >/dev/null 2>&1 && cat "$TMPD/m.json"
}
check "... the backup is encrypted (key options after the command count)" \
    jq -e '.encryption.cipher == "aes-256-gcm"' <(manifest "$IMG" "$KF_ID")
RBD2S3_PASSPHRASE=$PASS do_backup "$IMG2" -v --encryption aes-256-gcm 2>/dev/null
expect_eq "$?" 0 "backup -v with the passphrase and encryption: exit 0"
cp "$TMPD/backup.$_BK_N.err" "$TMPD/ok3.err"
check "... encrypted, its master key from scrypt" \
    jq -e '.encryption.cipher == "aes-256-gcm" and .key.kdf.alg == "scrypt"' \
    <(manifest "$IMG2" "$BK_ID")
rb --format json --key-file "$KEY" list "$IMG" >"$TMPD/ok4.json" 2>"$TMPD/ok4.err"
rb -v --key-file "$KEY" show "$IMG@$KF_ID" >"$TMPD/ok5.out" 2>"$TMPD/ok5.err"
RBD2S3_PASSPHRASE=$PASS rb -v --format json show "$IMG2@$BK_ID" >"$TMPD/ok6.json" \
    2>"$TMPD/ok6.err"
no_secret "no secret in the output of succeeding and failing runs (stdout, stderr, -v, JSON)" \
    "$TMPD"/ok*.* "$TMPD"/fail*.*
mkdir -p "$TMPD/bucket"
timeout 300 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp --recursive --quiet \
    "s3://$BUCKET" "$TMPD/bucket" >/dev/null 2>&1
nobj=$(find "$TMPD/bucket" -type f | wc -l)
check "the backups wrote objects ($nobj)" test "$nobj" -ge 6
mapfile -t objs < <(find "$TMPD/bucket" -type f)
no_secret "no secret in any object of the bucket (manifests, indexes, data)" "${objs[@]}"

# ---------------------------------------------------------------- (e) dumpable, environment
# rbd2s3 runs as another user (nobody when we are root) so that the owner of the files
# in /proc/PID shows the dumpable flag: the process's own uid when dumpable, root when
# not (looked up fresh: /proc/PID itself keeps the owner it had at exec). It waits in
# import-diff for a stream from a FIFO: by then the keyring is loaded.
if [ "$(id -u)" = 0 ]; then
    RUNAS=(setpriv --reuid 65534 --regid 65534 --clear-groups)
    chmod 711 "$TMPD"
    install -d -o 65534 -m 700 "$TMPD/nb"
    install -o 65534 -m 600 "$KEY" "$TMPD/nb/master.key"
else
    RUNAS=()
    mkdir -p "$TMPD/nb"
    cp -p "$KEY" "$TMPD/nb/master.key"
fi
hold() { # VAR=VALUE [OPTION...]: start rbd2s3 import-diff on a FIFO as RUNAS; sets pid
    local envset=$1
    shift
    rm -f "$TMPD/hold"
    mkfifo -m 666 "$TMPD/hold"
    env "$envset" "${RUNAS[@]}" "$RBD2S3" "${RB_ARGS[@]}" "$@" import-diff - \
        "rbd/$(img held)" <"$TMPD/hold" >/dev/null 2>"$TMPD/hold.err" &
    pid=$!
    exec 9>"$TMPD/hold"
    for _ in $(seq 1 200); do   # until it waits for the stream (at most 20 s)
        case $(cat "/proc/$pid/wchan" 2>/dev/null) in *pipe_read) return 0 ;; esac
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
release() { exec 9>&-; wait "$pid" 2>/dev/null; }

for src in "key file" passphrase; do
    if [ "$src" = "key file" ]; then
        hold RBD2S3_KEYS_TEST=1 --key-file "$TMPD/nb/master.key" 2>/dev/null
    else
        hold "RBD2S3_PASSPHRASE=$PASS" 2>/dev/null
    fi
    rc=$?
    check "$src: rbd2s3 reached its wait for the stream" test $rc = 0 || \
        diag "$(cat "$TMPD/hold.err")"
    if [ $rc = 0 ]; then
        uid=$(awk '/^Uid:/ { print $3 }' "/proc/$pid/status")
        if [ "$(id -u)" = 0 ]; then
            expect_eq "$uid:$(stat -c %u "/proc/$pid/status")" "65534:0" \
                "$src: not dumpable (/proc/PID/status belongs to root, the process to nobody)"
        else
            expect_eq "$(stat -c %u "/proc/$pid/status")" 0 \
                "$src: not dumpable (/proc/PID/status belongs to root)"
        fi
        expect_eq "$(awk '/^Max core file size/ { print $5 " " $6 }' "/proc/$pid/limits")" \
            "0 0" "$src: RLIMIT_CORE 0"
        if [ "$src" = passphrase ] && [ "$(id -u)" = 0 ]; then
            tr '\0' '\n' <"/proc/$pid/environ" >"$TMPD/environ"
            check "passphrase: the process's environment is readable (control)" \
                grep -q '^AWS_ACCESS_KEY_ID=' "$TMPD/environ"
            check "passphrase: wiped from the process's environment" \
                test -z "$(grep -F -- "$PASS" "$TMPD/environ")"
        fi
    fi
    release
done

done_testing
