#!/bin/sh
# layering-selftest.sh - the unit of tests/layering.sh: a clean fixture tree passes, and
# each kind of wrong include, added to a copy of it, fails with its one line.
check=$(cd "$(dirname "$0")" && pwd)/layering.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/layering-selftest.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
cases=0

# put FILE INCLUDE...: writes FILE under the clean tree with one #include line per INCLUDE
# ("<x>" for an angle-bracket include, anything else is quoted).
put() {
    f=$tmp/clean/$1; shift
    mkdir -p "$(dirname "$f")"
    echo "/* $(basename "$f") - fixture */" >"$f"
    for i in "$@"; do
        case $i in
        "<"*) echo "#include $i" >>"$f" ;;
        *) echo "#include \"$i\"" >>"$f" ;;
        esac
    done
}

put s3/s3.h
put s3/s3_internal.h s3/s3.h
put s3/ops.c config.h s3/s3_internal.h "<curl/curl.h>"
put rbdio/rbdio.h
put rbdio/image.c rbdio/rbdio.h "<rbd/librbd.h>"
put agent/format/naming.h "<stddef.h>"
put agent/format/chunk.h agent/format/naming.h
put agent/format/chunk.c chunk.h
put agent/common/context.h config.h s3/s3.h rbdio/rbdio.h agent/format/naming.h
put agent/config/options.h agent/common/context.h
put agent/repo/writer.h agent/common/context.h agent/format/chunk.h
put agent/backup/pipeline.h agent/repo/writer.h
put agent/backup/pipeline.c agent/backup/pipeline.h agent/config/options.h
put agent/restore/apply.h agent/common/context.h
put agent/restore/apply.c agent/restore/apply.h agent/format/chunk.h s3/s3.h
put agent/command/command.h agent/common/context.h
put agent/command/backup.h agent/command/command.h
put agent/command/backup.c agent/command/backup.h agent/backup/pipeline.h agent/repo/writer.h
put agent/command/prune/prune.h agent/command/command.h
put agent/command/prune/prune.c agent/command/prune/prune.h ../command.h
put agent/command/run/run.h agent/command/command.h
put agent/command/run/run.c run.h agent/restore/apply.h
put agent/main.c agent/command/command.h agent/config/options.h "<stdio.h>"

if out=$("$check" "$tmp/clean" 2>&1); then
    echo "ok - clean tree passes"
else
    echo "FAIL - clean tree: $out"
    status=1
fi

# wrong NAME FILE INCLUDE RULE: a copy of the clean tree with INCLUDE added to FILE fails,
# with exactly one line "layering: FILE:LINE: includes INCLUDE: ..." that contains RULE.
wrong() {
    cases=$((cases + 1))
    t=$tmp/case$cases
    cp -R "$tmp/clean" "$t"
    mkdir -p "$(dirname "$t/$2")"
    case $3 in
    "<"*) echo "#include $3" >>"$t/$2" ;;
    *) echo "#include \"$3\"" >>"$t/$2" ;;
    esac
    n=$(wc -l <"$t/$2" | tr -d ' ')
    inc=$(echo "$3" | tr -d '<>')
    out=$("$check" "$t" 2>&1)
    rc=$?
    lines=$(echo "$out" | grep -c '^layering: ')
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] &&
        echo "$out" | grep -qF "layering: $2:$n: includes $inc: " &&
        echo "$out" | grep -qF "$4"; then
        echo "ok - $1 fails: $out"
    else
        echo "FAIL - $1: exit $rc, output: $out"
        status=1
    fi
}

wrong "s3 -> agent" s3/ops.c agent/common/context.h "s3 includes only its own folder"
wrong "s3 -> rbdio" s3/s3.h rbdio/rbdio.h "s3 includes only its own folder"
wrong "rbdio -> s3" rbdio/image.c s3/s3.h "rbdio includes only its own folder"
wrong "rbdio -> agent" rbdio/rbdio.h agent/format/naming.h "rbdio includes only its own"
wrong "format -> common" agent/format/chunk.h agent/common/context.h "format includes only"
wrong "format -> s3" agent/format/naming.h s3/s3.h "format includes only its own folder"
wrong "format -> common by <>" agent/format/chunk.c "<agent/common/context.h>" "format includes"
wrong "common -> repo" agent/common/context.h agent/repo/writer.h "points up: common"
wrong "engine -> command" agent/restore/apply.c agent/command/command.h "points up: restore"
wrong "engine -> command's own" agent/backup/pipeline.c agent/command/prune/prune.h "points up"
wrong "restore -> backup" agent/restore/apply.h agent/backup/pipeline.h "are peers"
wrong "backup -> restore by ../" agent/backup/pipeline.c ../restore/apply.h "are peers"
wrong "command -> another command" agent/command/backup.c agent/command/prune/prune.h \
    "commands do not include each other"
wrong "command/prune -> command/run" agent/command/prune/prune.c agent/command/run/run.h \
    "commands do not include each other"
wrong "command/run -> command/backup.h" agent/command/run/run.c agent/command/backup.h \
    "private to command backup"
wrong "main -> a command's own header" agent/main.c agent/command/prune/prune.h \
    "private to command prune"
wrong "agent -> s3 internals" agent/repo/writer.h s3/s3_internal.h "internal to s3/"
wrong "a folder in no layer" agent/crypto/seal.c agent/format/naming.h "in no layer"
wrong "a file that is not there" agent/repo/writer.h agent/repo/gone.h "not found in the tree"

# The allow-list of the script silences exactly the include it names.
sed "s|^ALLOW='\$|ALLOW='\\
agent/restore/apply.h agent/backup/pipeline.h|" "$check" >"$tmp/allowing.sh"
echo '#include "agent/backup/pipeline.h"' >>"$tmp/clean/agent/restore/apply.h"
if sh "$tmp/allowing.sh" "$tmp/clean" >/dev/null 2>&1; then
    echo "ok - an allow-listed include passes"
else
    echo "FAIL - the allow-list entry did not silence its include"
    status=1
fi
echo '#include "agent/backup/pipeline.h"' >>"$tmp/clean/agent/restore/apply.c"
if sh "$tmp/allowing.sh" "$tmp/clean" >/dev/null 2>&1; then
    echo "FAIL - the allow-list entry silenced another file's include"
    status=1
else
    echo "ok - the allow-list names one file's include only"
fi

[ $status -eq 0 ] && echo "layering-selftest: clean tree, $cases wrong includes, allow-list: ok"
exit $status
