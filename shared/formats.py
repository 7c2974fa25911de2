"""The artifact format table: per format name, everything the code needs to write and read it back.

One row per ``BACKUP_FORMAT`` value (``ArtifactFormat``): the compression codec (shared.compression),
the object name in the backup folder, the tar member the dump is stored as (None: the compressed
stream is the bare dump), how the pipeline produces it (``HEAD_LAST``: the first bytes hold the dump's size,
so the body is uploaded while the dump runs and the head put in front of it at the end, see
shared/tarball.py; ``SPOOLED``: the size must be known before the upload starts, so the compressed
dump is spooled to disk first, used for ``HEAD_LAST`` formats under a layer; ``STREAMED``: compressed
straight into the upload) and how it is read back (``TAR``: walk a one-member tar; ``PLAIN``: the decompressed
stream is the dump). Configuration validates names against it, the layout names objects from it, the
pipeline picks its producer from it, the manifest records codec and member from it, unpacking picks
its reader from it, and the tests build fixtures from it. The ``kind`` says which artifact of a backup
it is; ``dump`` rows are the ones a user may choose with ``BACKUP_FORMAT``, the ``physical`` row is what
``BACKUP_METHOD=physical`` writes (a ``PLAIN`` read gives the mbstream, for ``mbstream -x``).

How to add an artifact kind (e.g. binlog segments, an accounts sidecar): add a row with its own
``kind`` and artifact name; register its producer in agent/backup/pipeline.py ``PRODUCERS`` under a new
``production`` value if none fits; readers that only decompress need nothing new.

How to add a layer over the stored bytes (e.g. age encryption): add a ``Layer`` to ``LAYERS`` with its
name and file suffix (``.age``). The stored name is the format's name plus each active layer's suffix
in order (``mariadb-ha-backup.tar.gz.age``), and the ``.sha1`` sidecar always hashes the stored
(outermost) bytes; the layer's encoder wraps the upload stream in the pipeline and its decoder wraps
the download before decompression in agent/verify/unpacking.py, looked up by name, never by an if-branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.errors import BadInputError

Production = Literal["head_last", "spooled", "streamed"]
Reading = Literal["tar", "plain"]
HEAD_LAST: Production = "head_last"
SPOOLED: Production = "spooled"
STREAMED: Production = "streamed"
TAR: Reading = "tar"
PLAIN: Reading = "plain"

PHYSICAL_FORMAT = "mbstream.zst"
# The seed's single member path inside mariadb-ha-backup.tar.gz (a contract: users extract it by name).
DUMP_TAR_MEMBER = "mariadb-ha-backup/all-databases-dump.sql"


@dataclass(frozen=True)
class ArtifactFormat:
    name: str  # BACKUP_FORMAT value and the manifest's "format"
    kind: str  # which artifact of a backup: "dump" (mariadb-dump SQL) or "physical" (mariadb-backup's stream)
    codec: str  # shared.compression codec name, recorded as the manifest's "compression"
    artifact_name: str  # object name inside the backup folder, before layer suffixes
    tar_member: str | None  # path of the content inside the tar; None: no tar
    production: Production
    level: int | None = None  # the codec's level for this format; None: the codec's default (shared.compression)

    @property
    def reading(self) -> Reading:
        return TAR if self.tar_member is not None else PLAIN

    def stored_name(self, layers: tuple[Layer, ...] = ()) -> str:
        return self.artifact_name + "".join(layer.suffix for layer in layers)


@dataclass(frozen=True)
class Layer:
    """A transformation of the stored bytes on top of a format (see the module docstring)."""

    name: str  # recorded with the artifact
    suffix: str  # appended to the artifact name


ARTIFACT_FORMATS: dict[str, ArtifactFormat] = {
    f.name: f
    for f in (
        ArtifactFormat("tar.gz", "dump", "gzip", "mariadb-ha-backup.tar.gz", DUMP_TAR_MEMBER, HEAD_LAST),
        ArtifactFormat("sql.gz", "dump", "gzip", "mariadb-ha-backup.sql.gz", None, STREAMED),
        ArtifactFormat("sql.zst", "dump", "zstd", "mariadb-ha-backup.sql.zst", None, STREAMED),
        # mariadb-backup's mbstream (BACKUP_METHOD=physical), read back by ``mbstream -x``. Level 1: InnoDB
        # pages compress ~as well at 1 as at 3 and the copy runs at disk speed, so level 3 would make the
        # compressor the bottleneck (measured in bench/physical.py, docs/PERFORMANCE.md).
        ArtifactFormat(PHYSICAL_FORMAT, "physical", "zstd", "mariadb-ha-backup.mbstream.zst", None, STREAMED,
                       level=1),
    )
}
DEFAULT_DUMP_FORMAT = "tar.gz"
DUMP_FORMATS = tuple(name for name, f in ARTIFACT_FORMATS.items() if f.kind == "dump")
PHYSICAL_FORMATS = tuple(name for name, f in ARTIFACT_FORMATS.items() if f.kind == "physical")
# age encryption (shared.encryption): encoder in agent/backup/pipeline.py, decoder in agent/verify/unpacking.py.
LAYERS: dict[str, Layer] = {layer.name: layer for layer in (Layer("age", ".age"),)}


class UnknownFormatError(BadInputError):
    """A format name (from a manifest or a setting) that this version does not know."""


def layers_named(names: tuple[str, ...] | list[str]) -> tuple[Layer, ...]:
    """The layers recorded in a manifest (or chosen by a setting), in the order they were applied."""
    try:
        return tuple(LAYERS[name] for name in names)
    except KeyError as exc:
        raise UnknownFormatError(f"unknown artifact layer {str(exc)[:40]}: this version knows "
                                 f"{', '.join(LAYERS)}") from None


def artifact_format(name: str) -> ArtifactFormat:
    try:
        return ARTIFACT_FORMATS[name]
    except KeyError:
        raise UnknownFormatError(f"unknown artifact format {name[:40]!r}: this version knows "
                                 f"{', '.join(ARTIFACT_FORMATS)}") from None
