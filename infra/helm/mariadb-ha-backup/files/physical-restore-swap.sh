# The restore Job's second step (templates/physical-restore.yaml), in the server's own image, as the
# data files' owner. RESTORED is the prepared copy the first step left on the same volume; DATADIR is
# the server's datadir, equal to MOUNT (mariadb-operator) or below it (Bitnami). POSIX sh.
set -eu
fail() { echo "restore swap: $*" >&2; exit 1; }
[ -d "$RESTORED" ] || fail "$RESTORED is missing: the restore step did not finish"
previous="$MOUNT/.mariadb-ha-previous-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$DATADIR" "$previous"

# The old data goes aside first (same volume: renames), so the datadir is never half old, half new.
for entry in "$DATADIR"/* "$DATADIR"/.[!.]* "$DATADIR"/..?*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  case "$entry" in "$MOUNT"/.mariadb-ha-*) continue ;; esac
  mv "$entry" "$previous/"
done
for entry in "$RESTORED"/* "$RESTORED"/.[!.]* "$RESTORED"/..?*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  mv "$entry" "$DATADIR/"
done
rmdir "$RESTORED"

# This node starts the new cluster: its Galera state is the backup's (mariadb-backup --galera-info), and
# it is the one safe to bootstrap. The other nodes come up with empty volumes and join it by SST.
info=""
for name in mariadb_backup_galera_info xtrabackup_galera_info; do
  if [ -f "$DATADIR/$name" ]; then info=$(cut -d' ' -f1 < "$DATADIR/$name"); break; fi
done
uuid=${info%%:*}
seqno=${info#*:}
if [ -z "$info" ] || [ "$uuid" = "$info" ]; then
  echo "restore swap: no Galera state in the backup (not taken from a Galera node): seqno -1" >&2
  uuid=00000000-0000-0000-0000-000000000000
  seqno=-1
fi
printf '# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %s\nsafe_to_bootstrap: 1\n' \
  "$uuid" "$seqno" > "$DATADIR/grastate.dat"
rm -f "$DATADIR/gvwstate.dat"

# Kept only on request: beside a datadir that is the volume's root (mariadb-operator) the server would
# list it as a database and an SST would ship it to every joiner. Snapshot the volume to keep it safely.
if [ "${KEEP_PREVIOUS:-false}" = true ]; then
  echo "restore swap: the previous data is in $previous: delete it before the other nodes join" >&2
else
  rm -rf "$previous"
  previous="(deleted)"
fi
echo "restore swap: $DATADIR holds the backup (Galera $uuid:$seqno, safe_to_bootstrap: 1); previous data $previous"
