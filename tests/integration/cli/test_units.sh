#!/usr/bin/env bash
# units: conf/rbd2s3.service and conf/rbd2s3.timer (systemd-analyze verify, the ExecStart
# command lines run with the real binary), the sample config conf/rbd2s3.conf (every key
# the program accepts, accepted with its examples uncommented), the man page
# doc/rbd2s3.8 (no groff warnings, in sync with --help and README.md), make install.
# Needs no sandbox (sources tap.sh, not lib.sh); prints TAP. Env: RBD2S3 (the binary).
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
RBD2S3=${RBD2S3:-$REPO/rbd2s3}
T=$(mktemp -d /tmp/rbd2s3-units.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$REPO" || exit 1

# shellcheck source=../tap.sh
. "$REPO/tests/integration/tap.sh"

SERVICE=conf/rbd2s3.service TIMER=conf/rbd2s3.timer CONF=conf/rbd2s3.conf MAN=doc/rbd2s3.8
BIN_PATH=/usr/local/bin/rbd2s3 CONF_PATH=/etc/rbd2s3/rbd2s3.conf
PROM_PATH=/var/lib/prometheus/node-exporter/rbd2s3.prom

if [ ! -x "$RBD2S3" ]; then
    not_ok "the binary $RBD2S3 exists (build first)"
    done_testing
fi
export AWS_ACCESS_KEY_ID=test-key AWS_SECRET_ACCESS_KEY=test-secret
unset RBD2S3_CONFIG AWS_SESSION_TOKEN

# ------------------------------------------------------------------ make install
D=$T/destdir
if check "make install DESTDIR=..." make -C "$REPO" install DESTDIR="$D"; then
    check "installs usr/local/bin/rbd2s3" test -x "$D/usr/local/bin/rbd2s3"
    check "installs usr/local/share/man/man8/rbd2s3.8 (the page in doc/)" \
        cmp "$D/usr/local/share/man/man8/rbd2s3.8" "$MAN"
else
    not_ok "installs usr/local/bin/rbd2s3"
    not_ok "installs usr/local/share/man/man8/rbd2s3.8"
fi

# ------------------------------------------------------------------ the units
svc_get() { sed -n "s/^$1=//p" "$SERVICE"; }
expect_eq "$(svc_get Type)" oneshot "service: Type=oneshot"
mapfile -t EXEC < <(svc_get ExecStart)
expect_eq "${#EXEC[@]}" 2 "service: two ExecStart lines"
expect_eq "$(printf '%s\n' "${EXEC[@]}" | awk '{ print $1 " " $NF }' | paste -sd' ')" \
    "$BIN_PATH run $BIN_PATH prune" "service: rbd2s3 run, then rbd2s3 prune"
case ${EXEC[0]:-}${EXEC[1]:-} in
    -*|*' -'/*|@*|*'ExecStart=-'*) not_ok "service: no '-' prefix (prune must not run after a failed run)" ;;
    *) ok "service: no '-' prefix (prune must not run after a failed run)" ;;
esac
check "service: both lines use -c $CONF_PATH" \
    test "$(printf '%s\n' "${EXEC[@]}" | grep -c -- "-c $CONF_PATH ")" = 2
check "service: run writes --metrics-file $PROM_PATH" \
    grep -q -- "--metrics-file $PROM_PATH run\$" <<<"${EXEC[0]:-}"
expect_eq "$(svc_get EnvironmentFile)" /etc/rbd2s3/credentials "service: EnvironmentFile"
check "service: the metrics directory is writable (ReadWritePaths)" \
    grep -qx "ReadWritePaths=${PROM_PATH%/*}" "$SERVICE"
for k in ProtectSystem=strict PrivateTmp=yes NoNewPrivileges=yes ProtectHome=yes; do
    check "service: $k" grep -qx "$k" "$SERVICE"
done
timer_get() { sed -n "s/^$1=//p" "$TIMER"; }
expect_eq "$(timer_get Persistent)" true "timer: Persistent=true"
check "timer: RandomizedDelaySec set" test -n "$(timer_get RandomizedDelaySec)"
check "timer: daily at a fixed time" grep -qE '^OnCalendar=\*-\*-\* [0-9]{2}:[0-9]{2}:[0-9]{2}$' "$TIMER"
expect_eq "$(timer_get WantedBy)" timers.target "timer: WantedBy=timers.target"

# systemd-analyze verify checks that ExecStart's binary exists and that the man page of
# Documentation= opens: verify a copy pointing at the installed binary, with MANPATH at
# the installed page. It works without systemd as PID 1. Any output is a failure (unknown
# keys and bad values are only warnings, with exit code 0).
if command -v systemd-analyze >/dev/null; then
    if [ -x "$D/usr/local/bin/rbd2s3" ]; then
        mkdir -p "$T/units"
        sed "s|$BIN_PATH|$D/usr/local/bin/rbd2s3|" "$SERVICE" >"$T/units/rbd2s3.service"
        cp "$TIMER" "$T/units/rbd2s3.timer"
        silent "systemd-analyze verify rbd2s3.service rbd2s3.timer: clean" \
            env MANPATH="$D/usr/local/share/man:" systemd-analyze verify \
            "$T/units/rbd2s3.service" "$T/units/rbd2s3.timer"
    else
        not_ok "systemd-analyze verify: no installed binary"
    fi
    check "systemd-analyze calendar accepts OnCalendar" \
        systemd-analyze calendar "$(timer_get OnCalendar)"
else
    skip "systemd-analyze not installed: units not verified"
    skip "systemd-analyze not installed: OnCalendar not checked"
fi

# The exact ExecStart lines with the real binary (config and metrics paths moved to the
# temp dir), --dry-run added: they parse, and fail or succeed for the documented reasons.
execline() {    # execline N CONFIG: ExecStart line N as words, paths replaced
    local line=${EXEC[$1]:-}
    line=${line//$BIN_PATH/$RBD2S3}
    line=${line//$CONF_PATH/$2}
    line=${line//$PROM_PATH/$T/rbd2s3.prom}
    # shellcheck disable=SC2206
    WORDS=($line)
}
printf '[global]\nendpoint = http://127.0.0.1:9\nbucket = b\nkeep last = 1\n' >"$T/nopool.conf"
execline 0 "$T/nopool.conf"
"${WORDS[@]}" --dry-run >"$T/x.out" 2>"$T/x.err"
expect_eq "$?" 2 "ExecStart run --dry-run, config without [pool:]: exit 2"
check "... says there is no [pool:NAME] section" grep -q 'no \[pool:NAME\] section' "$T/x.err"
{ cat "$T/nopool.conf"; printf '[pool:rbd]\nimages = vm1, vm2\n'; } >"$T/pool.conf"
execline 0 "$T/pool.conf"
"${WORDS[@]}" --dry-run >"$T/x.out" 2>"$T/x.err"
expect_eq "$?" 0 "ExecStart run --dry-run, config with [pool:rbd] images = vm1, vm2: exit 0"
expect_eq "$(awk '$2 == "planned" { print $1 }' "$T/x.out" | paste -sd' ')" "rbd/vm1 rbd/vm2" \
    "... plans rbd/vm1 and rbd/vm2"
check "... writes no metrics file" test ! -e "$T/rbd2s3.prom"
execline 1 "$T/pool.conf"
timeout 120 "${WORDS[@]}" --dry-run >"$T/x.out" 2>"$T/x.err"
expect_eq "$?" 6 "ExecStart prune --dry-run parses and reaches S3 (endpoint unreachable: 6)"

# ------------------------------------------------------------------ the sample config
# every key of options.c's table, the policy keys and the [pool:] keys
mapfile -t KEYS < <( { grep -oE '\{ "[a-z-]+", K_' agent/config/options.c | cut -d'"' -f2
    grep -oE 'strcmp\(name, "(access|secret) key"\)' agent/config/options.c | cut -d'"' -f2
    grep -oE 'strcmp\((key|name), "[a-z _-]+"\)' agent/config/policy.c | cut -d'"' -f2
    } | tr '_-' '  ' | sort -u)
check "found the config keys in the sources (${#KEYS[@]})" test "${#KEYS[@]}" -ge 30
missing=""
for k in "${KEYS[@]}"; do
    grep -qE "^(# )?$k = " "$CONF" || missing+="$k"$'\n'
done
none "every config key is in $CONF" "${missing%$'\n'}"
missing=""
for k in "${KEYS[@]}"; do
    grep -qF "$k" "$MAN" || missing+="$k"$'\n'
done
none "every config key is in $MAN" "${missing%$'\n'}"

# uncomment the examples: "# key = value" and "# [pool:NAME]" lines
# key files: a real one (made by key create); one master key only, so no passphrase file
"$RBD2S3" key create "$T/master.key" >/dev/null 2>&1
sed -E 's/^# ?(\[pool:[^]]+\]|[a-z][a-z _-]* = .*)$/\1/' "$CONF" \
    | sed -E "s|^(key file\|old key files) = .*|\\1 = $T/master.key|; /^passphrase file = /d" \
    >"$T/sample.conf"
chmod 600 "$T/sample.conf"       # it holds `secret key`: owner only, or rbd2s3 refuses it
check "uncommented sample has [pool:] sections and window keys" \
    test "$(grep -cE '^(\[pool:|window = )' "$T/sample.conf")" -ge 4
# images = * lists the pool: that needs the cluster; with a missing ceph.conf that is exit
# 9 (cluster unreachable) - anything but 2 means the config parsed.
"$RBD2S3" -c "$T/sample.conf" --ceph-conf "$T/absent.conf" run --dry-run >"$T/x.out" 2>"$T/x.err"
rc=$?
expect_eq "$rc" 9 "sample config, examples uncommented: run --dry-run gets past the config (9: no cluster)"
[ $rc -eq 9 ] || diag "$(cat "$T/x.err")"
# with explicit image lists instead, no cluster is needed: the plan
sed 's/^images = \*$/images = vm0/' "$T/sample.conf" >"$T/listed.conf"
chmod 600 "$T/listed.conf"
"$RBD2S3" -c "$T/listed.conf" run --dry-run >"$T/x.out" 2>"$T/x.err"
expect_eq "$?" 0 "sample config with image lists: run --dry-run exit 0"
expect_eq "$(awk 'NR > 1 && ($2 == "planned" || $2 == "skipped") { print $1 }' "$T/x.out" | paste -sd' ')" \
    "rbd/vm0 rbd/tenant-a/vm1 rbd/tenant-a/vm2" "... plans (or skips, by window) the images it names"
"$RBD2S3" -c "$CONF" --ceph-conf "$T/absent.conf" run --dry-run >"$T/x.out" 2>"$T/x.err"
rc=$?
check "sample config as shipped: run --dry-run says there is no [pool:NAME] section (exit 2)" \
    test $rc = 2 -a -n "$(grep 'no \[pool:NAME\] section' "$T/x.err")"
{ cat "$T/listed.conf"; echo "bogus key = 1"; } >"$T/bad.conf"
"$RBD2S3" -c "$T/bad.conf" run --dry-run >"$T/x.out" 2>"$T/x.err"
expect_eq "$?" 2 "control: an unknown key is exit 2"

# ------------------------------------------------------------------ the man page
silent "groff -man -ww $MAN: no warnings" sh -c 'groff -man -Tutf8 -ww "$1" >/dev/null' sh "$MAN"
if command -v man >/dev/null; then
    silent "man -l $MAN: no warnings" \
        sh -c 'MANWIDTH=80 man -l "$1" >"$2"' sh "$MAN" "$T/man.txt"
else
    skip "man not installed"
fi
missing=""
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS CONFIGURATION "EXIT STATUS" FILES \
         ENVIRONMENT EXAMPLES "SEE ALSO"; do
    grep -qE "^\.SH \"?$s\"?$" "$MAN" || missing+="$s"$'\n'
done
none "man page has every section" "${missing%$'\n'}"
missing=""
for e in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN RBD2S3_CONFIG; do
    grep -qx "\.B $e" "$MAN" || missing+="$e"$'\n'
done
none "man page ENVIRONMENT names the four variables" "${missing%$'\n'}"
# exit codes: README's table and the man page's list, code and first word
readme_codes=$(sed -n 's/^| \([0-9]\{1,2\}\) | \([A-Za-z]*\).*/\1 \2/p' README.md | tr 'A-Z' 'a-z')
man_codes=$(sed -n '/^\.SH "\{0,1\}EXIT STATUS/,/^\.SH [^E]/p' "$MAN" \
    | awk '/^\.B [0-9]+$/ { c = $2; next } c != "" { w = $1; gsub(/[^A-Za-z]/, "", w); print c " " tolower(w); c = "" }')
expect_eq "$man_codes" "$readme_codes" "man page EXIT STATUS matches README's table (codes and meanings)"
expect_eq "$(printf '%s\n' "$readme_codes" | awk '{ print $1 }' | paste -sd' ')" \
    "0 1 2 3 4 5 6 7 8 9 10 11 12" "... codes 0-12"

# the commands and options of --help: in the man page and in README.md
"$RBD2S3" --help >"$T/help.txt" 2>&1
mapfile -t CMDS < <(sed -n '/^commands:/,/^$/p' "$T/help.txt" | sed -nE 's/^  ([a-z][a-z-]*).*/\1/p' | sort -u)
check "--help lists commands (${#CMDS[@]})" test "${#CMDS[@]}" -ge 8
missing=""
for c in "${CMDS[@]}"; do
    grep -qE "^\.BR? \"?${c//-/\\\\-}[\" ]" "$MAN" || missing+="$c"$'\n'
done
none "every command of --help has an entry in the man page" "${missing%$'\n'}"
missing=""
for c in "${CMDS[@]}"; do
    grep -qE "^\*\*$c\*\*" README.md || missing+="$c"$'\n'
done
none "every command of --help has an entry (**name**) in README.md" "${missing%$'\n'}"
mapfile -t OPTS < <(grep -oE -- '--[a-z][a-z-]*' "$T/help.txt" | sort -u)
missing=""
for o in "${OPTS[@]}"; do
    grep -qF -- "${o//-/\\-}" "$MAN" || missing+="$o"$'\n'
done
none "every option of --help (${#OPTS[@]}) is in the man page" "${missing%$'\n'}"
check "README documents running from a timer" grep -q '^## Running from a timer' README.md

done_testing
