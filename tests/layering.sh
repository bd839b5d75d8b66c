#!/bin/sh
# layering.sh - fail when an #include of agent/, s3/ or rbdio/ crosses the architecture.
# Usage: tests/layering.sh [ROOT]   ROOT: a source tree (default: the one holding this script).
# Prints "layering: FILE:LINE: includes X: RULE" for each violation and exits 1 if any.

# The layers, lowest first: name, rank, folder (or file), what its files may include.
#   self   only its own folder: the leaf libraries, and format/ which is pure (no I/O)
#   down   its own layer and any lower rank (leaf libraries included); never a higher
#          rank, nor another layer of its own rank (the engines backup/ and restore/)
# Whatever the layer, a command's own headers (command/X.h, command/X/*.h) are private to
# command X; every other file reaches the commands through command/command.h only. And a
# header named *_internal.h is private to its own folder.
LAYERS='
s3       0  s3/              self
rbdio    0  rbdio/           self
format   1  agent/format/    self
common   2  agent/common/    down
config   3  agent/config/    down
repo     4  agent/repo/      down
backup   5  agent/backup/    down
restore  5  agent/restore/   down
serve    6  agent/serve/     down
command  7  agent/command/   down
main     8  agent/main.c     down
'
# Headers the build generates, outside the tree; any file may include them.
GENERATED='config.h'
# Known violations waiting for a code move in another branch, one per line:
#   FILE INCLUDED-PATH   (with a comment naming what must move, and where).
# Empty: the tree passes. Remove an entry as soon as its move is merged.
ALLOW='
'

top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" 2>/dev/null || { echo "layering: $top: not a directory" >&2; exit 1; }
sources=$(find agent s3 rbdio -name '*.[ch]' 2>/dev/null | sort)
[ -n "$sources" ] || { echo "layering: $top: no agent/ s3/ rbdio/ sources" >&2; exit 1; }

# awk reads the tree's files (to resolve includes), a line "--", then every include line.
# shellcheck disable=SC2086
{
    find . -name .git -prune -o -type f -print | sed 's|^\./||'
    echo --
    grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' $sources /dev/null
} | awk -v layers="$LAYERS" -v generated="$GENERATED" -v allow="$ALLOW" '
function layer_of(p,    i) {
    for (i = 1; i <= nl; i++)
        if (p == lprefix[i] || (substr(lprefix[i], length(lprefix[i])) == "/" &&
            index(p, lprefix[i]) == 1))
            return i
    return 0
}
# The command a path under agent/command/ belongs to ("command" for the shared command.h).
function unit_of(p,    rest) {
    rest = substr(p, length("agent/command/") + 1)
    if (index(rest, "/")) return substr(rest, 1, index(rest, "/") - 1)
    sub(/\.[ch]$/, "", rest)
    return rest
}
# Folds "." and ".." out of a relative path; "" when it leaves the tree.
function normal(p,    n, a, out, k, i) {
    n = split(p, a, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == "." || a[i] == "") continue
        if (a[i] == "..") { if (k == 0) return ""; k--; continue }
        out[++k] = a[i]
    }
    p = ""
    for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
    return p
}
# Why layer a may not include layer b ("" when it may).
function layer_rule(a, b) {
    if (lname[a] == lname[b]) return ""
    if (lscope[a] == "self") return lname[a] " includes only its own folder " lprefix[a]
    if (lrank[b] > lrank[a])
        return "points up: " lname[a] " (layer " lrank[a] ") may not include " \
            lname[b] " (layer " lrank[b] ")"
    if (lrank[b] == lrank[a])
        return lname[a] " and " lname[b] " are peers: neither includes the other"
    return ""
}
function bad(why) {
    if ((file " " inc) in allowed) return
    printf "layering: %s:%s: includes %s: %s\n", file, line, inc, why
    status = 1
}
BEGIN {
    n = split(layers, rows, "\n")
    for (i = 1; i <= n; i++) {
        if (split(rows[i], c, " ") < 4) continue
        nl++; lname[nl] = c[1]; lrank[nl] = c[2]; lprefix[nl] = c[3]; lscope[nl] = c[4]
    }
    n = split(generated, g, " "); for (i = 1; i <= n; i++) gen[g[i]] = 1
    n = split(allow, rows, "\n")
    for (i = 1; i <= n; i++)
        if (split(rows[i], c, " ") >= 2 && c[1] !~ /^#/) allowed[c[1] " " c[2]] = 1
}
!listed { if ($0 == "--") listed = 1; else exists[$0] = 1; next }
{
    # grep -n output: FILE:LINE:#include "X" (or <X>)
    file = $0; sub(/:.*/, "", file)
    line = substr($0, length(file) + 2); sub(/:.*/, "", line)
    text = substr($0, length(file) + length(line) + 3)
    angle = (text ~ /include[ \t]*</)
    inc = text; sub(/^[^"<]*["<]/, "", inc); sub(/[">].*$/, "", inc)
    if (inc in gen) next
    dir = file; sub(/\/[^\/]*$/, "", dir)
    target = ""
    if (inc !~ /^\//) {
        if (!angle && ((normal(dir "/" inc)) in exists)) target = normal(dir "/" inc)
        else if ((normal(inc)) in exists) target = normal(inc)
    }
    if (target == "") {
        if (!angle) bad("not found in the tree (an include names a file of agent/, s3/, rbdio/)")
        next
    }
    from = layer_of(file); to = layer_of(target)
    if (!from) { bad(file " is in no layer of the rule table in tests/layering.sh"); next }
    if (!to) { bad(target " is in no layer of the rule table in tests/layering.sh"); next }
    why = layer_rule(from, to)
    if (why == "" && lname[to] == "command" && target != "agent/command/command.h" &&
        !(lname[from] == "command" && unit_of(file) == unit_of(target)))
        why = "commands do not include each other (" target " is private to command " \
            unit_of(target) "; others include agent/command/command.h)"
    tdir = target; sub(/\/[^\/]*$/, "", tdir)
    if (why == "" && target ~ /_internal\.h$/ && tdir != dir)
        why = target " is internal to " tdir "/ (others include its public header)"
    if (why != "") bad(why)
}
END { exit status }
' || exit 1
echo "layering: $(echo "$sources" | wc -w) files, no include crosses the layers"
