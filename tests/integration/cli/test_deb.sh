#!/usr/bin/env bash
# test_deb.sh - the Debian package (debian/): `dpkg-buildpackage -us -uc -b` in a copy of
# the checkout's tracked files (none of its build artefacts), once; the .deb's files,
# modes, conffile and Depends; installed into a scratch root (dpkg --root, maintainer
# scripts run with DPKG_ROOT, nothing of the host's dpkg or systemd state touched):
# --version and --help there, `systemd-analyze verify --root` of its units; removed
# (the conffile kept) and purged (nothing left). Needs no sandbox (tap.sh); prints TAP.
# Env: RBD2S3 (the checkout's binary: its --version must be the package's), JOBS.
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
RBD2S3=${RBD2S3:-$REPO/rbd2s3}
. "$REPO/tests/integration/tap.sh"
T=$(mktemp -d /tmp/rbd2s3-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$REPO" || exit 1

for c in dpkg-buildpackage dh dpkg-deb git systemd-analyze systemctl readelf; do
    command -v "$c" >/dev/null && continue
    not_ok "$c is installed (tests/install-deps.sh)"
    done_testing
done

# ------------------------------------------------------------------ one version
VERSION=$(sed -n 's/^AC_INIT(\[rbd2s3\], *\[\([^]]*\)\].*/\1/p' configure.ac)
ARCH=$(dpkg --print-architecture)
check "configure.ac's AC_INIT names a version ($VERSION)" test -n "$VERSION"
expect_eq "$(dpkg-parsechangelog -l debian/changelog -S Version 2>&1)" "$VERSION" \
    "debian/changelog's version is configure.ac's"
if [ -x "$RBD2S3" ]; then
    expect_eq "$("$RBD2S3" --version)" "rbd2s3 $VERSION" "$RBD2S3 --version says it too"
else
    skip "$RBD2S3 not built: its --version not compared"
fi

# ------------------------------------------------------------------ build, once
# The tracked files as they are in the work tree (uncommitted edits included, untracked
# and ignored files not): no configure, Makefile or object of an in-tree build.
SRC=$T/build/rbd2s3-$VERSION
mkdir -p "$SRC"
git ls-files -z -c | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
    | tar --null -T - -cf - | tar -C "$SRC" -xf -
none "the copy holds no build artefact of the checkout" \
    "$(cd "$SRC" && ls -d configure Makefile config.status config.h rbd2s3 agent/*.o 2>/dev/null)"
t0=$SECONDS
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-2}" \
    dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
rc=$?
DEB=$T/build/rbd2s3_${VERSION}_$ARCH.deb
diag "dpkg-buildpackage took $((SECONDS - t0)) s (tests skipped: nocheck; make check runs them)"
if [ $rc -eq 0 ] && [ -f "$DEB" ]; then
    ok "dpkg-buildpackage -us -uc -b builds ${DEB##*/}"
else
    not_ok "dpkg-buildpackage -us -uc -b builds ${DEB##*/}"
    diag "exit code $rc; the end of its log:"
    tail -n 30 "$T/build.log" | sed 's/^/#   /'
    done_testing
fi
none "the build prints no warning" "$(grep -i 'warning:' "$T/build.log")"

# ------------------------------------------------------------------ what the .deb holds
# every file (not directory) with its mode and owner, sorted
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | sort -k3 >"$T/files"
cat >"$T/files.want" <<'EOF'
-rw-r----- root/root ./etc/rbd2s3/rbd2s3.conf
-rw-r--r-- root/root ./lib/systemd/system/rbd2s3.service
-rw-r--r-- root/root ./lib/systemd/system/rbd2s3.timer
-rwxr-xr-x root/root ./usr/bin/rbd2s3
-rw-r--r-- root/root ./usr/share/doc/rbd2s3/README.md.gz
-rw-r--r-- root/root ./usr/share/doc/rbd2s3/changelog.gz
-rw-r--r-- root/root ./usr/share/doc/rbd2s3/copyright
-rw-r--r-- root/root ./usr/share/doc/rbd2s3/examples/lifecycle-example.xml
-rw-r--r-- root/root ./usr/share/man/man8/rbd2s3.8.gz
EOF
none "dpkg-deb -c: exactly these files, modes and owners (the config 0640)" \
    "$(diff "$T/files.want" "$T/files" | sed -n 's/^[<>] //p')"
X=$T/x
dpkg-deb -x "$DEB" "$X"
dpkg-deb -e "$DEB" "$X/DEBIAN"
expect_eq "$(cat "$X/DEBIAN/conffiles")" /etc/rbd2s3/rbd2s3.conf "conffiles: the config only"
check "the config is conf/rbd2s3.conf" cmp "$X/etc/rbd2s3/rbd2s3.conf" conf/rbd2s3.conf
none "... and sets no secret (access key, secret key, passphrase)" \
    "$(grep -nE '^\s*((access|secret)[ _-]key|passphrase)' "$X/etc/rbd2s3/rbd2s3.conf")"
check "the man page is doc/rbd2s3.8" \
    cmp <(zcat "$X/usr/share/man/man8/rbd2s3.8.gz") doc/rbd2s3.8
check "the lifecycle example is conf/lifecycle-example.xml" \
    cmp "$X/usr/share/doc/rbd2s3/examples/lifecycle-example.xml" conf/lifecycle-example.xml
check "the timer is conf/rbd2s3.timer" cmp "$X/lib/systemd/system/rbd2s3.timer" conf/rbd2s3.timer
check "the service is conf/rbd2s3.service with ExecStart=/usr/bin/rbd2s3" \
    cmp "$X/lib/systemd/system/rbd2s3.service" \
        <(sed '/^ExecStart=/s|/usr/local/bin/rbd2s3 |/usr/bin/rbd2s3 |' conf/rbd2s3.service)
expect_eq "$(grep -c '^ExecStart=/usr/bin/rbd2s3 ' "$X/lib/systemd/system/rbd2s3.service")" 2 \
    "... both of its ExecStart lines"
field() { dpkg-deb -f "$DEB" "$1"; }
expect_eq "$(field Package) $(field Version) $(field Architecture)" "rbd2s3 $VERSION $ARCH" \
    "Package, Version, Architecture"
expect_eq "$(field Recommends)" ceph-common "Recommends: ceph-common"
check "a Description" test -n "$(field Description | sed -n 2p)"
DEPENDS=$(field Depends)
diag "Depends: $DEPENDS"
check "Depends: expanded (no \${...} left)" test -n "$DEPENDS" -a "${DEPENDS#*\$\{}" = "$DEPENDS"
mapfile -t DEP_PKGS < <(printf '%s\n' "$DEPENDS" | tr ',' '\n' \
    | sed -E 's/^ *//; s/[ (:].*//' | sort -u)
# each library the binary is linked with (DT_NEEDED) belongs to a package of Depends
pkg_of() { # PATH: the package that ships it (merged /usr: tried with and without /usr)
    local p
    for p in "$1" "${1#/usr}" "/usr$1"; do
        dpkg-query -S "$p" 2>/dev/null | sed -n '1s/[:,].*//p' | grep . && return 0
    done
    echo "?$1"
}
missing=""
while read -r lib; do
    path=$(ldd "$X/usr/bin/rbd2s3" | awk -v l="$lib" '$1 == l { print $3 }')
    pkg=$(pkg_of "$(readlink -f "$path")")
    printf '%s\n' "${DEP_PKGS[@]}" | grep -qx "$pkg" || missing+="$lib ($pkg)"$'\n'
done < <(readelf -d "$X/usr/bin/rbd2s3" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
none "every library the binary needs is in Depends, by its package (dh_shlibdeps)" \
    "${missing%$'\n'}"
for p in librados2 librbd1; do
    check "Depends names $p" grep -qx "$p" <(printf '%s\n' "${DEP_PKGS[@]}")
done
dyn=$(readelf -d "$X/usr/bin/rbd2s3")
check "hardened: PIE, BIND_NOW (hardening=+all)" \
    test -n "$(readelf -h "$X/usr/bin/rbd2s3" | grep 'DYN')" \
        -a -n "$(grep -E 'BIND_NOW|FLAGS_1.*NOW' <<<"$dyn")"

# ------------------------------------------------------------------ install in a scratch root
# dpkg --root: its own status database, logged there too. The maintainer scripts run
# without chroot (the root has no shell), with DPKG_ROOT set: deb-systemd-helper keeps
# its state under it. The scratch database lists the host's packages of Depends
# (the libraries the binary runs with here), so no --force-depends.
S=$T/root
mkdir -p "$S/var/lib/dpkg" "$S/var/log"
STANZA='Package: ${Package}\nStatus: install ok installed\nMaintainer: ${Maintainer}\n'
STANZA+='Architecture: ${Architecture}\nVersion: ${Version}\nDescription: ${binary:Summary}\n\n'
dpkg-query -W -f="$STANZA" "${DEP_PKGS[@]}" >"$S/var/lib/dpkg/status" 2>"$T/query.err"
check "the host has every package of Depends" test ! -s "$T/query.err"
DPKG=(dpkg --root="$S" --log="$S/var/log/dpkg.log" --force-script-chrootless)
[ "$(id -u)" -eq 0 ] || DPKG+=(--force-not-root)
host_state() {  # what of rbd2s3 the host's dpkg and systemd helper know
    dpkg-query -W -f='${db:Status-Abbrev}\n' rbd2s3 2>/dev/null
    ls /var/lib/systemd/deb-systemd-helper-{enabled,masked} 2>/dev/null | grep rbd2s3
    grep -c rbd2s3 /var/log/dpkg.log 2>/dev/null
}
HOST_BEFORE=$(host_state)
check "dpkg --root -i installs it (Depends met, maintainer scripts run)" "${DPKG[@]}" -i "$DEB"
in_root() { dpkg-query --admindir="$S/var/lib/dpkg" "$@"; }
expect_eq "$(in_root -W -f='${db:Status-Abbrev}${Version}' rbd2s3)" "ii $VERSION" \
    "dpkg --root: rbd2s3 $VERSION installed"
expect_eq "$(stat -c '%a %U' "$S/etc/rbd2s3/rbd2s3.conf")" "640 $(id -un)" "the config: 0640"
check "the postinst ran under DPKG_ROOT (deb-systemd-helper's state in the root)" \
    test -e "$S/var/lib/systemd/deb-systemd-helper-enabled/rbd2s3.timer.dsh-also"
none "no unit enabled: no link under etc/systemd" \
    "$(find "$S/etc" -path '*systemd*' 2>/dev/null)"
dsh() { DPKG_ROOT=$S DPKG_MAINTSCRIPT_PACKAGE=rbd2s3 deb-systemd-helper "$@" 2>&1; }
expect_eq "$(dsh is-enabled rbd2s3.timer)" disabled "deb-systemd-helper: the timer is not enabled"
expect_eq "$(host_state)" "$HOST_BEFORE" "the host's dpkg and systemd state know nothing new"

out=$("$S/usr/bin/rbd2s3" --version 2>&1)
expect_eq "$out" "rbd2s3 $VERSION" "installed: usr/bin/rbd2s3 --version"
"$S/usr/bin/rbd2s3" --help >"$T/help" 2>&1
expect_eq "$?" 0 "installed: usr/bin/rbd2s3 --help exits 0"
check "... and shows the usage and the commands" \
    test -n "$(grep '^usage: rbd2s3' "$T/help")" -a -n "$(grep '^commands:' "$T/help")"

# ------------------------------------------------------------------ the units, verified
# systemd-analyze verify --root needs systemd's own units (sysinit.target, timers.target)
# under that root: a copy of the installed root plus the host's unit directory. ExecStart
# is looked up there, the man page of Documentation= in MANPATH.
V=$T/vroot
mkdir -p "$V/usr/lib/systemd"
cp -a "$S/." "$V/" && cp -a /usr/lib/systemd/system "$V/usr/lib/systemd/"
verify() {
    MANPATH="$V/usr/share/man:" systemd-analyze verify --root="$V" rbd2s3.service rbd2s3.timer
}
silent "systemd-analyze verify --root: rbd2s3.service rbd2s3.timer clean" verify
mv "$V/usr/bin/rbd2s3" "$V/usr/bin/rbd2s3.away"
check "control: without usr/bin/rbd2s3 in that root verify fails on ExecStart" \
    grep -q 'Command /usr/bin/rbd2s3 is not executable' <(verify 2>&1)

# ------------------------------------------------------------------ remove, purge
# The admin enables the timer (systemctl --root works offline): removal keeps that
# choice, purge undoes it.
WANTS=./etc/systemd/system/timers.target.wants/rbd2s3.timer
DSH_STATE=./var/lib/systemd/deb-systemd-helper-enabled/rbd2s3.timer.dsh-also
check "systemctl --root enable rbd2s3.timer (as the admin would)" \
    systemctl --root="$S" enable rbd2s3.timer
expect_eq "$(dsh is-enabled rbd2s3.timer)" enabled "deb-systemd-helper: now the timer is enabled"
left() { (cd "$S" && find . -path ./var/lib/dpkg -prune -o -path ./var/log -prune \
    -o ! -type d -print | sort); }
check "dpkg --root -r removes it" "${DPKG[@]}" -r rbd2s3
expect_eq "$(in_root -W -f='${db:Status-Abbrev}' rbd2s3)" "rc " \
    "removed: only its conffile known (rc)"
expect_eq "$(left | paste -sd' ')" \
    "./etc/rbd2s3/rbd2s3.conf $WANTS $DSH_STATE" \
    "removed: left are the conffile, the timer's enablement and its record (until purge)"
check "dpkg --root --purge purges it" "${DPKG[@]}" --purge rbd2s3
check "purged: dpkg knows it no more" \
    test -z "$(in_root -W rbd2s3 2>/dev/null)"
none "purged: no file of it left in the root (the enablement link gone too)" "$(left)"
none "purged: no directory of it left (etc/rbd2s3, usr/share/doc/rbd2s3, lib/systemd)" \
    "$(cd "$S" && ls -d etc/rbd2s3 usr/share/doc/rbd2s3 lib/systemd usr/bin 2>/dev/null)"
expect_eq "$(host_state)" "$HOST_BEFORE" "the host's dpkg and systemd state: still nothing new"

done_testing
