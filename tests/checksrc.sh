#!/bin/sh
# checksrc.sh - fail on banned functions and over-long lines in the C sources.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
status=0
files=$(find agent s3 rbdio tests fuzz -name '*.[ch]' 2>/dev/null | sort)
for f in $files; do
    if grep -nE '(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|strtok|tmpnam|mktemp)[[:space:]]*\(' "$f" \
        | grep -vE '^\S+:\s*(//|/?\*)'; then
        echo "checksrc: $f: banned function (use snprintf, strtol, bounded copies)" >&2
        status=1
    fi
    if awk -v f="$f" 'length($0) > 100 { printf "%s:%d: line longer than 100 characters\n", f, NR; bad=1 } END { exit bad }' "$f"; then :; else
        status=1
    fi
    if grep -nP '\t' "$f" >/dev/null; then
        echo "checksrc: $f: tab characters (indent with 4 spaces)" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "checksrc: $(echo "$files" | wc -w) files clean"
exit $status
