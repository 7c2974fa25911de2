# The restore Job's mariadb-backup, in the server's own image (a native sidecar): the agent's restore
# runs `mariadb-backup --version` and `--prepare`, and a prepare must be done by the server's own
# version. The agent's `mariadb-backup` is a shim (files/mariadb-backup-shim.sh) that leaves each call
# in CALLS_DIR/<call>/argv; this loop runs it here (same data volume, same paths, same uid) and leaves
# out, err and exit-code beside it. Only the options a restore uses are accepted. POSIX sh.
set -u
d="${CALLS_DIR:?}"
backup=$(command -v mariadb-backup || command -v mariabackup) || {
  echo "remote mariadb-backup: this image has no mariadb-backup" >&2; exit 1; }
while :; do
  for call in "$d"/call.*; do
    [ -f "$call/argv" ] && [ ! -e "$call/taken" ] || continue
    : > "$call/taken"
    set --
    refused=""
    while IFS= read -r arg || [ -n "$arg" ]; do
      case "$arg" in
        --version|--prepare|--apply-log-only|--target-dir=/*|--incremental-dir=/*|--use-memory=[0-9]*)
          set -- "$@" "$arg" ;;
        *) refused="$arg" ;;
      esac
    done < "$call/argv"
    if [ -n "$refused" ]; then
      echo "remote mariadb-backup: refusing option $refused" > "$call/err"
      rc=2
    else
      "$backup" "$@" > "$call/out" 2> "$call/err"
      rc=$?
    fi
    echo "$rc" > "$call/exit-code.tmp" && mv -f "$call/exit-code.tmp" "$call/exit-code"
  done
  sleep 1
done
