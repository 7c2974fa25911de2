#!/bin/sh
# `mariadb-backup` in the restore Job's agent container: the call runs in the server's own image next
# door (files/remote-mariadb-backup.sh), so --version and --prepare are the server's version. Same
# arguments, stdout, stderr and exit code as running it here.
set -u
d="${CALLS_DIR:?}"
call=$(mktemp -d "$d/call.XXXXXXXX") || exit 1
for arg in "$@"; do printf '%s\n' "$arg"; done > "$call/argv.tmp" && mv "$call/argv.tmp" "$call/argv"
while [ ! -e "$call/exit-code" ]; do sleep 1; done
cat "$call/out" 2>/dev/null
cat "$call/err" >&2 2>/dev/null
rc=$(cat "$call/exit-code")
rm -rf "$call"
exit "$rc"
